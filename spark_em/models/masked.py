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
from spark_em.models.reference import check_k, reference_starts
from spark_em.models.seeding import plus_plus

INIT = "reference"
# reference: the course's start (K data rows, missing entries 0, as means);
# kmeans++: K rows drawn by k-means++ on the observed entries, their missing entries filled
# with the column means (made for sparse ratings)
INIT_MODES = ("reference", "kmeans++")


NAME = "masked"


@dataclass(kw_only=True)
class MaskedRun(Run):
    """A fit of the masked mixture: its final mixture (``mixture``) and the log-likelihood of
    its last E-step (``log_likelihood``). With a prior on the means the objective EM
    increases is the log-likelihood plus the prior's log-density, and ``log_likelihood`` is
    the data's alone under the final mixture (``data_log_likelihood``, one more pass)."""

    data_log_likelihood: float | None = None

    @property
    def mixture(self) -> SphericalMixture:
        return self.params

    @property
    def log_likelihood(self) -> float:
        return self.objective if self.data_log_likelihood is None else self.data_log_likelihood

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


def family(
    tol: float = DEFAULT_TOL,
    min_variance: float = masked.MIN_VARIANCE,
    prior: masked.MeanPrior | None = None,
) -> Family:
    """EM for the masked mixture as the loop runs it: the relative rule on the log-likelihood
    (plus the prior's log-density, with a ``prior``: the objective EM increases), all starts'
    statistics computed together (``block_stats_many``)."""

    def update(stats, mix):
        objective = stats.log_likelihood + masked.log_prior(mix, prior)
        return masked.update(stats, mix.means, min_variance, prior), objective

    return Family(
        NAME,
        masked.block_stats,
        update,
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


def column_means(blocks, summary: MatrixSummary) -> np.ndarray:
    """Each column's mean observed value (one pass for the counts; the sums are in the
    summary), the mean of all observed values for a column with none."""
    counts = ops.reduce(blocks, lambda b: masked.column_counts(b.values), np.add)
    return masked.column_means(np.asarray(summary.column_summary[1:], dtype=np.float64), counts)


def rating_starts(
    blocks,
    pairs: list[tuple[int, int]],
    summary: MatrixSummary,
    centre: np.ndarray,
    min_variance: float = masked.MIN_VARIANCE,
) -> list[SphericalMixture]:
    """A start made for sparse ratings, for each (K, seed): K rows by greedy k-means++ with
    distances over each row's observed entries only, each row's missing entries filled with
    the column means ``centre`` (never 0 as a mean); uniform weights; every variance the
    spread of the observed values around their column means (floored at ``min_variance``)."""
    if summary.n_observed == 0:
        raise InputError("the matrix has no observed (non-zero) entries")
    for k, _ in pairs:
        check_k(k, summary.n_rows - summary.n_empty_rows)
    sum_sq, col_sums = float(summary.column_summary[0]), summary.column_summary[1:]
    # Σ (x − m_i)² over observed entries = Σ x² − Σ_i m_i (2 s_i − c_i m_i), c_i m_i = s_i
    spread = max((sum_sq - float(centre @ col_sums)) / summary.n_observed, min_variance)
    out = []
    for k, seed in pairs:
        means = plus_plus(
            blocks,
            k,
            seed,
            metric=masked.observed_distances,
            to_centre=lambda row: masked.filled(row, centre),
        )
        out.append(SphericalMixture(np.full(k, 1.0 / k), means, np.full(k, spread)))
    return out


def log_likelihoods(blocks, mixtures: list[SphericalMixture]) -> list[float]:
    """The data's log-likelihood under each mixture, in one pass."""

    def of_block(block):
        stats = masked.block_stats_many(block.values, mixtures)
        return np.array([s.log_likelihood for s in stats])

    return [float(v) for v in ops.reduce(blocks, of_block, np.add)]


def observed_range(blocks) -> tuple[float, float]:
    """The smallest and largest observed (non-zero) value: one pass."""

    def of_block(block):
        values = block.values.data if hasattr(block.values, "indices") else block.values
        values = np.asarray(values, dtype=np.float64)
        values = values[values != 0]
        return np.array([values.min(), -values.max()]) if values.size else np.full(2, np.inf)

    low, neg_high = ops.reduce(blocks, of_block, np.minimum)
    return float(low), float(-neg_high)


def degeneracies(mixture: SphericalMixture, n_rows: int, value_range: tuple[float, float]) -> list:
    """What makes a fitted mixture untrustworthy, one sentence each: a component that holds
    less than one row's weight, and means outside the observed values' range (a completion
    is a weighted average of the means, so it can leave the range only through them)."""
    found = []
    weights = np.asarray(mixture.weights, dtype=np.float64)
    for j in np.flatnonzero(weights * n_rows < 1.0):
        found.append(
            f"component {j} holds less than one row's weight ({weights[j]:.3g}): fewer "
            "components or more starts (k, nInit; in the job --k, --seeds) would use the "
            "data better"
        )
    low, high = value_range
    means = np.asarray(mixture.means, dtype=np.float64)
    span = 1e-9 * max(abs(low), abs(high), 1.0)
    outside = int(((means < low - span) | (means > high + span)).sum())
    if outside:
        found.append(
            f"{outside} of {means.size} means lie outside the observed values' range "
            f"[{low:g}, {high:g}], so completions can too: the start or M-step left means "
            "where no value supports them; the k-means++ start and a prior on the means do "
            "not (initMode='kmeans++', priorStrength=1; in the job --init kmeans++ "
            "--prior-strength 1)"
        )
    return found


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
    init: str = INIT,
    prior_strength: float = 0.0,
) -> list[MaskedRun]:
    """EM for every (K, seed), in that order, all starts in the same passes over the data;
    ``on_run_iteration(k, seed, record)`` reports progress.

    ``init`` is ``reference`` (the course's start) or ``kmeans++`` (``rating_starts``);
    ``prior_strength`` τ > 0 puts a ``masked.MeanPrior`` centred on the column means on every
    component's means (0: the course's M-step). A run's ``seconds`` add up the passes it took
    part in (shared with the other starts). With a ``checkpoint`` (``checkpoint_for``) the
    state is saved after every pass, and ``resume`` continues from the saved state instead of
    starting over."""
    if init not in INIT_MODES:
        raise InputError(
            f"{{param}} must be one of {', '.join(INIT_MODES)}, not {init!r}", param="init"
        )
    if not (np.isfinite(prior_strength) and prior_strength >= 0):
        raise InputError(
            f"{{param}} must be a number >= 0, not {prior_strength}", param="prior_strength"
        )
    summary = summary or summarize(blocks)
    starts = starts_of(ks, seeds)
    pairs = [(s.k, s.seed) for s in starts]
    centre = column_means(blocks, summary) if init != INIT or prior_strength > 0 else None
    if init == INIT:
        mixtures = reference_mixtures(blocks, pairs, summary, min_variance)
    else:
        mixtures = rating_starts(blocks, pairs, summary, centre, min_variance)
    prior = masked.MeanPrior(prior_strength, centre) if prior_strength > 0 else None
    report = (
        (lambda s, record, _new: on_run_iteration(s.k, s.seed, record))
        if on_run_iteration
        else None
    )
    runs = fit_starts(
        blocks,
        family(tol, min_variance, prior),
        starts,
        mixtures,
        max_iter,
        on_iteration=report,
        checkpoint=checkpoint,
        resume=resume,
    )
    data_ll = log_likelihoods(blocks, [r.params for r in runs]) if prior else [None] * len(runs)
    return [MaskedRun(**run.shared(), data_log_likelihood=ll) for run, ll in zip(runs, data_ll)]


def fit(blocks, k: int, seed: int, **options) -> MaskedRun:
    """EM from the reference initialisation until the relative rule (or ``max_iter``);
    options as for ``fit_all``."""
    return fit_all(blocks, [k], [seed], **options)[0]


def best(runs: list[MaskedRun]) -> MaskedRun:
    """The run with the highest objective, the log-likelihood (plus the prior's log-density,
    when the fit had one); the first such, in run order."""
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
