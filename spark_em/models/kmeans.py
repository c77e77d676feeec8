"""The course's K-means on cached blocks: its family, its starts and its fits, under the
Euclidean or the cosine distance (MLlib's ``distanceMeasure``).

Kernels are in ``spark_em.kernels.kmeans``; the seeding draws (the course's rows, greedy
k-means++, k-means||, uniform rows) are ``models.seeding``'s. A run's parameters are a
spherical ``gaussian.Mixture`` (p = n_k/n, σ² = SSE_k/(d·n_k); for cosine, of the unit rows
about the unit centres), the course's reading of K-means as a mixture; a start is its centres
with uniform weights and unit variances.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from spark_em.engine import ops
from spark_em.engine.checkpoint import Checkpoint, data_fingerprint
from spark_em.engine.loop import DEFAULT_MAX_ITER, Family, falling_rule
from spark_em.engine.ops import MatrixSummary, summarize
from spark_em.errors import InputError
from spark_em.kernels import kmeans
from spark_em.kernels.arrays import dense
from spark_em.kernels.gaussian import Mixture
from spark_em.models import codec, seeding, selection
from spark_em.models.fitting import Run, Start, fit_starts, starts_of
from spark_em.models.reference import check_k

NAME = "kmeans"
OBJECTIVE = "cost"
CRITERIA: tuple[str, ...] = ()  # K-means has no likelihood: no criterion chooses K
TOL = 1e-4
INIT_MODES = (*seeding.INIT_MODES, seeding.PARALLEL)


@dataclass(kw_only=True)
class KMeansRun(Run):
    """A K-means run: its final centres (as a spherical mixture, ``mixture``), final cost
    (``cost``, the objective) and cluster sizes."""

    init: str
    distance_measure: str
    n_rows: float  # rows, or the sum of the weights
    n_features: int
    cluster_sizes: list[float] = field(default_factory=list)

    @property
    def mixture(self) -> Mixture:
        return self.params

    @property
    def cost(self) -> float:
        return self.objective

    def summary(self) -> dict:
        """What the job's metrics hold of the run."""
        return dict(
            k=self.k,
            seed=self.seed,
            model=NAME,
            init=self.init,
            distance_measure=self.distance_measure,
            covariance_type="spherical",
            n_iter=self.n_iter,
            converged=self.converged,
            seconds=round(self.seconds, 4),
            cluster_sizes=self.cluster_sizes,
            cost=self.objective,
        )


def family(tol: float = TOL, distance_measure: str = kmeans.EUCLIDEAN) -> Family:
    """K-means as the loop runs it, under ``distance_measure`` (euclidean or cosine): stops
    when the cost falls by ≤ ``tol``."""

    def update(stats, mixture: Mixture):
        new_means, sse, cost = kmeans.update(stats, mixture.means)
        return kmeans.as_mixture(new_means, sse, stats.counts, stats.n_rows), cost

    return Family(
        NAME,
        lambda values, mixture, weights=None: kmeans.block_stats(
            values, mixture.means, weights, distance_measure
        ),
        update,
        converged=falling_rule(tol),
        encode=codec.encode_gaussian,
        decode=lambda saved: codec.decode_gaussian(saved, definite=False),
        objective=OBJECTIVE,
    )


def start(means: np.ndarray) -> Mixture:
    """A K-means start: the centres, uniform weights and unit variances."""
    means = np.asarray(means, dtype=np.float64)
    k = len(means)
    return Mixture(np.full(k, 1.0 / k), means, np.ones(k), "spherical")


def initial_centres(
    blocks,
    pairs: list[tuple[int, int]],
    init,
    summary: MatrixSummary,
    distance_measure: str = kmeans.EUCLIDEAN,
    init_steps: int = seeding.INIT_STEPS,
) -> list[np.ndarray]:
    """The starting centres of each (K, seed): the course's rows, greedy k-means++ rows,
    k-means|| (``init_steps`` rounds) or uniform rows (``init``), or a given array of centres
    (the same for every pair); for cosine, their directions (unit vectors)."""
    if summary.has_nan:
        raise InputError(
            "K-means needs complete data: these rows miss values (fit a mixture, "
            "which handles them)"
        )
    check_measure(blocks, summary, distance_measure)
    seeding.check_weighted(summary, pairs)
    if not isinstance(init, str):
        given = np.asarray(getattr(init, "means", init), dtype=np.float64)
        for k, _ in pairs:
            if given.shape != (k, summary.n_cols) or not np.isfinite(given).all():
                raise InputError(
                    f"the initial centres must be {k}×{summary.n_cols} finite numbers, "
                    f"got shape {given.shape}"
                )
        if distance_measure == kmeans.COSINE and not kmeans.row_norms(given).all():
            raise InputError("the initial centres of a cosine fit must not be zero vectors")
        return [kmeans.as_centres(given, distance_measure)] * len(pairs)
    if init not in INIT_MODES:
        raise InputError(
            f"{{param}} must be one of {', '.join(INIT_MODES)} or the centres, not {init!r}",
            param="init",
        )
    if init == "reference":
        drawn = [means for means, _ in seeding.reference(blocks, pairs, summary)]
    else:
        for k, _ in pairs:
            check_k(k, summary.n_rows)
        drawn = _drawn(blocks, pairs, init, distance_measure, init_steps)
    return [kmeans.as_centres(c, distance_measure) for c in drawn]


def _drawn(blocks, pairs, init: str, distance_measure: str, init_steps: int) -> list[np.ndarray]:
    """The rows ``init`` (kmeans++, random or k-means||) draws for each (K, seed)."""
    if init == seeding.PARALLEL:
        if init_steps < 1:
            raise InputError(f"{{param}} must be > 0, not {init_steps}", param="init_steps")
        return seeding.parallel(blocks, pairs, init_steps, distance_measure)
    if distance_measure == kmeans.EUCLIDEAN:  # k-means++ knows these costs column by column
        return seeding.drawn_means(blocks, pairs, init)
    return seeding.drawn_means(
        blocks, pairs, init, lambda X, c: kmeans.costs(X, c, distance_measure)
    )


def check_measure(blocks, summary: MatrixSummary, distance_measure: str) -> None:
    """The measure is known, and a cosine fit has no zero-length row (the first is named)."""
    if distance_measure not in kmeans.MEASURES:
        raise InputError(
            f"{{param}} must be one of {', '.join(kmeans.MEASURES)}, not {distance_measure!r}",
            param="distance_measure",
        )
    if distance_measure == kmeans.COSINE and summary.n_empty_rows:
        raise InputError(
            f"row {first_zero_row(blocks) + 1} is a zero-length vector: the cosine distance "
            f"({{param}} cosine) is not defined for it",
            param="distance_measure",
        )


def first_zero_row(blocks) -> int:
    """The index of the first row whose values are all 0 (one pass)."""

    def of_block(block):
        zero = np.flatnonzero(kmeans.row_norms(dense(block.values)) == 0)
        return block.offset + int(zero[0]) if zero.size else np.inf

    return int(ops.reduce(blocks, of_block, min))


def checkpoint_for(directory, summary: MatrixSummary, **options) -> Checkpoint:
    """A ``Checkpoint`` of K-means fits on this data with these options."""
    return Checkpoint(directory, {"model": NAME, **data_fingerprint(summary), **options})


def fit_all(
    blocks,
    ks: Iterable[int],
    seeds: Iterable[int],
    init="reference",
    tol: float | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    n_init: int = 1,
    on_run_iteration: Callable | None = None,
    summary: MatrixSummary | None = None,
    checkpoint: Checkpoint | None = None,
    resume: bool = False,
    distance_measure: str = kmeans.EUCLIDEAN,
    init_steps: int = seeding.INIT_STEPS,
) -> list[KMeansRun]:
    """One run per (K, seed), in that order, every start in the same passes over the data; a
    run stops when its cost falls by ≤ ``tol`` (default 1e-4). With ``n_init`` > 1 restart r
    of a seed starts from seed + r and the lowest cost is kept (a given start is fitted once).
    ``on_run_iteration(k, seed, record, mixture)`` reports progress; ``checkpoint`` and
    ``resume`` as for ``engine.loop.run_many``. ``distance_measure``: euclidean (the cost
    Σ w ‖x − c‖²) or cosine (Σ w (1 − cos(x, c)), unit centres); ``init_steps``: the rounds
    of ``init="k-means||"``."""
    summary = summary or summarize(blocks)
    if not isinstance(init, str):
        n_init = 1  # restarts from one given start would repeat the same fit
    starts: list[Start] = starts_of(ks, seeds, n_init)
    centres = initial_centres(
        blocks, [(s.k, s.seed) for s in starts], init, summary, distance_measure, init_steps
    )
    report = (
        (lambda s, record, mixture: on_run_iteration(s.k, s.seed, record, mixture))
        if on_run_iteration
        else None
    )
    runs = fit_starts(
        blocks,
        family(TOL if tol is None else tol, distance_measure),
        starts,
        [start(c) for c in centres],
        max_iter,
        n_init=n_init,
        higher=False,
        on_iteration=report,
        checkpoint=checkpoint,
        resume=resume,
    )
    return [
        KMeansRun(
            **run.shared(),
            init=init if isinstance(init, str) else "given",
            distance_measure=distance_measure,
            n_rows=summary.n_effective,
            n_features=summary.n_cols,
            cluster_sizes=(run.params.weights * summary.n_effective).tolist(),
        )
        for run in runs
    ]


def fit(blocks, k: int, seed: int = 0, on_iteration: Callable | None = None, **options):
    """K-means from one seed; ``on_iteration(record, mixture)`` sees every pass; other options
    as for ``fit_all``."""
    report = (lambda _k, _seed, record, mix: on_iteration(record, mix)) if on_iteration else None
    return fit_all(blocks, [k], [seed], on_run_iteration=report, **options)[0]


def select(runs: list[KMeansRun], criterion: str | None = None):
    """The chosen run (the lowest cost of all, which favours the largest K) and the best run
    of each K; no criterion applies."""
    best_by_k = selection.best_per(runs, lambda r: r.k, higher=False)
    return selection.best(best_by_k.values(), higher=False), best_by_k


def model_record(run: KMeansRun, **options) -> dict:
    """What ``model.json`` holds: the centres as a spherical mixture, where it started and how
    the fit went."""
    return codec.gaussian_record(run, NAME, **options)
