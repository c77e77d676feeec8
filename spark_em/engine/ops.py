"""Operations on blocks that work the same on either backend: the one door through which the
loaders, the models and the front ends reach the data.

Each function finds the backend that holds its blocks (``backend_of``) and lets it do the
work; nothing here or above asks which backend that is. Blocks are made from an in-memory
array (``from_array``) or on the executors (``generated``); passes sum (``aggregate``,
``reduce``), gather (``collect``), map (``mapped``) or pair two matrices blocked differently
(``paired``); and a few small results come back to the driver (``rows_at``, ``to_local``,
``summarize``, ``sample_rows``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from spark_em.engine.backend import backend_for, backend_of, default_parallelism
from spark_em.engine.block import DEFAULT_BLOCK_ROWS, Block
from spark_em.engine.held import carried, free
from spark_em.errors import InputError, executor_errors
from spark_em.kernels.arrays import (
    column_summary,
    dense,
    out_of_range,
    row_uniforms,
    value_problem,
)


@executor_errors()
def from_array(
    spark,
    X: np.ndarray,
    num_partitions: int | None = None,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    backend: str | None = None,
    weights: np.ndarray | None = None,
):
    """Cached blocks from an in-memory array (small data, tests), cut on the driver, on the
    backend ``backend_for(spark, backend)`` chooses; ``num_partitions`` defaults to the
    cluster's parallelism. ``weights``: each row's weight (refused, naming the row, when
    ``weight_problem`` finds one). A value that is infinite or too large for the passes is
    refused, naming its row and column (NaN marks a missing value).

    Parameters
    ----------
    spark : SparkSession or SparkContext
        The session (classic or Spark Connect), or a classic session's context.
    X : numpy.ndarray or scipy.sparse matrix
        The rows, n × d: finite numbers, NaN where a value is missing.
    num_partitions : int, optional
        How many partitions; by default the cluster's default parallelism.
    block_rows : int, default 4096
        Rows per block.
    backend : {"rdd", "dataframe"}, optional
        Where the blocks live; by default what the session allows (RDD blocks in a classic
        session, the DataFrame backend under Spark Connect).
    weights : numpy.ndarray, optional
        Each row's weight (n numbers, finite and >= 0); by default every row weighs 1.

    Returns
    -------
    blocks
        The cached blocks: an RDD of ``engine.block.Block`` on the RDD backend, a DataFrame
        of blocks on the DataFrame backend. The models' fits and ``engine.ops`` take them;
        ``ops.release(blocks)`` frees them.

    Examples
    --------
    >>> import numpy as np
    >>> from spark_em import from_array, get_spark, summarize
    >>> spark = get_spark()
    >>> blocks = from_array(spark, np.random.default_rng(0).normal(size=(1000, 3)))
    >>> summarize(blocks).n_rows
    1000
    """
    chosen = backend_for(spark, backend)
    if not sparse.issparse(X):
        bad = out_of_range(X)
        if bad.any():
            row, col = (int(i[0]) for i in np.nonzero(bad))
            raise InputError(
                f"row {row + 1} column {col + 1}: {value_problem(np.asarray(X)[row, col])}"
            )
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (np.shape(X)[0],):
            raise InputError(
                f"{{param}} must hold one number per row ({np.shape(X)[0]}), got "
                f"shape {weights.shape}",
                param="weights",
            )
        problem = weight_problem(weights)
        if problem is not None:
            raise InputError(f"row {problem[0] + 1}: {problem[1]}")
    return chosen.from_array(
        spark, X, num_partitions or default_parallelism(spark), block_rows, weights
    )


def weight_problem(weights: np.ndarray) -> tuple[int, str] | None:
    """(first row, what is wrong) when a weight is negative, NaN, infinite or too large; else
    None."""
    bad = out_of_range(weights) | np.isnan(weights) | (weights < 0)
    if not bad.any():
        return None
    row = int(np.flatnonzero(bad)[0])
    if np.isfinite(weights[row]) and weights[row] > 0:
        return row, f"weight {value_problem(weights[row])}"
    return row, f"weight {weights[row]} is not a finite number >= 0"


@executor_errors()
def release(blocks) -> None:
    """Free the cached ``blocks`` on every executor before returning (a fit ends leaving the
    executors' storage as it found it)."""
    free(blocks, True)


def cached(blocks):
    """``blocks`` (made by ``mapped``, say) kept on the executors."""
    return backend_of(blocks).cached(blocks)


@executor_errors()
def generated(
    spark,
    keys: list[int],
    make: Callable,
    num_partitions: int | None = None,
    backend: str | None = None,
):
    """Cached blocks made on the executors, ``make(key)`` (a list of ``Block``) for each key,
    on the backend ``backend_for(spark, backend)`` chooses."""
    partitions = min(len(keys), num_partitions or default_parallelism(spark))
    return backend_for(spark, backend).generated(spark, keys, make, partitions)


@executor_errors()
def aggregate(blocks, block_stats: Callable, add: Callable, params: Any):
    """Σ over blocks of ``block_stats(block.values, params)``: one Spark job. ``params`` go to
    the executors once per pass."""
    return backend_of(blocks).aggregate(blocks, block_stats, add, params)


@executor_errors()
def reduce(blocks, fn: Callable, combine: Callable):
    """``combine`` over ``fn(block)`` of every block (``combine`` associative)."""
    return backend_of(blocks).reduce(blocks, fn, combine)


@executor_errors()
def collect(blocks, fn: Callable) -> list:
    """``fn(block)`` for every block, gathered on the driver."""
    return backend_of(blocks).collect(blocks, fn)


def mapped(blocks, fn: Callable):
    """New blocks ``fn(block)`` (a ``Block``) for every block, not cached."""
    return backend_of(blocks).mapped(blocks, fn)


def iterate(blocks) -> Iterator[Block]:
    """The blocks streamed to the driver one partition at a time, in row order."""
    return backend_of(blocks).iterate(blocks)


def payloads(spark, blocks, fn: Callable):
    """A DataFrame ``payload binary`` of ``fn(block)`` (bytes) for every block."""
    return backend_of(blocks).payloads(spark, blocks, fn)


def shapes(blocks) -> list[tuple[int, int, int]]:
    """(offset, rows, columns) of every block, in row order."""
    return sorted(collect(blocks, lambda b: (b.offset, *b.values.shape)))


@executor_errors()
def paired(blocks, other, fn: Callable) -> list:
    """``fn(block, other_values)`` for every block, with the rows of ``other`` (blocked and
    partitioned differently, perhaps) cut to the block's rows: one shuffle. Both must hold the
    same rows."""
    ranges = [(offset, rows) for offset, rows, _ in shapes(blocks)]
    return backend_of(blocks).paired(blocks, other, ranges, fn)


def rows_at(blocks, indices) -> np.ndarray:
    """The rows with the given global indices, in the order asked (only those travel)."""
    wanted = np.asarray(indices, dtype=np.int64)

    def pick(block: Block):
        local = wanted - block.offset
        hit = np.flatnonzero((local >= 0) & (local < block.values.shape[0]))
        return [(int(i), dense(block.values[local[i] : local[i] + 1])[0]) for i in hit]

    found = dict(pair for picked in collect(blocks, pick) for pair in picked)
    missing = [int(wanted[i]) for i in range(len(wanted)) if i not in found]
    if missing:
        raise IndexError(f"rows {missing} are not in the data")
    return np.stack([found[i] for i in range(len(wanted))])


def local_weights(blocks) -> np.ndarray:
    """Every row's weight on the driver, in input order (1 for rows without one)."""
    pieces = sorted(
        collect(
            blocks,
            lambda b: (b.offset, np.ones(b.values.shape[0]) if b.weights is None else b.weights),
        ),
        key=lambda p: p[0],
    )
    return np.concatenate([w for _, w in pieces]) if pieces else np.empty(0)


def to_local(blocks) -> np.ndarray:
    """All rows on the driver, in input order (for small results only)."""
    pieces = sorted(collect(blocks, lambda b: b), key=lambda b: b.offset)
    if any(sparse.issparse(b.values) for b in pieces):
        return np.concatenate([dense(b.values) for b in pieces])
    return np.concatenate([b.values for b in pieces]) if pieces else np.empty((0, 0))


@dataclass
class MatrixSummary:
    """What one pass learns of the data before any fit: its shape, how much is observed, and
    the sums the reference initialisation needs (``kernels.arrays.column_summary``)."""

    n_rows: int
    n_cols: int
    n_observed: int
    column_summary: np.ndarray  # weighted by the rows' weights when they have them
    n_empty_rows: int = 0  # rows with no observed entry
    # Data read with missing="nan": NaN values per column, and rows that are all NaN. The
    # other counts and sums leave NaN out (as they do 0).
    nan_per_column: np.ndarray | None = None
    n_nan_rows: int = 0
    # Weighted rows: the sum of the weights, and how many rows weigh more than 0 (rows with
    # nothing observed left out).
    total_weight: float | None = None
    n_weighted_rows: int | None = None

    @property
    def observed_fraction(self) -> float:
        return self.n_observed / (self.n_rows * self.n_cols)

    @property
    def has_nan(self) -> bool:
        return self.nan_per_column is not None and bool(self.nan_per_column.any())

    @property
    def weighted(self) -> bool:
        return self.total_weight is not None

    @property
    def n_effective(self) -> float:
        """The sample size the fits count: the sum of the weights, or the rows with a value."""
        if self.total_weight is not None:
            return self.total_weight
        return self.n_rows - self.n_nan_rows

    @property
    def column_means(self) -> np.ndarray:
        """The mean of each column over its values that are not NaN."""
        present: float | np.ndarray
        if self.total_weight is not None:
            present = self.total_weight
        else:
            present = self.n_rows - (0 if self.nan_per_column is None else self.nan_per_column)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.column_summary[1:] / present


SUMMARY = "_spark_em_summary"  # a loader's blocks carry the summary it took on the way in


def summarize(blocks) -> MatrixSummary:
    """The data's ``MatrixSummary`` (0 and NaN count as missing): one pass, or none for blocks
    a loader summed on its way in (``with_summary``).

    Parameters
    ----------
    blocks
        Blocks from a loader or ``from_array``, on either backend.

    Returns
    -------
    MatrixSummary
        Rows (``n_rows``), columns (``n_cols``), observed entries (``n_observed``,
        ``observed_fraction``), empty rows, NaN per column, the sum of the weights, and the
        per-column sums the reference initialisation needs (``column_summary``).

    Examples
    --------
    >>> from spark_em import get_spark, read_matrix, summarize
    >>> data = summarize(read_matrix(get_spark(), "netflix_incomplete.txt"))
    >>> data.n_rows, data.n_cols, data.observed_fraction
    """
    known = carried(blocks, SUMMARY)
    if known is not None:
        return known
    return summary_of(reduce(blocks, block_summary, np.add))


def with_summary(blocks, total: np.ndarray):
    """``blocks``, carrying the summary whose sums (Σ ``block_summary`` over the blocks)
    their loader took while it made them: ``summarize`` then makes no pass."""
    setattr(blocks, SUMMARY, summary_of(total))
    return blocks


def block_summary(block: Block) -> np.ndarray:
    """A block's part of ``summarize``'s sums (added over the blocks, ``summary_of`` reads
    them)."""
    values: Any = block.values  # dense or CSR
    weights = block.weights
    empty: Any = np.zeros(values.shape[0], bool)  # rows with nothing but NaN
    if sparse.issparse(values):
        per_row = np.diff(values.indptr)
        nan_per_column, nan_rows = np.zeros(values.shape[1]), 0
    else:
        nan = np.isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
        if nan.any():
            values = np.where(nan, 0.0, values)
            empty = nan.all(axis=1)
        per_row = np.count_nonzero(values, axis=1)
        nan_per_column, nan_rows = nan.sum(axis=0), int(empty.sum())
    if weights is None:
        weighted, sums = [0.0, 0.0, 0.0], column_summary(values)
    else:  # a row with nothing observed weighs nothing in any fit
        counted = np.where(empty, 0.0, weights)
        weighted = [1.0, float(counted.sum()), float(np.count_nonzero(counted))]
        sums = column_summary(dense(values) * np.sqrt(weights)[:, None])
        sums[1:] = weights @ dense(values)
    return np.concatenate(
        [
            [values.shape[0], per_row.sum(), (per_row == 0).sum(), nan_rows],
            weighted,
            sums,
            nan_per_column,
        ]
    )


def summary_of(total: np.ndarray) -> MatrixSummary:
    """The ``MatrixSummary`` of the sums of ``block_summary`` over every block."""
    d = (total.size - 8) // 2
    nan_per_column = total[8 + d :].astype(np.int64)
    weighted = total[4] > 0
    return MatrixSummary(
        int(total[0]),
        d,
        int(total[1]),
        total[7 : 8 + d],
        int(total[2]),
        nan_per_column if nan_per_column.any() else None,
        int(total[3]),
        float(total[5]) if weighted else None,
        int(total[6]) if weighted else None,
    )


SAMPLE_STREAM = 2**31 - 1  # a draw number apart from those of the initialisations


def sample_mask(block: Block, fraction: float, seed: int = 0) -> np.ndarray:
    """Which rows of a block fall in a uniform ``fraction`` sample: a hash of (seed, row index),
    so the sample is the same for any partitioning and independent of how the data were drawn."""
    index = block.offset + np.arange(block.values.shape[0])
    return row_uniforms(seed, SAMPLE_STREAM, index) < fraction


def sample_rows(blocks, n_rows_wanted: int, total_rows: int, seed: int = 0) -> np.ndarray:
    """About ``n_rows_wanted`` rows drawn uniformly (for plots and local fits), as float64."""
    return sample_weighted_rows(blocks, n_rows_wanted, total_rows, seed)[0]


def sample_weighted_rows(
    blocks, n_rows_wanted: int, total_rows: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``sample_rows`` with each row's weight (1 for rows without one)."""
    fraction = min(1.0, n_rows_wanted / max(total_rows, 1))

    def sampled(b: Block) -> tuple[np.ndarray, np.ndarray]:
        keep = sample_mask(b, fraction, seed)
        weights = np.ones(b.values.shape[0]) if b.weights is None else b.weights
        return np.asarray(dense(b.values[keep]), dtype=np.float64), weights[keep]

    pieces = [p for p in collect(blocks, sampled) if p[0].size]
    if not pieces:
        return np.empty((0, 0)), np.empty(0)
    return np.concatenate([v for v, _ in pieces]), np.concatenate([w for _, w in pieces])


def backend_name(blocks) -> str:
    """``"rdd"`` or ``"dataframe"``: where ``blocks`` live, for reports and notebooks."""
    return backend_of(blocks).name
