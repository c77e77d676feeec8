"""Matrix completion: the masked spherical mixture fitted by the loop on cached blocks.

The kernels are in ``spark_em.kernels.masked``; this module puts them on cached blocks: the
course's reference initialisation computed on the cluster, EM through the loop for several
seeds and K values at once, the completed matrix and its RMSE against a gold matrix, and the
model's JSON form (``model.json``) written and read back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spark_em.engine import ops
from spark_em.engine.block import Block
from spark_em.engine.checkpoint import Checkpoint, data_fingerprint
from spark_em.engine.loop import (
    DEFAULT_MAX_ITER,
    DEFAULT_TOL,
    Family,
    relative_rule,
)
from spark_em.engine.ops import MatrixSummary, summarize
from spark_em.errors import InputError
from spark_em.kernels import masked
from spark_em.kernels.masked import SphericalMixture
from spark_em.models import codec, selection
from spark_em.models.fitting import Run, fit_starts, starts_of
from spark_em.models.reference import reference_starts

INIT = "reference"


NAME = "masked"


@dataclass(kw_only=True)
class MaskedRun(Run):
    """A fit of the masked mixture: its final mixture (``mixture``) and the log-likelihood of
    its last E-step (``log_likelihood``, the objective)."""

    @property
    def mixture(self) -> SphericalMixture:
        return self.params

    @property
    def log_likelihood(self) -> float:
        return self.objective

    def summary(self) -> dict:
        """What the job's metrics hold of the run."""
        return dict(
            k=self.k,
            seed=self.seed,
            log_likelihood=self.log_likelihood,
            n_iter=self.n_iter,
            converged=self.converged,
            seconds=round(self.seconds, 4),
        )


def family(tol: float = DEFAULT_TOL, min_variance: float = masked.MIN_VARIANCE) -> Family:
    """EM for the masked mixture as the loop runs it: the relative rule on the log-likelihood,
    all starts' statistics computed together (``block_stats_many``)."""
    return Family(
        NAME,
        masked.block_stats,
        lambda stats, mix: (masked.update(stats, mix.means, min_variance), stats.log_likelihood),
        converged=relative_rule(tol),
        block_stats_many=masked.block_stats_many,
        encode=codec.encode_masked,
        decode=codec.decode_masked,
    )


def reference_mixtures(
    blocks,
    pairs: list[tuple[int, int]],
    summary: MatrixSummary,
    min_variance: float = masked.MIN_VARIANCE,
) -> list[SphericalMixture]:
    """The course's ``common.init`` for each (K, seed): reference means and variances, uniform
    weights. The variances are floored at ``min_variance`` like every later one (this only
    matters for degenerate data, where they would be 0)."""
    if summary.n_observed == 0:
        raise InputError("the matrix has no observed (non-zero) entries")
    return [
        SphericalMixture(
            weights=np.full(len(mu), 1.0 / len(mu)),
            means=mu,
            variances=np.maximum(var, min_variance),
        )
        for mu, var in reference_starts(blocks, pairs, summary)
    ]


def checkpoint_for(directory, summary: MatrixSummary, **options) -> Checkpoint:
    """A ``Checkpoint`` of masked fits on this data with these options."""
    return Checkpoint(directory, {"model": NAME, **data_fingerprint(summary), **options})


def fit_all(
    blocks,
    ks: Iterable[int],
    seeds: Iterable[int],
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
    min_variance: float = masked.MIN_VARIANCE,
    on_run_iteration: Callable | None = None,
    summary: MatrixSummary | None = None,
    checkpoint: Checkpoint | None = None,
    resume: bool = False,
) -> list[MaskedRun]:
    """EM from the reference initialisation for every (K, seed), in that order, all starts in
    the same passes over the data; ``on_run_iteration(k, seed, record)`` reports progress.

    A run's ``seconds`` add up the passes it took part in (shared with the other starts).
    With a ``checkpoint`` (``checkpoint_for``) the state is saved after every pass, and
    ``resume`` continues from the saved state instead of starting over."""
    summary = summary or summarize(blocks)
    starts = starts_of(ks, seeds)
    mixtures = reference_mixtures(blocks, [(s.k, s.seed) for s in starts], summary, min_variance)
    report = (
        (lambda s, record, _new: on_run_iteration(s.k, s.seed, record))
        if on_run_iteration
        else None
    )
    runs = fit_starts(
        blocks,
        family(tol, min_variance),
        starts,
        mixtures,
        max_iter,
        on_iteration=report,
        checkpoint=checkpoint,
        resume=resume,
    )
    return [MaskedRun(**run.shared()) for run in runs]


def fit(blocks, k: int, seed: int, **options) -> MaskedRun:
    """EM from the reference initialisation until the relative rule (or ``max_iter``);
    options as for ``fit_all``."""
    return fit_all(blocks, [k], [seed], **options)[0]


def best(runs: list[MaskedRun]) -> MaskedRun:
    """The run with the highest log-likelihood (the first such, in run order)."""
    return selection.best(runs)


def best_per_k(runs: list[MaskedRun]) -> dict[int, MaskedRun]:
    """The best run of each K, in the order the K first appear."""
    return selection.best_per(runs, lambda r: r.k)


def scored(blocks, mixture: SphericalMixture, seed: int = 0) -> MaskedRun:
    """A given mixture as a run of no iterations whose log-likelihood is the data's under it
    (one pass)."""
    start = time.perf_counter()
    stats = ops.aggregate(blocks, masked.block_stats, family().add, mixture)
    return MaskedRun(
        k=len(mixture.means),
        seed=seed,
        params=mixture,
        objective=stats.log_likelihood,
        n_iter=0,
        converged=True,
        seconds=time.perf_counter() - start,
    )


def completed(blocks, mixture: SphericalMixture):
    """Blocks of X_pred: observed entries kept, missing ones filled by equation (6)."""
    return ops.mapped(blocks, lambda b: Block(b.offset, masked.complete(b.values, mixture)))


def iter_completed(blocks, mixture: SphericalMixture) -> Iterator[Block]:
    """Completed blocks streamed to the driver one partition at a time, in row order."""
    return ops.iterate(completed(blocks, mixture))


def rmse(blocks, mixture: SphericalMixture, gold_blocks) -> tuple[float, float]:
    """RMSE of the completion against ``gold`` over all entries and over the missing ones."""
    shapes, gold_shapes = ops.shapes(blocks), ops.shapes(gold_blocks)
    n, d = sum(s[1] for s in shapes), shapes[0][2]
    n_gold, d_gold = sum(s[1] for s in gold_shapes), gold_shapes[0][2]
    if (n, d) != (n_gold, d_gold):
        raise InputError(f"the gold matrix is {n_gold}×{d_gold} but the input is {n}×{d}")

    def errors(block, gold):
        return masked.squared_errors(block.values, masked.complete(block.values, mixture), gold)

    return masked.rmse_from_errors(sum(ops.paired(blocks, gold_blocks, errors)))


# --- the model's JSON form

MODEL_FILE = "model.json"


def model_record(run: MaskedRun, **options) -> dict:
    """What ``model.json`` holds: the mixture, where it started and how the fit went."""
    mix = run.mixture
    encoded = codec.encode_masked(mix)
    return {
        "k": run.k,
        "d": int(mix.means.shape[1]),
        **encoded,
        "init": INIT,
        "seed": run.seed,
        "log_likelihood": run.log_likelihood,
        "n_iter": run.n_iter,
        **options,
    }


def read_model(directory, n_cols: int | None = None) -> tuple[SphericalMixture, int]:
    """(mixture, seed) of the ``model.json`` in ``directory``, checked (against ``n_cols``
    columns when given)."""
    path = Path(directory) / MODEL_FILE
    try:
        saved = json.loads(path.read_text())
        mixture = codec.decode_masked(saved)
        seed = int(saved.get("seed", 0))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a readable model ({exc})") from None
    problem = masked.mixture_problem(mixture, n_cols)
    if problem:
        raise InputError(f"{path}: the model does not fit: {problem}")
    return mixture, seed
