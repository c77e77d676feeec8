"""Gaussian mixtures on complete data, fitted by the shared fitter (``models.fitting``) on
cached blocks.

Kernels are in ``spark_em.kernels.gaussian``. Initialisations (``models.seeding`` draws the
rows):

- ``reference``: the course's ``common.init`` (K rows chosen by ``np.random.seed(seed)``,
  spherical variances from all entries, uniform weights), spread to the covariance type;
- ``kmeans++``: greedy k-means++ (each next row the best of a few drawn with probability ∝ D²,
  the squared distance to the nearest row drawn so far), then one hard-assignment pass for
  weights and covariances;
- ``random``: K distinct rows drawn uniformly, then the same hard-assignment pass;
- a user's ``Mixture`` (weights, means, covariances).

A mixture of factor analysers (``factor``, q factors) starts from the same means; each
component's loadings then come from the probabilistic PCA of its hard assignments' scatter,
sketched in one pass (``kernels.factor.start``). Its starts are named ``factor q=2`` where the
type alone is named otherwise (``variant``).

Data read with missing values (NaN, ``missing="nan"``) are fitted by exact EM for incomplete
data (``kernels.missing``); the initialisations above then run on the rows with each missing
value replaced by its column's mean (the reference init: its variances from those rows too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from spark_em.engine import ops
from spark_em.engine.checkpoint import Checkpoint, data_fingerprint
from spark_em.engine.loop import DEFAULT_MAX_ITER, DEFAULT_TOL, Family, relative_rule
from spark_em.engine.ops import MatrixSummary, summarize
from spark_em.errors import InputError
from spark_em.kernels import factor, gaussian, kmeans, missing
from spark_em.kernels.arrays import add_fields
from spark_em.kernels.gaussian import Mixture
from spark_em.models import codec, seeding, selection
from spark_em.models import missing as missing_model
from spark_em.models.fitting import Run, fit_starts, starts_of
from spark_em.models.reference import check_k, variances_about
from spark_em.models.seeding import INIT_MODES

NAME = "gmm"
OBJECTIVE = "log-likelihood"
CRITERIA = selection.CRITERIA


@dataclass(kw_only=True)
class GaussianRun(Run):
    """A mixture's run: its final mixture (``mixture``), the log-likelihood of its last E-step
    (``log_likelihood``, the objective), BIC and AIC (the course's scale), soft cluster
    sizes."""

    init: str
    n_rows: float  # rows with a value, or the sum of the weights (the n of BIC)
    n_features: int
    cluster_sizes: list[float] = field(default_factory=list)

    @property
    def mixture(self) -> Mixture:
        return self.params

    @property
    def log_likelihood(self) -> float:
        return self.objective

    @property
    def _type(self) -> tuple[str, int]:
        return self.mixture.covariance_type, self.mixture.n_factors

    @property
    def bic(self) -> float:
        return gaussian.bic(self.log_likelihood, self.k, self.n_features, self.n_rows, *self._type)

    @property
    def aic(self) -> float:
        return gaussian.aic(self.log_likelihood, self.k, self.n_features, *self._type)

    @property
    def course_bic(self) -> float:
        return gaussian.course_bic(
            self.log_likelihood, self.k, self.n_features, self.n_rows, *self._type
        )

    def summary(self) -> dict:
        """What the job's metrics hold of the run."""
        return dict(
            k=self.k,
            seed=self.seed,
            model=NAME,
            init=self.init,
            covariance_type=self.mixture.covariance_type,
            **({"n_factors": self.mixture.n_factors} if self._type[0] == "factor" else {}),
            n_iter=self.n_iter,
            converged=self.converged,
            seconds=round(self.seconds, 4),
            cluster_sizes=self.cluster_sizes,
            log_likelihood=self.objective,
            bic=self.bic,
            aic=self.aic,
            course_bic=self.course_bic,
        )


def variant(covariance_type: str, n_factors: int = 0) -> str:
    """How a fit's starts and candidates name a covariance type: the type, or ``factor q=2``."""
    return f"factor q={n_factors}" if covariance_type == "factor" else covariance_type


def split_variant(name: str) -> tuple[str, int]:
    """(covariance type, number of factors) of a ``variant`` name."""
    if name.startswith("factor q="):
        return "factor", int(name[len("factor q=") :])
    return name, 0


def variants(covariance_types: list[str], n_factors: int | list[int] = 2) -> list[str]:
    """The variants a fit tries: each type, ``factor`` once for each number of factors."""
    qs = [n_factors] if isinstance(n_factors, int | np.integer) else list(n_factors)
    if not qs or any(not isinstance(q, int | np.integer) or q < 0 for q in qs):
        raise InputError(
            f"{{param}} must be a number of factors >= 0 or a list of them, not {n_factors!r}",
            param="n_factors",
        )
    out = []
    for kind in covariance_types:
        out += [variant(kind, int(q)) for q in qs] if kind == "factor" else [kind]
    return out


def _hard_assignments(
    blocks,
    all_means: list[np.ndarray],
    fallback_vars: list[np.ndarray],
    names: list[str],
    seeds: list[int],
    reg_covar: float,
) -> list[Mixture]:
    """Weights and covariances (of each set's variant) from assigning each row to its nearest
    mean, for several sets of means in one pass (factor loadings from a sketch of each
    component's scatter, drawn from the start's seed)."""
    sets, parsed = [], [split_variant(name) for name in names]
    for means, (kind, q), seed in zip(all_means, parsed, seeds):
        omega = factor.sketch_matrix(means.shape[1], q, seed) if kind == "factor" else None
        sets.append((means, kind, omega))

    def stats(values, means, kind, omega, weights):
        labels, _ = kmeans.nearest(values, means)
        if kind == "factor":
            X = np.asarray(values, dtype=np.float64)
            return factor.assigned_sketch(X, labels, means, omega, weights)
        return gaussian.assigned_stats(values, labels, means, kind, weights=weights)

    def all_stats(values, sets, weights=None):
        return [stats(values, *one, weights) for one in sets]

    totals = ops.aggregate(
        blocks, all_stats, lambda a, b: [add_fields(x, y) for x, y in zip(a, b)], sets
    )
    out = []
    for total, (means, kind, omega), var, (_, q) in zip(totals, sets, fallback_vars, parsed):
        K, d = means.shape
        if kind == "factor":
            parts = factor.start(total, means, omega, q, var, reg_covar)
            out.append(gaussian.factor_mixture(*parts))
            continue
        start = Mixture(np.full(K, 1.0 / K), means, gaussian.spread(var, d, kind), kind)
        out.append(gaussian.update(total, start, reg_covar))
    return out


def check_type(covariance_type: str) -> str:
    try:
        return gaussian.check_type(covariance_type)
    except ValueError as exc:
        raise InputError(
            str(exc).replace("covariance_type", "{param}", 1), param="covariance_type"
        ) from None


def initial_mixtures(
    blocks,
    pairs: list[tuple[int, int]],
    init,
    covariance_type,
    summary: MatrixSummary,
    reg_covar: float = gaussian.REG_COVAR,
) -> list[Mixture]:
    """The starting mixture of each (K, seed), of ``covariance_type`` (one ``variant``, or one
    per pair)."""
    names = (
        [covariance_type] * len(pairs)
        if isinstance(covariance_type, str)
        else list(covariance_type)
    )
    kinds = [split_variant(name)[0] for name in names]
    for kind in set(kinds):
        check_type(kind)
    d = summary.n_cols
    most = max((split_variant(name)[1] for name in names), default=0)
    if most > d:
        raise InputError(
            f"{{param}} is {most}, more than the {d} features: a mixture of factor analysers "
            f"takes at most {d}",
            param="n_factors",
        )
    if isinstance(init, Mixture):
        return [check_given(init, k, d, kind) for (k, _), kind in zip(pairs, kinds)]
    if init not in INIT_MODES:
        raise InputError(
            f"{{param}} must be one of {', '.join(INIT_MODES)} or a Mixture, not {init!r}",
            param="init",
        )
    missing_model.check(summary, pairs)
    seeding.check_weighted(summary, pairs)
    if summary.has_nan:
        blocks, summary = missing_model.mean_imputed(blocks, summary)
    seeds = [seed for _, seed in pairs]
    if init == "reference":
        starts = seeding.reference(blocks, pairs, summary)  # also checks each K against the rows
        out = [
            Mixture(
                np.full(len(means), 1.0 / len(means)),
                means,
                gaussian.spread(var + reg_covar, d, kind),
                kind,
            )
            for (means, var), kind in zip(starts, kinds)
        ]
        # factor loadings of 0 would stay 0: they come from the rows nearest each mean (with
        # none, the start is the diagonal type's)
        factored = [i for i, name in enumerate(names) if split_variant(name)[1] > 0]
        if factored:
            pick = [starts[i] for i in factored]
            found = _hard_assignments(
                blocks,
                [mu for mu, _ in pick],
                [var for _, var in pick],
                [names[i] for i in factored],
                [seeds[i] for i in factored],
                reg_covar,
            )
            for i, mixture in zip(factored, found):
                out[i] = mixture
        return out
    for k, _ in pairs:
        check_k(k, summary.n_rows)
    means = seeding.drawn_means(blocks, pairs, init)
    # an empty cluster's variance, should the hard assignments leave one: about its mean
    spreads = [variances_about(summary, mu) for mu in means]
    return _hard_assignments(blocks, means, spreads, names, seeds, reg_covar)


def check_given(mixture: Mixture, k: int, d: int, covariance_type: str) -> Mixture:
    """A mixture from outside a fit (an initial model, a saved one), checked: shapes,
    finite numbers, weights summing to 1, covariances positive definite."""
    loadings = None if mixture.loadings is None else np.asarray(mixture.loadings, np.float64)
    given = Mixture(
        *(np.asarray(a, dtype=np.float64) for a in mixture[:3]), covariance_type, loadings
    )
    problem = gaussian.mixture_problem(given, k, d)
    if problem:
        raise InputError(f"the mixture given cannot be used: {problem}")
    return given


def prepared(mixture: Mixture) -> gaussian.Prepared:
    """What each pass ships: the mixture with its precision factors, computed once."""
    try:
        return gaussian.prepare(mixture)
    except np.linalg.LinAlgError as exc:
        raise InputError(str(exc)) from None


def family(tol: float = DEFAULT_TOL, reg_covar: float = gaussian.REG_COVAR) -> Family:
    """EM for a Gaussian mixture as the loop runs it: the relative rule on the log-likelihood."""

    def update(stats: gaussian.GaussianStats, mixture: Mixture):
        new = gaussian.update(stats, mixture, reg_covar)
        prepared(new)  # a covariance that is no longer positive definite stops the fit here
        return new, stats.log_likelihood

    return Family(
        NAME,
        missing.block_stats,
        update,
        converged=relative_rule(tol),
        ship=prepared,
        block_stats_many=missing.block_stats_many,
        encode=codec.encode_gaussian,
        decode=codec.decode_gaussian,
    )


def cluster_sizes(blocks, mixtures: list[Mixture]) -> list[list[float]]:
    """Σ_u r_uk for each component (soft sizes) under each mixture: one pass."""
    factors = [prepared(m) for m in mixtures]

    def sizes_of(block):
        weights = np.ones(block.values.shape[0]) if block.weights is None else block.weights
        return [weights @ missing.posterior(block.values, p)[0] for p in factors]

    sizes = ops.reduce(blocks, sizes_of, lambda a, b: [x + y for x, y in zip(a, b)])
    return [s.tolist() for s in sizes]


def checkpoint_for(directory, summary: MatrixSummary, **options) -> Checkpoint:
    """A ``Checkpoint`` of mixture fits on this data with these options."""
    return Checkpoint(directory, {"model": NAME, **data_fingerprint(summary), **options})


def fit_all(
    blocks,
    ks: Iterable[int],
    seeds: Iterable[int],
    covariance_type: str | list[str] = "full",
    init="reference",
    n_factors: int | list[int] = 2,
    tol: float | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    reg_covar: float = gaussian.REG_COVAR,
    n_init: int = 1,
    on_run_iteration: Callable | None = None,
    summary: MatrixSummary | None = None,
    checkpoint: Checkpoint | None = None,
    resume: bool = False,
) -> list[GaussianRun]:
    """EM from every (K, seed), in that order, every start in the same passes over the data,
    each stopped by the relative rule on the log-likelihood (``tol``, default 1e-6).
    ``covariance_type`` may be a list: then one run per (type, K, seed), in that order. A
    mixture of factor analysers (``factor``) has ``n_factors`` factors (a list: one run per
    number, each a type of its own).

    With ``n_init`` > 1 restart r of a seed starts from seed + r, and the restart with the
    highest log-likelihood is kept. ``on_run_iteration(k, seed, record, mixture)`` reports
    progress. A run's ``seconds`` add up the passes it took part in. With a ``checkpoint``
    (``checkpoint_for``) the state is saved after every pass; ``resume`` continues from it.
    """
    summary = summary or summarize(blocks)
    if isinstance(init, Mixture):
        seeding.check_weighted(summary, [])
        n_init = 1  # restarts from one given start would repeat the same fit
    kinds = [covariance_type] if isinstance(covariance_type, str) else list(covariance_type)
    if isinstance(init, Mixture):
        n_factors = init.n_factors
    starts = starts_of(ks, seeds, n_init, variants(kinds, n_factors))
    mixtures = initial_mixtures(
        blocks,
        [(s.k, s.seed) for s in starts],
        init,
        [s.variant for s in starts],
        summary,
        reg_covar,
    )
    report = (
        (lambda s, record, mixture: on_run_iteration(s.k, s.seed, record, mixture))
        if on_run_iteration
        else None
    )
    runs = fit_starts(
        blocks,
        family(DEFAULT_TOL if tol is None else tol, reg_covar),
        starts,
        mixtures,
        max_iter,
        n_init=n_init,
        on_iteration=report,
        checkpoint=checkpoint,
        resume=resume,
    )
    sizes = cluster_sizes(blocks, [run.params for run in runs])
    return [
        GaussianRun(
            **run.shared(),
            init="given" if isinstance(init, Mixture) else init,
            n_rows=summary.n_effective,
            n_features=summary.n_cols,
            cluster_sizes=size,
        )
        for run, size in zip(runs, sizes)
    ]


def fit(
    blocks, k: int, seed: int = 0, on_iteration: Callable | None = None, **options
) -> GaussianRun:
    """EM for a Gaussian mixture from one seed; ``on_iteration(record, mixture)`` sees every
    pass; other options as for ``fit_all``."""
    report = (lambda _k, _seed, record, mix: on_iteration(record, mix)) if on_iteration else None
    return fit_all(blocks, [k], [seed], on_run_iteration=report, **options)[0]


def select(
    runs: list[GaussianRun], criterion: str = "bic"
) -> tuple[GaussianRun, dict[int, GaussianRun]]:
    """The chosen run, and the best run (highest log-likelihood) of each K (of each (K,
    number of factors) when the runs have several): the chosen one has the lowest
    ``criterion`` (``bic`` or ``aic``, scikit-learn's convention)."""
    selection.check_criterion(criterion)
    several = len({r.mixture.n_factors for r in runs}) > 1
    best_by_k = selection.best_per(runs, lambda r: (r.k, r.mixture.n_factors) if several else r.k)
    return selection.best_by(best_by_k.values(), criterion), best_by_k


def select_candidates(
    runs: list[GaussianRun], criterion: str = "bic"
) -> tuple[GaussianRun, list[GaussianRun]]:
    """The chosen run, and the best run (highest log-likelihood) of each (covariance type and
    number of factors, K) in run order: the chosen one has the lowest ``criterion``
    (scikit-learn's convention)."""
    selection.check_criterion(criterion)
    best = selection.best_per(runs, lambda r: (r.mixture.covariance_type, r.mixture.n_factors, r.k))
    candidates = list(best.values())
    return selection.best_by(candidates, criterion), candidates


def model_record(run: GaussianRun, **options) -> dict:
    """What ``model.json`` holds: the mixture, where it started and how the fit went."""
    return codec.gaussian_record(run, NAME, **options)
