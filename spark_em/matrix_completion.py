"""Matrix completion on Spark: the masked spherical mixture fitted by the engine.

The kernels are in ``spark_em.masked``; this module puts them on cached blocks: the course's
reference initialisation computed on the cluster, EM through ``spark_em.engine.run``, several
seeds and K values, the completed matrix and its RMSE against a gold matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from spark_em import engine, frames, masked
from spark_em.blocks import Block, MatrixSummary, aligned, rows_at, summarize
from spark_em.blocks import shapes as blocks_shapes
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


def reference_starts(blocks, pairs: list[tuple[int, int]], summary: MatrixSummary
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Means and variances of the course's ``common.init(X, K, seed)`` for each (K, seed), on
    the cluster: the mean rows of every start fetched by global index in one job, and
    σ_j² = mean over all n·d entries of (X − μ_j)² from the data's summary. X never reaches the
    driver."""
    for k, _ in pairs:
        if k < 1:
            raise InputError(f"--k must be at least 1, got {k}")
        if k > summary.n_rows:
            raise InputError(f"--k {k} is larger than the number of rows ({summary.n_rows})")
    chosen = [masked.reference_rows(summary.n_rows, k, seed) for k, seed in pairs]
    rows = rows_at(blocks, np.concatenate(chosen)).astype(np.float64)
    out, at = [], 0
    for index in chosen:
        mu = rows[at:at + len(index)]
        at += len(index)
        out.append((mu, masked.init_variances(summary.column_summary, summary.n_rows, mu)))
    return out


def reference_init(blocks, k: int, seed: int, summary: MatrixSummary,
                   min_variance: float = masked.MIN_VARIANCE) -> masked.Mixture:
    """The course's ``common.init``: reference means and variances, uniform weights."""
    return _reference_mixtures(blocks, [(k, seed)], summary, min_variance)[0]


def _reference_mixtures(blocks, pairs, summary: MatrixSummary, min_variance: float) -> list[masked.Mixture]:
    # The variances are floored at min_variance like every later one (this only matters for
    # degenerate data, where they would be 0).
    if summary.n_observed == 0:
        raise InputError("the matrix has no observed (non-zero) entries")
    return [masked.Mixture(mu, np.maximum(var, min_variance), np.full(len(mu), 1.0 / len(mu)))
            for mu, var in reference_starts(blocks, pairs, summary)]


def encode_mixture(mixture: masked.Mixture) -> dict:
    return {"mu": mixture.mu.tolist(), "var": mixture.var.tolist(), "p": mixture.p.tolist()}


def decode_mixture(saved: dict) -> masked.Mixture:
    return masked.Mixture(*(np.array(saved[name], dtype=np.float64) for name in ("mu", "var", "p")))


def checkpoint_for(directory, summary: MatrixSummary, **options):
    """A ``Checkpoint`` of masked fits on this data with these options."""
    from spark_em.checkpoint import Checkpoint, data_fingerprint

    return Checkpoint(directory, {"model": "masked", **data_fingerprint(summary), **options},
                      encode_mixture, decode_mixture)


def fit_all(blocks, ks: Iterable[int], seeds: Iterable[int], tol: float = engine.DEFAULT_TOL,
            max_iter: int = engine.DEFAULT_MAX_ITER, min_variance: float = masked.MIN_VARIANCE,
            on_run_iteration: Callable | None = None,
            summary: MatrixSummary | None = None, checkpoint=None,
            resume: bool = False) -> list[MaskedRun]:
    """EM from the reference initialisation for every (K, seed), in that order, all starts in
    the same passes over the data; ``on_run_iteration(k, seed, record)`` reports progress.

    A run's ``seconds`` add up the passes it took part in (shared with the other starts).
    With a ``checkpoint`` (``checkpoint_for``) the state is saved after every pass, and
    ``resume`` continues from the saved state instead of starting over."""
    summary = summary or summarize(blocks)
    pairs = [(k, seed) for k in ks for seed in seeds]
    starts = _reference_mixtures(blocks, pairs, summary, min_variance)
    state = checkpoint.load() if checkpoint is not None and resume else None
    results = engine.run_many(
        blocks, starts, masked.block_stats, masked.add_stats,
        lambda stats, mix: (masked.update(stats, mix.mu, min_variance), stats.log_likelihood),
        converged=engine.relative_rule(tol), max_iter=max_iter,
        on_iteration=(lambda i, record, _new: on_run_iteration(*pairs[i], record))
        if on_run_iteration else None, block_stats_many=masked.block_stats_many,
        resume=state, on_pass=checkpoint.save if checkpoint is not None else None)
    return [MaskedRun(k, seed, r.params, r.objective, r.n_iter, r.converged,
                      sum(h.seconds for h in r.history), r.history)
            for (k, seed), r in zip(pairs, results)]


def fit(blocks, k: int, seed: int, **options) -> MaskedRun:
    """EM from the reference initialisation until the relative rule (or ``max_iter``);
    options as for ``fit_all``."""
    return fit_all(blocks, [k], [seed], **options)[0]


def best(runs: list[MaskedRun]) -> MaskedRun:
    """The run with the highest log-likelihood (the first such, in run order)."""
    return max(runs, key=lambda r: r.log_likelihood)


def completed(blocks, mixture: masked.Mixture):
    """Blocks of X_pred: observed entries kept, missing ones filled by equation (6)."""
    def complete(b: Block) -> Block:
        return Block(b.offset, masked.complete(b.values, mixture))

    return frames.mapped(blocks, complete) if frames.is_frame(blocks) else blocks.map(complete)


def rmse(blocks, mixture: masked.Mixture, gold_blocks) -> tuple[float, float]:
    """RMSE of the completion against ``gold`` over all entries and over the missing ones."""
    shapes, gold_shapes = blocks_shapes(blocks), blocks_shapes(gold_blocks)
    n, d = sum(s[1] for s in shapes), shapes[0][2]
    n_gold, d_gold = sum(s[1] for s in gold_shapes), gold_shapes[0][2]
    if (n, d) != (n_gold, d_gold):
        raise InputError(f"the gold matrix is {n_gold}×{d_gold} but the input is {n}×{d}")

    def errors(block, gold):
        return masked.squared_errors(block.values, masked.complete(block.values, mixture), gold)

    if frames.is_frame(blocks):
        return masked.rmse_from_errors(sum(frames.paired(blocks, gold_blocks, errors)))
    return masked.rmse_from_errors(aligned(blocks, gold_blocks).map(lambda p: errors(*p)).reduce(np.add))


def iter_completed(blocks, mixture: masked.Mixture) -> Iterator[Block]:
    """Completed blocks streamed to the driver one partition at a time, in row order."""
    if frames.is_frame(blocks):
        rows = completed(blocks, mixture).orderBy("offset").toLocalIterator()
        return (Block(r.offset, frames.unpack(r.kind, r.payload)) for r in rows)
    return completed(blocks, mixture).toLocalIterator()
