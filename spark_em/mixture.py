"""Gaussian mixtures and K-means on complete data, fitted by the engine on cached blocks.

Kernels are in ``spark_em.gaussian``. Initialisations:

- ``reference``: the course's ``common.init`` (K rows chosen by ``np.random.seed(seed)``,
  spherical variances from all entries, uniform weights), spread to the covariance type;
- ``kmeans++``: greedy k-means++ (each next row the best of a few drawn with probability ∝ D²,
  the squared distance to the nearest row drawn so far), then one hard-assignment pass for
  weights and covariances;
- ``random``: K distinct rows drawn uniformly, then the same hard-assignment pass;
- a user's ``GaussianMixture`` (weights, means, covariances).

Draws use a hash of (seed, draw, global row index) for each row, so the rows chosen do not
depend on how the data is partitioned or blocked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from spark_em import engine, frames, gaussian
from spark_em.blocks import MatrixSummary, row_uniforms, summarize
from spark_em.errors import InputError
from spark_em.gaussian import GaussianMixture
from spark_em.matrix_completion import reference_starts

INIT_MODES = ("reference", "kmeans++", "random")
KMEANS_TOL = 1e-4
CRITERIA = ("bic", "aic")


@dataclass
class GaussianRun:
    """One fit: the final mixture, its log-likelihood (or K-means cost), and the history."""

    k: int
    seed: int
    model: str  # "gmm" or "kmeans"
    init: str
    mixture: GaussianMixture
    objective: float  # log-likelihood of the last E-step; for K-means the final cost
    n_iter: int
    converged: bool
    seconds: float
    n_rows: int
    n_features: int
    cluster_sizes: list[float] = field(default_factory=list)
    history: list[engine.Iteration] = field(default_factory=list)
    initial: GaussianMixture | None = None  # where the run started

    @property
    def log_likelihood(self) -> float:
        if self.model == "kmeans":
            raise AttributeError("a K-means run has a cost, not a log-likelihood")
        return self.objective

    @property
    def bic(self) -> float:
        return gaussian.bic(self.log_likelihood, self.k, self.n_features, self.n_rows,
                            self.mixture.covariance_type)

    @property
    def aic(self) -> float:
        return gaussian.aic(self.log_likelihood, self.k, self.n_features, self.mixture.covariance_type)

    def summary(self) -> dict:
        out = dict(k=self.k, seed=self.seed, model=self.model, init=self.init,
                   covariance_type=self.mixture.covariance_type, n_iter=self.n_iter,
                   converged=self.converged, seconds=round(self.seconds, 4),
                   cluster_sizes=self.cluster_sizes)
        if self.model == "kmeans":
            out["cost"] = self.objective
        else:
            out.update(log_likelihood=self.objective, bic=self.bic, aic=self.aic)
        return out


def _draw(blocks, seed: int, draw: int, centres: np.ndarray | None, n_candidates: int) -> list:
    """``n_candidates`` rows, each drawn with probability ∝ D² to ``centres`` (uniformly when
    there are none) by its own smallest exponential clock −log(u)/w: one pass."""

    def best_of_block(block):
        X = np.asarray(block.values, dtype=np.float64)
        index = block.offset + np.arange(X.shape[0])
        weight = np.ones(X.shape[0]) if centres is None else gaussian.nearest(X, centres)[1]
        out = []
        for t in range(n_candidates):
            with np.errstate(divide="ignore"):
                clock = -np.log(row_uniforms(seed, draw * n_candidates + t, index)) / weight
            i = int(np.argmin(clock))
            out.append((float(clock[i]), int(index[i]), X[i]))
        return out

    def earlier(a, b):
        return [x if (x[0], x[1]) <= (y[0], y[1]) else y for x, y in zip(a, b)]

    return [row for _, _, row in frames.reduce_blocks(blocks, best_of_block, earlier, tree=False)]


def _potentials(blocks, centres: np.ndarray, candidates: list) -> np.ndarray:
    """Σ_x min(D²(x), ‖x − c‖²) for each candidate c: one pass."""

    def of_block(block):
        X = np.asarray(block.values, dtype=np.float64)
        d2 = gaussian.nearest(X, centres)[1]
        return np.array([np.minimum(d2, np.einsum("ij,ij->i", X - c, X - c)).sum()
                         for c in candidates])

    return frames.reduce_blocks(blocks, of_block, np.add)


def kmeans_plus_plus(blocks, k: int, seed: int) -> np.ndarray:
    """K rows by greedy k-means++: the first uniformly, then for each next one 2 + ⌊ln K⌋
    candidates drawn ∝ D² and the one that lowers the total D² most kept (two passes each)."""
    n_candidates = 2 + int(np.log(k))
    centres = np.asarray(_draw(blocks, seed, 0, None, 1)[0])[None]
    for draw in range(1, k):
        candidates = _draw(blocks, seed, draw, centres, n_candidates)
        best = int(np.argmin(_potentials(blocks, centres, candidates)))
        centres = np.vstack([centres, candidates[best]])
    return centres


def random_rows(blocks, k: int, seed: int) -> np.ndarray:
    """K distinct rows drawn uniformly: those with the K smallest hashed keys (one pass)."""

    def smallest(block):
        keys = row_uniforms(seed, 0, block.offset + np.arange(block.values.shape[0]))
        keep = np.argsort(keys)[:k]
        return [(float(keys[i]), block.offset + int(i), np.asarray(block.values[i], np.float64))
                for i in keep]

    key = lambda r: (r[0], r[1])  # noqa: E731
    if frames.is_frame(blocks):
        chosen = sorted((r for rows in frames.map_blocks(blocks, smallest) for r in rows), key=key)[:k]
    else:
        chosen = sorted(blocks.flatMap(smallest).takeOrdered(k, key=key))
    return np.stack([row for _, _, row in chosen])


def _hard_assignments(blocks, all_means: list[np.ndarray], fallback_vars: list[np.ndarray],
                      covariance_type: str, reg_covar: float) -> list[GaussianMixture]:
    """Weights and covariances from assigning each row to its nearest mean, for several sets
    of means in one pass."""

    def stats(values, means):
        labels, _ = gaussian.nearest(values, means)
        resp = np.zeros((values.shape[0], means.shape[0]))
        resp[np.arange(values.shape[0]), labels] = 1.0
        return gaussian.stats_of(values, resp, means, covariance_type)

    totals = engine.aggregate(blocks, lambda values, sets: [stats(values, m) for m in sets],
                              lambda a, b: [gaussian.add_stats(x, y) for x, y in zip(a, b)],
                              all_means)
    out = []
    for total, means, var in zip(totals, all_means, fallback_vars):
        K, d = means.shape
        start = GaussianMixture(np.full(K, 1.0 / K), means,
                                gaussian.spread(var, d, covariance_type), covariance_type)
        out.append(gaussian.update(total, start, reg_covar))
    return out


def initial_mixtures(blocks, pairs: list[tuple[int, int]], init, covariance_type: str,
                     summary: MatrixSummary, reg_covar: float = gaussian.REG_COVAR
                     ) -> list[GaussianMixture]:
    """The starting mixture of each (K, seed)."""
    gaussian.check_type(covariance_type)
    d = summary.n_cols
    if isinstance(init, GaussianMixture):
        return [check_given(init, k, d, covariance_type) for k, _ in pairs]
    if init not in INIT_MODES:
        raise InputError(f"init must be one of {', '.join(INIT_MODES)} or a GaussianMixture, not {init!r}")
    starts = reference_starts(blocks, pairs, summary)  # also checks each K against the rows
    if init == "reference":
        return [GaussianMixture(np.full(len(means), 1.0 / len(means)), means,
                                gaussian.spread(var + reg_covar, d, covariance_type), covariance_type)
                for means, var in starts]
    draw = kmeans_plus_plus if init == "kmeans++" else random_rows
    means = [draw(blocks, k, seed) for k, seed in pairs]
    return _hard_assignments(blocks, means, [var for _, var in starts], covariance_type, reg_covar)


def check_given(mixture: GaussianMixture, k: int, d: int, covariance_type: str) -> GaussianMixture:
    """A user's initial model, checked: shapes, weights summing to 1, positive definite."""
    weights = np.asarray(mixture.weights, dtype=np.float64)
    means = np.asarray(mixture.means, dtype=np.float64)
    cov = np.asarray(mixture.covariances, dtype=np.float64)
    shapes = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}
    if weights.shape != (k,) or means.shape != (k, d) or cov.shape != shapes[covariance_type]:
        raise InputError(
            f"the initial model must have weights ({k},), means ({k}, {d}) and {covariance_type} "
            f"covariances {shapes[covariance_type]}; got {weights.shape}, {means.shape}, {cov.shape}")
    if np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
        raise InputError("the initial weights must be >= 0 and sum to 1")
    try:
        gaussian.precision_cholesky(cov, covariance_type)
    except np.linalg.LinAlgError as exc:
        raise InputError(f"initial model: {exc}") from None
    return GaussianMixture(weights, means, cov, covariance_type)


def _with_factors(mixture: GaussianMixture) -> tuple[GaussianMixture, gaussian.Prepared]:
    """What each pass broadcasts: the mixture and its precision factors, computed once."""
    try:
        return mixture, gaussian.prepare(mixture)
    except np.linalg.LinAlgError as exc:
        raise InputError(str(exc)) from None


def _cluster_sizes(blocks, mixtures: list[GaussianMixture]) -> list[list[float]]:
    """Σ_u r_uk for each component (soft sizes) under each final mixture: one pass."""
    prepared = [gaussian.prepare(m) for m in mixtures]
    sizes = frames.reduce_blocks(
        blocks, lambda b: [gaussian.posterior(b.values, p)[0].sum(axis=0) for p in prepared],
        lambda a, b: [x + y for x, y in zip(a, b)])
    return [s.tolist() for s in sizes]


def encode_mixture(mixture: GaussianMixture) -> dict:
    return {"weights": mixture.weights.tolist(), "means": mixture.means.tolist(),
            "covariances": np.asarray(mixture.covariances).tolist(),
            "covariance_type": mixture.covariance_type}


def decode_mixture(saved: dict) -> GaussianMixture:
    return GaussianMixture(*(np.array(saved[n], dtype=np.float64)
                             for n in ("weights", "means", "covariances")), saved["covariance_type"])


def checkpoint_for(directory, summary: MatrixSummary, model: str = "gmm", **options):
    """A ``Checkpoint`` of complete-data fits (``model`` gmm or kmeans) with these options."""
    from spark_em.checkpoint import Checkpoint, data_fingerprint

    if model == "gmm":  # EM's parameters travel with their precision factors
        encode, decode = (lambda params: encode_mixture(params[0])), \
            (lambda saved: _with_factors(decode_mixture(saved)))
    else:
        encode, decode = encode_mixture, decode_mixture
    return Checkpoint(directory, {"model": model, **data_fingerprint(summary), **options},
                      encode, decode)


def _em(blocks, starts, tol, max_iter, reg_covar, report, **resuming):
    return engine.run_many(
        blocks, [_with_factors(m) for m in starts],
        lambda values, params: gaussian.block_stats(values, params[1]),
        gaussian.add_stats,
        lambda stats, params: (_with_factors(gaussian.update(stats, params[0], reg_covar)),
                               stats.log_likelihood),
        converged=engine.relative_rule(tol), max_iter=max_iter,
        on_iteration=(lambda i, record, params: report(i, record, params[0])) if report else None,
        **resuming)


def _kmeans(blocks, starts, tol, max_iter, report, **resuming):
    def update(stats, mixture):
        new_means, sse, cost = gaussian.kmeans_update(stats, mixture.means)
        return gaussian.kmeans_mixture(new_means, sse, stats.counts, stats.n_rows), cost

    return engine.run_many(
        blocks, [GaussianMixture(m.weights, m.means, np.ones(len(m.means)), "spherical") for m in starts],
        lambda values, mixture: gaussian.kmeans_block_stats(values, mixture.means),
        gaussian.add_stats, update,
        converged=lambda new, old: old is not None and old - new <= tol,
        max_iter=max_iter, on_iteration=report, **resuming)


def fit_all(blocks, ks: Iterable[int], seeds: Iterable[int], model: str = "gmm",
            covariance_type: str = "full", init="reference", tol: float | None = None,
            max_iter: int = engine.DEFAULT_MAX_ITER, reg_covar: float = gaussian.REG_COVAR,
            n_init: int = 1, on_run_iteration: Callable | None = None,
            summary: MatrixSummary | None = None, checkpoint=None,
            resume: bool = False) -> list[GaussianRun]:
    """One run per (K, seed), in that order, every start in the same passes over the data.

    ``model`` is ``gmm`` (EM, relative rule with ``tol``, default 1e-6) or ``kmeans`` (the
    course's K-means, stops when the cost falls by ≤ ``tol``, default 1e-4, and reads as a
    spherical mixture). With ``n_init`` > 1 restart r of a seed starts from seed + r, and the
    restart with the best objective is kept. ``on_run_iteration(k, seed, record, mixture)``
    reports progress. A run's ``seconds`` add up the passes it took part in. With a
    ``checkpoint`` (``checkpoint_for``) the state is saved after every pass; ``resume``
    continues from it.
    """
    if model not in ("gmm", "kmeans"):
        raise InputError(f"model must be 'gmm' or 'kmeans', not {model!r}")
    if n_init < 1:
        raise InputError(f"n_init must be at least 1, got {n_init}")
    summary = summary or summarize(blocks)
    kind = "spherical" if model == "kmeans" else covariance_type
    specs = [(k, seed, restart) for k in ks for seed in seeds for restart in range(n_init)]
    starts = initial_mixtures(blocks, [(k, seed + r) for k, seed, r in specs], init, kind,
                              summary, reg_covar)
    report = ((lambda i, record, mixture: on_run_iteration(specs[i][0], specs[i][1], record, mixture))
              if on_run_iteration else None)
    resuming = dict(resume=checkpoint.load() if checkpoint is not None and resume else None,
                    on_pass=checkpoint.save if checkpoint is not None else None)
    if model == "gmm":
        results = _em(blocks, starts, engine.DEFAULT_TOL if tol is None else tol, max_iter,
                      reg_covar, report, **resuming)
        finals = [r.params[0] for r in results]
        sizes = _cluster_sizes(blocks, finals)
    else:
        results = _kmeans(blocks, starts, KMEANS_TOL if tol is None else tol, max_iter, report,
                          **resuming)
        finals = [r.params for r in results]
        sizes = [(m.weights * summary.n_rows).tolist() for m in finals]
    runs = [GaussianRun(k, seed + r, model, _init_name(init), final, res.objective, res.n_iter,
                        res.converged, sum(h.seconds for h in res.history), summary.n_rows,
                        summary.n_cols, size, res.history, first)
            for (k, seed, r), final, res, size, first in zip(specs, finals, results, sizes, starts)]
    better = (lambda a, b: a.objective > b.objective) if model == "gmm" else \
        (lambda a, b: a.objective < b.objective)
    kept: list[GaussianRun] = []
    for i in range(0, len(runs), n_init):
        best = runs[i]
        for other in runs[i + 1:i + n_init]:
            best = other if better(other, best) else best
        kept.append(best)
    return kept


def fit(blocks, k: int, seed: int = 0, on_iteration: Callable | None = None,
        **options) -> GaussianRun:
    """EM for a Gaussian mixture from one seed; ``on_iteration(record, mixture)`` sees every
    pass; other options as for ``fit_all``."""
    report = (lambda _k, _seed, record, mix: on_iteration(record, mix)) if on_iteration else None
    return fit_all(blocks, [k], [seed], on_run_iteration=report, **options)[0]


def fit_kmeans(blocks, k: int, seed: int = 0, **options) -> GaussianRun:
    """The course's K-means from one seed; options as for ``fit``."""
    return fit(blocks, k, seed, model="kmeans", **options)


def _init_name(init) -> str:
    return "given" if isinstance(init, GaussianMixture) else init


def select(runs: list[GaussianRun], criterion: str = "bic") -> tuple[GaussianRun, dict[int, GaussianRun]]:
    """The best run of each K, and the chosen run.

    Mixtures: the best run of a K has the highest log-likelihood, and the chosen K scores
    highest on ``criterion`` (the course's scale, higher is better). K-means has no likelihood:
    the best run of a K has the lowest cost, and the chosen run is the lowest cost of all
    (which favours the largest K)."""
    if criterion not in CRITERIA:
        raise InputError(f"--select must be one of {', '.join(CRITERIA)}, not {criterion!r}")
    kmeans = any(r.model == "kmeans" for r in runs)
    better = (lambda a, b: a.objective < b.objective) if kmeans else \
        (lambda a, b: a.objective > b.objective)
    best_by_k: dict[int, GaussianRun] = {}
    for run in runs:
        if run.k not in best_by_k or better(run, best_by_k[run.k]):
            best_by_k[run.k] = run
    if kmeans:
        return min(best_by_k.values(), key=lambda r: r.objective), best_by_k
    return max(best_by_k.values(), key=lambda r: getattr(r, criterion)), best_by_k
