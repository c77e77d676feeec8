"""Gaussian mixtures on data with missing values (NaN): the checks, the mean-imputed rows the
initialisations run on, and the imputations of a fitted mixture. The fit itself is
``models.gaussian``'s (its family's kernels are ``kernels.missing``, which take blocks with or
without NaN)."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa

from spark_em.engine import ops
from spark_em.engine.block import Block
from spark_em.engine.ops import MatrixSummary
from spark_em.errors import InputError
from spark_em.kernels import gaussian, missing
from spark_em.kernels.gaussian import Mixture


def check(summary: MatrixSummary, pairs: list[tuple[int, int]]) -> None:
    """Data with missing values: every column has a value somewhere, and each K is at most
    the number of rows with anything observed."""
    if not summary.has_nan:
        return
    empty = np.flatnonzero(summary.nan_per_column >= summary.n_rows)
    if empty.size:
        raise InputError(
            f"column {int(empty[0]) + 1} has no observed value: every row misses "
            "it; drop the column"
        )
    usable = summary.n_rows - summary.n_nan_rows
    for k, _ in pairs:
        if k > usable:
            raise InputError(
                f"{{param}} {k} is larger than the number of rows with any value "
                f"observed ({usable})",
                param="k",
            )


def mean_imputed(blocks, summary: MatrixSummary):
    """(blocks, summary) with each missing value replaced by its column's mean (weighted by
    the rows' weights when they have them): what the initialisations run on when the data
    hold NaN. The blocks are not cached; they keep their weights."""
    if summary.total_weight is None:
        means = summary.column_means
        column_summary = np.concatenate(
            [
                [summary.column_summary[0] + summary.nan_per_column @ (means * means)],
                summary.n_rows * means,
            ]
        )
    else:

        def sums(block: Block) -> np.ndarray:
            values = np.asarray(block.values, dtype=np.float64)
            seen = ~np.isnan(values)
            x = np.where(seen, values, 0.0)
            w = block.weights
            return np.stack([w @ x, w @ seen, w @ (x * x)])

        weighted, seen_weight, squares = ops.reduce(blocks, sums, np.add)
        means = np.divide(weighted, seen_weight, out=np.zeros_like(weighted), where=seen_weight > 0)
        unseen = summary.total_weight - seen_weight
        column_summary = np.concatenate(
            [[squares.sum() + unseen @ (means * means)], weighted + unseen * means]
        )

    def fill(block: Block) -> Block:
        values = np.asarray(block.values, dtype=np.float64)
        holes = np.isnan(values)
        if not holes.any():
            return block
        return Block(block.offset, np.where(holes, means, values), block.weights)

    filled_summary = MatrixSummary(
        summary.n_rows,
        summary.n_cols,
        summary.n_rows * summary.n_cols,
        column_summary,
        total_weight=summary.total_weight,
        n_weighted_rows=summary.n_weighted_rows,
    )
    return ops.mapped(blocks, fill), filled_summary


def imputed_frame(spark, blocks, mixture: Mixture):
    """A DataFrame ``row long, imputed array<double>``: every row (by its 0-based position)
    with its missing values replaced by E[x_m | x_o] under ``mixture`` (observed values
    kept; a row with nothing observed gets Σ_k w_k μ_k)."""
    prepared = gaussian.prepare(mixture)

    def payload(block: Block) -> bytes:
        out = io.BytesIO()
        np.save(out, np.array([block.offset], dtype=np.int64), allow_pickle=False)
        np.save(out, missing.posterior(block.values, prepared)[2], allow_pickle=False)
        return out.getvalue()

    def rows(batches):
        for batch in batches:
            for value in batch.column(0).to_pylist():
                stream = io.BytesIO(value)
                offset = int(np.load(stream, allow_pickle=False)[0])
                imputed = np.load(stream, allow_pickle=False)
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array(np.arange(offset, offset + len(imputed), dtype=np.int64)),
                        pa.array(list(imputed), type=pa.list_(pa.float64())),
                    ],
                    names=["row", "imputed"],
                )

    return ops.payloads(spark, blocks, payload).mapInArrow(rows, "row long, imputed array<double>")


def imputation_rmse(blocks, mixture: Mixture, gold_blocks) -> float | None:
    """The RMSE of the imputations against ``gold_blocks`` (the complete matrix) over the
    entries that were missing; None when nothing is missing."""
    shapes, gold_shapes = ops.shapes(blocks), ops.shapes(gold_blocks)
    n, d = sum(s[1] for s in shapes), shapes[0][2]
    n_gold, d_gold = sum(s[1] for s in gold_shapes), gold_shapes[0][2]
    if (n, d) != (n_gold, d_gold):
        raise InputError(f"the gold matrix is {n_gold}×{d_gold} but the input is {n}×{d}")
    prepared = gaussian.prepare(mixture)

    def errors(block, gold):
        values = np.asarray(block.values, dtype=np.float64)
        holes = np.isnan(values)
        if not holes.any():
            return np.zeros(2)
        imputed = missing.posterior(values, prepared)[2]
        diff = imputed[holes] - np.asarray(gold, dtype=np.float64)[holes]
        return np.array([diff @ diff, holes.sum()])

    sse, count = sum(ops.paired(blocks, gold_blocks, errors))
    return float(np.sqrt(sse / count)) if count else None
