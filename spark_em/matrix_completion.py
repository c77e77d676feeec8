"""Matrix completion on Spark: the masked spherical mixture fitted by the engine.

The kernels are in ``spark_em.masked``; this module puts them on cached blocks: the course's
reference initialisation computed on the cluster, EM through ``spark_em.engine.run``, several
seeds and K values, the completed matrix and its RMSE against a gold matrix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from spark_em import engine, masked
from spark_em.blocks import Block, aligned, rows_at
from spark_em.errors import InputError


@dataclass
class MaskedRun:
    """One fit: its K, seed, final mixture, log-likelihood, iterations and history."""

    k: int
    seed: int
    mixture: masked.Mixture
    log_likelihood: float
    n_iter: int
    converged: bool
    seconds: float
    history: list[engine.Iteration] = field(default_factory=list)

    def summary(self) -> dict:
        return dict(k=self.k, seed=self.seed, log_likelihood=self.log_likelihood,
                    n_iter=self.n_iter, converged=self.converged, seconds=round(self.seconds, 4))


@dataclass
class MatrixSummary:
    """What one pass learns of the data before any fit: its shape, how much is observed, and
    the sums the reference initialisation needs (``masked.column_summary``)."""

    n_rows: int
    n_cols: int
    n_observed: int
    column_summary: np.ndarray

    @property
    def observed_fraction(self) -> float:
        return self.n_observed / (self.n_rows * self.n_cols)


def summarize(blocks) -> MatrixSummary:
    def stats(block):
        values = block.values
        return np.concatenate([[values.shape[0], np.count_nonzero(values)],
                               masked.column_summary(values)])

    total = blocks.map(stats).treeReduce(np.add)
    return MatrixSummary(int(total[0]), total.size - 3, int(total[1]), total[2:])


def reference_init(blocks, k: int, seed: int, summary: MatrixSummary) -> masked.Mixture:
    """The course's ``common.init(X, K, seed)`` on the cluster: the K mean rows fetched by
    global index, the variances from the data's summary. X never reaches the driver."""
    if k < 1:
        raise InputError(f"--k must be at least 1, got {k}")
    if k > summary.n_rows:
        raise InputError(f"--k {k} is larger than the number of rows ({summary.n_rows})")
    mu = rows_at(blocks, masked.reference_rows(summary.n_rows, k, seed)).astype(np.float64)
    var = masked.init_variances(summary.column_summary, summary.n_rows, mu)
    return masked.Mixture(mu, var, np.full(k, 1.0 / k))


def fit(blocks, k: int, seed: int, tol: float = engine.DEFAULT_TOL,
        max_iter: int = engine.DEFAULT_MAX_ITER, min_variance: float = masked.MIN_VARIANCE,
        on_iteration: Callable[[engine.Iteration], None] | None = None,
        summary: MatrixSummary | None = None) -> MaskedRun:
    """EM from the reference initialisation until the relative rule (or ``max_iter``)."""
    start = time.perf_counter()
    mixture = reference_init(blocks, k, seed, summary or summarize(blocks))
    result = engine.run(
        blocks, mixture, masked.block_stats, masked.add_stats,
        lambda stats, mix: masked.update(stats, mix.mu, min_variance),
        tol=tol, max_iter=max_iter, on_iteration=on_iteration,
    )
    return MaskedRun(k, seed, result.params, result.log_likelihood, result.n_iter,
                     result.converged, time.perf_counter() - start, result.history)


def fit_all(blocks, ks: Iterable[int], seeds: Iterable[int],
            on_run_iteration: Callable | None = None, summary: MatrixSummary | None = None,
            **options) -> list[MaskedRun]:
    """One run per (K, seed), in that order; ``on_run_iteration(k, seed, it)`` reports progress."""
    summary = summary or summarize(blocks)
    runs = []
    for k in ks:
        for seed in seeds:
            report = (lambda it, k=k, seed=seed: on_run_iteration(k, seed, it)) if on_run_iteration else None
            runs.append(fit(blocks, k, seed, on_iteration=report, summary=summary, **options))
    return runs


def best(runs: list[MaskedRun]) -> MaskedRun:
    """The run with the highest log-likelihood (the first such, in run order)."""
    return max(runs, key=lambda r: r.log_likelihood)


def completed(blocks, mixture: masked.Mixture):
    """Blocks of X_pred: observed entries kept, missing ones filled by equation (6)."""
    return blocks.map(lambda b: Block(b.offset, masked.complete(b.values, mixture)))


def rmse(blocks, mixture: masked.Mixture, gold_blocks) -> tuple[float, float]:
    """RMSE of the completion against ``gold`` over all entries and over the missing ones."""
    shapes = blocks.map(lambda b: b.values.shape).collect()
    gold_shapes = gold_blocks.map(lambda b: b.values.shape).collect()
    n, d = sum(s[0] for s in shapes), shapes[0][1]
    n_gold, d_gold = sum(s[0] for s in gold_shapes), gold_shapes[0][1]
    if (n, d) != (n_gold, d_gold):
        raise InputError(f"the gold matrix is {n_gold}×{d_gold} but the input is {n}×{d}")

    def errors(pair):
        block, gold = pair
        return masked.squared_errors(block.values, masked.complete(block.values, mixture), gold)

    return masked.rmse_from_errors(aligned(blocks, gold_blocks).map(errors).reduce(np.add))


def iter_completed(blocks, mixture: masked.Mixture) -> Iterator[Block]:
    """Completed blocks streamed to the driver one partition at a time, in row order."""
    return completed(blocks, mixture).toLocalIterator()
