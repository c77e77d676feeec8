"""Rows on Spark: an RDD of ``Block`` records, each a numpy array of many rows.

A block knows the global index of its first row (``offset``), so rows can be fetched by index
and results returned in input order. Values are kept in the smallest dtype that holds them
exactly (ratings 0–5 fit in ``uint8``), which is what the cache stores and what every pass
moves from the JVM to the Python workers; kernels convert to float64 themselves.

A block's values are a dense array or, for sparse ratings, a scipy.sparse CSR array of the
observed entries (``sparse_values``); ``dense`` turns either into a dense float64 array.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, NamedTuple

import numpy as np
from scipy import sparse

DEFAULT_BLOCK_ROWS = 4096


class Block(NamedTuple):
    offset: int
    values: np.ndarray


def compact(values: np.ndarray) -> np.ndarray:
    """The same numbers in uint8, float32 or float64: the smallest that holds them exactly."""
    values = np.asarray(values)
    if values.dtype == np.uint8:
        return values
    if np.issubdtype(values.dtype, np.integer) and values.size and np.abs(values).max() > 2**53:
        raise ValueError("integer values above 2**53 cannot be held exactly as numbers here")
    as_float = values.astype(np.float64, copy=False)
    in_byte_range = values.size and 0 <= as_float.min() and as_float.max() <= 255
    for dtype in ((np.uint8, np.float32) if in_byte_range else (np.float32,)):
        with np.errstate(invalid="ignore", over="ignore"):
            candidate = as_float.astype(dtype)
        if np.array_equal(candidate.astype(np.float64), as_float):
            return candidate
    return np.ascontiguousarray(as_float)


def sparse_values(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]):
    """A CSR block from (row, column, value) triples with distinct positions, values compacted
    and indices in int32."""
    index = np.int32 if max(shape[1], len(values)) < 2**31 else np.int64
    matrix = sparse.csr_array((compact(values), (np.asarray(rows, dtype=index),
                                                  np.asarray(cols, dtype=index))), shape=shape)
    matrix.sort_indices()
    return matrix


def dense(values) -> np.ndarray:
    """A block's values as a dense float64 array (0 = missing), whichever form they are in."""
    if sparse.issparse(values):
        return values.toarray().astype(np.float64)
    return np.asarray(values, dtype=np.float64)


def split_rows(values: np.ndarray, block_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """(local start, rows) pieces of at most ``block_rows`` rows."""
    for start in range(0, values.shape[0], block_rows):
        yield start, compact(values[start : start + block_rows])


def from_array(sc, X: np.ndarray, num_partitions: int | None = None,
               block_rows: int = DEFAULT_BLOCK_ROWS):
    """Blocks from an in-memory array (small data, tests): cut on the driver, then cached."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"expected a non-empty 2-D array, got shape {X.shape}")
    num_partitions = num_partitions or sc.defaultParallelism
    step = min(block_rows, max(1, -(-X.shape[0] // num_partitions)))
    blocks = [Block(start, piece) for start, piece in split_rows(X, step)]
    return sc.parallelize(blocks, min(num_partitions, len(blocks))).cache()


def generated(spark, keys: list[int], make, num_partitions: int | None = None,
              backend: str | None = None):
    """Cached blocks made on the executors, ``make(key)`` (a list of ``Block``) for each key,
    on the backend ``frames.backend_for(spark, backend)`` chooses."""
    from spark_em import frames

    partitions = min(len(keys), num_partitions or frames.default_parallelism(spark))
    if frames.backend_for(spark, backend) == "dataframe":
        return frames.generated(spark, keys, make, partitions)
    blocks = frames.context_of(spark).parallelize(keys, partitions).flatMap(make).cache()
    blocks.count()
    return blocks


def with_offsets(local_blocks, rows_per_partition: list[int]):
    """Turn partition-local blocks ``(partition, local_start, rows)`` into global ``Block``s.

    ``rows_per_partition`` holds each partition's row count, so a partition's first row is the
    sum of the counts before it.
    """
    starts = np.concatenate([[0], np.cumsum(rows_per_partition)[:-1]]).astype(int).tolist()

    def place(records: Iterable) -> Iterator[Block]:
        for partition, local_start, rows in records:
            yield Block(starts[partition] + local_start, rows)

    return local_blocks.mapPartitions(place, preservesPartitioning=True)


def rows_at(blocks, indices) -> np.ndarray:
    """The rows with the given global indices, in the order asked (only those travel)."""
    wanted = np.asarray(indices, dtype=np.int64)

    def pick(block: Block):
        local = wanted - block.offset
        hit = np.flatnonzero((local >= 0) & (local < block.values.shape[0]))
        return [(int(i), dense(block.values[local[i]:local[i] + 1])[0]) for i in hit]

    from spark_em import frames

    found = dict(pair for picked in frames.map_blocks(blocks, pick) for pair in picked)
    missing = [int(wanted[i]) for i in range(len(wanted)) if i not in found]
    if missing:
        raise IndexError(f"rows {missing} are not in the data")
    return np.stack([found[i] for i in range(len(wanted))])


def to_local(blocks) -> np.ndarray:
    """All rows on the driver, in input order (for small results only)."""
    from spark_em import frames

    pieces = sorted(frames.map_blocks(blocks, lambda b: b), key=lambda b: b.offset)
    if any(sparse.issparse(b.values) for b in pieces):
        return np.concatenate([dense(b.values) for b in pieces])
    return np.concatenate([b.values for b in pieces]) if pieces else np.empty((0, 0))


def shapes(blocks) -> list[tuple[int, int, int]]:
    """(offset, rows, columns) of every block, in row order, on either backend."""
    from spark_em import frames

    def shape(b: Block) -> tuple[int, int, int]:
        return b.offset, *b.values.shape

    return sorted(frames.map_blocks(blocks, shape))


def cutter(blocks):
    """``cut(block)``: the pieces of another block of rows that fall in each block of
    ``blocks``, as (that block's offset, (first row, rows))."""
    ranges = [(offset, rows) for offset, rows, _ in shapes(blocks)]
    starts = np.array([r[0] for r in ranges])

    def cut(block: Block):
        pieces, lo, hi = [], block.offset, block.offset + block.values.shape[0]
        i = int(np.searchsorted(starts, lo, side="right")) - 1
        while lo < hi and 0 <= i < len(ranges):
            start, rows = ranges[i]
            end = min(hi, start + rows)
            pieces.append((start, (lo, block.values[lo - block.offset:end - block.offset])))
            lo, i = end, i + 1
        return pieces

    return cut


def joined(block: Block, pieces: list) -> tuple[Block, np.ndarray]:
    """``block`` with the rows of the (first row, rows) ``pieces`` cut to meet it."""
    parts = [v for _, v in sorted(pieces, key=lambda p: p[0])]
    rows = sparse.vstack(parts, format="csr") if sparse.issparse(parts[0]) else np.concatenate(parts)
    if rows.shape[0] != block.values.shape[0]:
        raise ValueError(f"rows {block.offset}+: {rows.shape[0]} rows to pair with "
                         f"{block.values.shape[0]}; the two matrices differ in length")
    return block, rows


def aligned(blocks, other):
    """Pairs ``(block, other_values)``: the rows of ``other`` cut to each block's row range.

    The two RDDs may be blocked and partitioned differently; ``other`` is cut and shuffled to
    meet ``blocks`` (one shuffle). Both must hold the same number of rows.
    """
    grouped = other.flatMap(cutter(blocks)).groupByKey()
    return blocks.map(lambda b: (b.offset, b)).join(grouped).values().map(lambda p: joined(*p))


def column_summary(values: np.ndarray) -> np.ndarray:
    """[Σ x² over all entries, then Σ_u x_ui for each column i] of a block."""
    if sparse.issparse(values):
        data = values.data.astype(np.float64)
        col_sums = np.bincount(values.indices, weights=data, minlength=values.shape[1])
        return np.concatenate([[data @ data], col_sums])
    values = np.asarray(values, dtype=np.float64)
    return np.concatenate([[np.einsum("ij,ij->", values, values)], values.sum(axis=0)])


@dataclass
class MatrixSummary:
    """What one pass learns of the data before any fit: its shape, how much is observed, and
    the sums the reference initialisation needs (``column_summary``)."""

    n_rows: int
    n_cols: int
    n_observed: int
    column_summary: np.ndarray
    n_empty_rows: int = 0  # rows with no observed entry

    @property
    def observed_fraction(self) -> float:
        return self.n_observed / (self.n_rows * self.n_cols)


def summarize(blocks) -> MatrixSummary:
    def stats(block):
        values = block.values
        if sparse.issparse(values):
            per_row = np.diff(values.indptr)
        else:
            per_row = np.count_nonzero(values, axis=1)
        return np.concatenate([[values.shape[0], per_row.sum(), (per_row == 0).sum()],
                               column_summary(values)])

    from spark_em import frames

    total = frames.reduce_blocks(blocks, stats, np.add)
    return MatrixSummary(int(total[0]), total.size - 4, int(total[1]), total[3:], int(total[2]))


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def row_uniforms(seed: int, draw: int, rows: np.ndarray) -> np.ndarray:
    """A uniform number in (0, 1) for each global row index: splitmix64 of (seed, draw, row)."""
    with np.errstate(over="ignore"):
        z = (np.asarray(rows, dtype=np.uint64) * _GOLDEN
             + np.uint64((seed * 0x632BE59BD9B4E019 + draw * 0x85EBCA77C2B2AE63) % 2**64))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53


SAMPLE_STREAM = 2**31 - 1  # a draw number apart from those of the initialisations


def sample_mask(block: Block, fraction: float, seed: int = 0) -> np.ndarray:
    """Which rows of a block fall in a uniform ``fraction`` sample: a hash of (seed, row index),
    so the sample is the same for any partitioning and independent of how the data were drawn."""
    index = block.offset + np.arange(block.values.shape[0])
    return row_uniforms(seed, SAMPLE_STREAM, index) < fraction


def sample_rows(blocks, n_rows_wanted: int, total_rows: int, seed: int = 0) -> np.ndarray:
    """About ``n_rows_wanted`` rows drawn uniformly (for plots and local fits), as float64."""
    fraction = min(1.0, n_rows_wanted / max(total_rows, 1))
    from spark_em import frames

    def sampled(b: Block) -> np.ndarray:
        return np.asarray(b.values[sample_mask(b, fraction, seed)], dtype=np.float64)

    pieces = frames.map_blocks(blocks, sampled)
    pieces = [p for p in pieces if p.size]
    return np.concatenate(pieces) if pieces else np.empty((0, 0))
