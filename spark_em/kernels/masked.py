"""Kernels of the masked spherical Gaussian mixture (matrix completion).

Pure numpy/scipy: nothing here imports Spark. ``X`` is an n×d block in which 0 marks a
missing entry, either a dense array or a scipy.sparse CSR array holding only the observed
entries; ``C_u`` is the set of observed columns of row ``u``. Every kernel is written in
matrix products that serve both forms, so a pass costs O(observed entries × K) on sparse
blocks. The equations:

(1) f(u,j) = log(p_j + 1e-16) − |C_u|/2 · log(2π σ_j²) − ‖x_{C_u} − μ_{j,C_u}‖² / (2σ_j²)
(2) log-likelihood = Σ_u logsumexp_j f(u,j);   p(j|u) = exp(f(u,j) − logsumexp_j f(u,j))
(3) p̂_j = Σ_u p(j|u) / n
(4) μ̂_{j,i} = Σ_u p(j|u) δ(i,C_u) x_{ui} / Σ_u p(j|u) δ(i,C_u), only where the denominator
    is ≥ 1; elsewhere μ_{j,i} keeps its previous value (the course's rule; with a
    ``MeanPrior`` the means and variances are its MAP update instead)
(5) σ̂_j² = Σ_u p(j|u) ‖x_{C_u} − μ̂_{j,C_u}‖² / Σ_u |C_u| p(j|u), floored at min_variance
(6) completion: x̂_{ui} = Σ_j p(j|u) μ_{j,i} for each missing entry (observed ones are kept)

The M-step needs only sums over rows (``MaskedStats``), so a distributed pass computes the
statistics of each block, adds them up and calls ``update``; ``mstep`` is the in-memory form.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import sparse
from scipy.special import logsumexp

from spark_em.kernels import compiled
from spark_em.kernels.arrays import dense, record

MIN_VARIANCE = 0.25
LOG_WEIGHT_EPS = 1e-16


@record
class SphericalMixture(NamedTuple):
    """A spherical Gaussian mixture: ``weights`` p_j (K), ``means`` μ_j (K×d) and one variance
    σ_j² per component, ``variances`` (K); the names the complete-data ``gaussian.Mixture``
    gives its weights and means."""

    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray


def _mixture(mixture) -> SphericalMixture:
    """``mixture`` as float64 arrays; anything but a ``SphericalMixture`` is refused (a bare
    tuple's order could not be told)."""
    if not isinstance(mixture, SphericalMixture):
        raise TypeError(
            f"a SphericalMixture(weights, means, variances) is needed, not {type(mixture).__name__}"
        )
    return SphericalMixture(*(np.asarray(a, dtype=np.float64) for a in mixture))


@record
class MaskedStats(NamedTuple):
    """Sums over rows that the M-step needs; adding two of them merges two sets of rows."""

    log_likelihood: float  # Σ_u logsumexp_j f(u,j)
    n_rows: float  # rows (after a stepwise update: the rows the statistics stand for)
    resp: np.ndarray  # Σ_u p(j|u), shape K
    resp_x: np.ndarray  # Σ_u p(j|u) δ(i,C_u) x_ui, shape K×d
    resp_observed: np.ndarray  # Σ_u p(j|u) δ(i,C_u), shape K×d
    resp_sq_norm: np.ndarray  # Σ_u p(j|u) ‖x_{C_u}‖², shape K


def mixture_problem(mixture: SphericalMixture, n_cols: int | None = None) -> str | None:
    """What makes ``mixture`` unusable (for data with ``n_cols`` columns), or None."""
    p, mu, var = (np.asarray(a) for a in mixture)
    if mu.ndim != 2:
        return f"means is {mu.shape}, expected a K×d array"
    if n_cols is not None and mu.shape[1] != n_cols:
        return f"means is {mu.shape}, expected K×{n_cols} for this input"
    if var.shape != (len(mu),) or p.shape != (len(mu),):
        return f"variances and weights must hold K={len(mu)} numbers each"
    if not all(np.isfinite(np.asarray(a, dtype=np.float64)).all() for a in (mu, var, p)):
        return "it holds a number that is not finite"
    if (var <= 0).any():
        return "variances must be > 0"
    if (p < 0).any() or abs(p.sum() - 1) > 1e-6:
        return "weights must be >= 0 and add up to 1"
    return None


def _as_float(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=np.float64)


class _Rows(NamedTuple):
    """A block in float64 with its mask and squared norms, computed once per pass."""

    X: np.ndarray
    observed: np.ndarray  # δ(i, C_u) as 0/1 floats
    sq_norm: np.ndarray  # ‖x_{C_u}‖²

    @classmethod
    def of(cls, X) -> _Rows:
        if sparse.issparse(X):
            X = sparse.csr_array(X, dtype=np.float64, copy=True)
            X.eliminate_zeros()
            observed = X.copy()
            observed.data[:] = 1.0
            return cls(X, observed, np.asarray(X.multiply(X).sum(axis=1)).ravel())
        X = _as_float(X)
        return cls(X, (X != 0).astype(np.float64), np.einsum("ij,ij->i", X, X))


def _log_joint(
    rows: _Rows,
    mixture: SphericalMixture,
    cross: np.ndarray | None = None,
    observed_sq: np.ndarray | None = None,
) -> np.ndarray:
    """Equation (1); ``cross`` = X μᵀ and ``observed_sq`` = δ (μ²)ᵀ when already computed."""
    p, mu, var = (np.asarray(a, dtype=np.float64) for a in mixture)
    cross = rows.X @ mu.T if cross is None else cross
    observed_sq = rows.observed @ (mu * mu).T if observed_sq is None else observed_sq
    # ‖x_C − μ_C‖² = ‖x_C‖² − 2 x·μ + Σ_{i∈C} μ_i²  (x is 0 off C, so x·μ only sums over C)
    sq_dist = rows.sq_norm[:, None] - 2.0 * cross + observed_sq
    np.maximum(sq_dist, 0.0, out=sq_dist)
    n_observed = np.asarray(rows.observed.sum(axis=1)).ravel()
    return (
        np.log(p + LOG_WEIGHT_EPS)[None, :]
        - 0.5 * n_observed[:, None] * np.log(2.0 * np.pi * var)[None, :]
        - sq_dist / (2.0 * var)[None, :]
    )


def _posterior(rows: _Rows, mixture: SphericalMixture) -> tuple[np.ndarray, np.ndarray]:
    f = _log_joint(rows, mixture)
    row_ll = logsumexp(f, axis=1)
    return np.exp(f - row_ll[:, None]), row_ll


def _weighted_sums(post: np.ndarray, M) -> np.ndarray:
    """Σ_u post[u, j] M[u, i] for every (j, i): K×d."""
    return (M.T @ post).T if sparse.issparse(M) else post.T @ M


def _stats(rows: _Rows, post: np.ndarray, log_likelihood: float) -> MaskedStats:
    return MaskedStats(
        log_likelihood=float(log_likelihood),
        n_rows=rows.X.shape[0],
        resp=post.sum(axis=0),
        resp_x=_weighted_sums(post, rows.X),
        resp_observed=_weighted_sums(post, rows.observed),
        resp_sq_norm=post.T @ rows.sq_norm,
    )


def posterior(X: np.ndarray, mixture: SphericalMixture) -> tuple[np.ndarray, np.ndarray]:
    """Equation (2): posteriors p(j|u) (n×K) and each row's log-likelihood (n)."""
    return _posterior(_Rows.of(X), _mixture(mixture))


def estep(X: np.ndarray, mixture: SphericalMixture) -> tuple[np.ndarray, float]:
    """In-memory E-step: ``(post, log_likelihood)`` by equations (1)–(2)."""
    post, row_ll = posterior(X, _mixture(mixture))
    return post, float(row_ll.sum())


def sufficient_stats(X: np.ndarray, post: np.ndarray, log_likelihood: float = 0.0) -> MaskedStats:
    """The row sums behind equations (3)–(5) for the rows of ``X`` with posteriors ``post``."""
    return _stats(_Rows.of(X), post, log_likelihood)


def block_stats(X: np.ndarray, mixture: SphericalMixture) -> MaskedStats:
    """One pass over a block: its log-likelihood under ``mixture`` and its M-step sums."""
    return block_stats_many(X, [mixture])[0]


def block_stats_many(X: np.ndarray, mixtures: list) -> list[MaskedStats]:
    """``block_stats`` for several mixtures at once (several starts in one pass).

    The block is converted once, and the products that read the whole block (X μᵀ, δ (μ²)ᵀ,
    Σ p x and Σ p δ) are done once for all mixtures with their components side by side, so
    the block is read four times whatever the number of starts. Each component's column of a
    product is the same sum as in a product of its own, so each start's statistics are those
    of ``block_stats`` alone. Rows with no observed entry are left out of every sum (and of
    the row count), so they change neither the weights nor the log-likelihood.
    """
    if sparse.issparse(X) and compiled.ENABLED:
        return [_csr_stats_compiled(sparse.csr_array(X), _mixture(m)) for m in mixtures]
    rows = _Rows.of(X)
    n_observed = np.asarray(rows.observed.sum(axis=1)).ravel()
    if not n_observed.all():  # rows with nothing observed carry no information: left out
        rows = _Rows.of(X[n_observed > 0])
    mixtures = [_mixture(m) for m in mixtures]
    mus = [np.asarray(m.means, dtype=np.float64) for m in mixtures]
    cuts = np.cumsum([len(mu) for mu in mus])[:-1]
    stacked = np.vstack(mus)
    crosses = np.split(rows.X @ stacked.T, cuts, axis=1)
    observed_sqs = np.split(rows.observed @ (stacked * stacked).T, cuts, axis=1)
    posts, lls = [], []
    for mixture, cross, observed_sq in zip(mixtures, crosses, observed_sqs):
        f = _log_joint(rows, mixture, cross, observed_sq)
        row_ll = logsumexp(f, axis=1)
        posts.append(np.exp(f - row_ll[:, None]))
        lls.append(row_ll.sum())
    together = np.hstack(posts)
    resp_x = np.split(_weighted_sums(together, rows.X), cuts)
    resp_observed = np.split(_weighted_sums(together, rows.observed), cuts)
    return [
        MaskedStats(float(ll), rows.X.shape[0], post.sum(axis=0), rx, ro, post.T @ rows.sq_norm)
        for post, ll, rx, ro in zip(posts, lls, resp_x, resp_observed)
    ]


def _csr_stats_compiled(X: sparse.csr_array, mixture: SphericalMixture) -> MaskedStats:
    """``block_stats`` of a CSR block by the compiled loop over its observed entries
    (``compiled.masked_csr_pass``): the same sums, one row at a time, with ‖x_C − μ_C‖²
    summed directly."""
    mu = np.asarray(mixture.means, dtype=np.float64)
    K, d = mu.shape
    table = np.zeros((d, 3 * K))  # [μ | Σ p δ x | Σ p δ] per column of the data
    table[:, :K] = mu.T
    resp, resp_sq_norm = np.zeros(K), np.zeros(K)
    log_weight = np.log(np.asarray(mixture.weights, dtype=np.float64) + LOG_WEIGHT_EPS)
    ll, n_rows = compiled.masked_csr_pass(
        X.indptr,
        X.indices,
        X.data,
        table,
        log_weight,
        np.asarray(mixture.variances, dtype=np.float64),
        resp,
        resp_sq_norm,
    )
    return MaskedStats(
        float(ll),
        int(n_rows),
        resp,
        table[:, K : 2 * K].T.copy(),
        table[:, 2 * K :].T.copy(),
        resp_sq_norm,
    )


class MeanPrior(NamedTuple):
    """A normal prior on every component's mean of each column, centred on the column's
    observed mean ``centre`` (d), with the weight of ``strength`` observations:
    μ_{j,i} ~ N(m_i, σ_j² / τ). Its M-step (``update``) is the exact maximum of the
    log-likelihood plus the prior's log-density:

    μ̂_{j,i} = (Σ_u p δ x + τ m_i) / (Σ_u p δ + τ)
    σ̂_j² = (Σ_u p ‖x_C − μ̂_C‖² + τ ‖μ̂_j − m‖²) / (Σ_u |C_u| p + d)

    so a component with little mass on a column keeps a mean near the column's mean (never a
    value no rating supports), and one with much mass follows its ratings."""

    strength: float
    centre: np.ndarray


def update(
    stats: MaskedStats,
    previous_mu: np.ndarray,
    min_variance: float = MIN_VARIANCE,
    prior: MeanPrior | None = None,
) -> SphericalMixture:
    """Equations (3)–(5) from summed statistics, or with a ``prior`` its MAP form
    (``MeanPrior``).

    The variance follows from the sums without a second pass:
    Σ_u p ‖x_C − μ̂_C‖² = Σ_u p ‖x_C‖² − 2 Σ_i μ̂_i Σ_u p δ x + Σ_i μ̂_i² Σ_u p δ.
    Without a prior, a component with no observed weight at all keeps its previous means and
    gets the floor.
    """
    denom = stats.resp_observed
    if prior is not None and prior.strength > 0:
        tau, centre = float(prior.strength), np.asarray(prior.centre, dtype=np.float64)
        mu = (stats.resp_x + tau * centre) / (denom + tau)
        penalty = tau * ((mu - centre) ** 2).sum(axis=1)
        weight = denom.sum(axis=1) + mu.shape[1]
    else:
        previous_mu = np.asarray(previous_mu, dtype=np.float64)
        update_here = denom >= 1.0
        mu = np.where(update_here, stats.resp_x / np.where(update_here, denom, 1.0), previous_mu)
        penalty = 0.0
        weight = denom.sum(axis=1)
    sse = stats.resp_sq_norm - 2.0 * (mu * stats.resp_x).sum(axis=1) + (mu * mu * denom).sum(axis=1)
    sse = np.maximum(sse, 0.0) + penalty
    var = np.divide(sse, weight, out=np.zeros_like(sse), where=weight > 0)
    var = np.maximum(var, min_variance)
    p = stats.resp / stats.n_rows
    return SphericalMixture(weights=p, means=mu, variances=var)


def log_prior(mixture: SphericalMixture, prior: MeanPrior | None) -> float:
    """log p(μ) of the means under ``prior`` (0 without one): what EM with the prior adds to
    the log-likelihood it increases."""
    if prior is None or prior.strength <= 0:
        return 0.0
    mixture = _mixture(mixture)
    tau, centre = float(prior.strength), np.asarray(prior.centre, dtype=np.float64)
    var = mixture.variances[:, None]
    deviation = (mixture.means - centre) ** 2
    return float(np.sum(-0.5 * np.log(2.0 * np.pi * var / tau) - tau * deviation / (2.0 * var)))


def column_counts(X) -> np.ndarray:
    """How many entries of each column are observed (non-zero), dense or CSR."""
    if sparse.issparse(X):
        X = sparse.csr_array(X)
        return np.bincount(X.indices[X.data != 0], minlength=X.shape[1]).astype(np.float64)
    return (np.asarray(X) != 0).sum(axis=0).astype(np.float64)


def column_means(column_sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each column's mean observed value; a column with nothing observed gets the mean of
    all observed values."""
    overall = column_sums.sum() / max(counts.sum(), 1.0)
    return np.where(counts > 0, column_sums / np.maximum(counts, 1.0), overall)


def observed_distances(X, centres: np.ndarray) -> np.ndarray:
    """n×K: Σ_{i∈C_u} (x_ui − c_{j,i})², the squared distance of each row to each centre
    over the row's observed entries only (a missing entry is no evidence)."""
    rows = _Rows.of(X)
    centres = np.asarray(centres, dtype=np.float64)
    out = rows.sq_norm[:, None] - 2.0 * (rows.X @ centres.T) + rows.observed @ (centres**2).T
    return np.maximum(out, 0.0)


def filled(row: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """A row with its missing (0) entries taken from ``centre``: a start's means."""
    row = np.asarray(row, dtype=np.float64)
    return np.where(row != 0, row, centre)


def mstep(
    X: np.ndarray,
    post: np.ndarray,
    mu: np.ndarray | SphericalMixture,
    min_variance: float = MIN_VARIANCE,
) -> SphericalMixture:
    """In-memory M-step by equations (3)–(5); ``mu`` is the previous means (or mixture)."""
    previous_mu = mu.means if isinstance(mu, SphericalMixture) else mu
    return update(sufficient_stats(X, post), previous_mu, min_variance)


def complete(X: np.ndarray, mixture: SphericalMixture) -> np.ndarray:
    """Equation (6): observed entries kept, missing ones filled with Σ_j p(j|u) μ_{j,i}.
    Dense n×d out, whatever the block's form."""
    rows, mixture = _Rows.of(X), _mixture(mixture)
    post, _ = _posterior(rows, mixture)
    X = dense(rows.X)
    return np.where(X != 0, X, post @ np.asarray(mixture.means, dtype=np.float64))


def top_unobserved(
    X, mixture: SphericalMixture, n: int, chunk_rows: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the ``n`` missing columns with the highest completed value, best first:
    (columns, values), both n_rows×n; rows with fewer missing columns pad with column −1 and
    value NaN. The completed rows are formed ``chunk_rows`` at a time."""
    rows, mixture = _Rows.of(X), _mixture(mixture)
    post, _ = _posterior(rows, mixture)
    mu = np.asarray(mixture.means, dtype=np.float64)
    n_rows, d = post.shape[0], mu.shape[1]
    n = min(n, d)
    cols = np.full((n_rows, n), -1, dtype=np.int64)
    vals = np.full((n_rows, n), np.nan)
    for lo in range(0, n_rows, chunk_rows):
        hi = min(n_rows, lo + chunk_rows)
        scores = post[lo:hi] @ mu
        scores[dense(rows.observed[lo:hi]) > 0] = -np.inf
        part = (
            np.argpartition(-scores, n - 1, axis=1)[:, :n]
            if n < d
            else np.tile(np.arange(d), (hi - lo, 1))
        )
        picked = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-picked, axis=1, kind="stable")
        best_cols = np.take_along_axis(part, order, axis=1)
        best_vals = np.take_along_axis(picked, order, axis=1)
        keep = np.isfinite(best_vals)
        cols[lo:hi] = np.where(keep, best_cols, -1)
        vals[lo:hi] = np.where(keep, best_vals, np.nan)
    return cols, vals


def top_rows_per_column(
    X, mixture: SphericalMixture, n: int, columns: np.ndarray | None = None, chunk_rows: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """For each column (of ``columns``, or all), the ``n`` rows that have not rated it with
    the highest completed value, best first: (rows, values), both n × columns; columns with
    fewer such rows pad with row −1 and value NaN. Kept as a running best over chunks of
    ``chunk_rows`` rows."""
    rows, mixture = _Rows.of(X), _mixture(mixture)
    post, _ = _posterior(rows, mixture)
    mu = np.asarray(mixture.means, dtype=np.float64)
    columns = np.arange(mu.shape[1]) if columns is None else np.asarray(columns, dtype=np.int64)
    mu = mu[:, columns]
    best_rows = np.full((0, len(columns)), -1, dtype=np.int64)
    best_vals = np.full((0, len(columns)), -np.inf)
    for lo in range(0, post.shape[0], chunk_rows):
        hi = min(post.shape[0], lo + chunk_rows)
        scores = post[lo:hi] @ mu
        scores[dense(rows.observed[lo:hi])[:, columns] > 0] = -np.inf
        cand_vals = np.vstack([best_vals, scores])
        cand_rows = np.vstack([best_rows, np.repeat(np.arange(lo, hi)[:, None], len(columns), 1)])
        if cand_vals.shape[0] > n:
            keep = np.argpartition(-cand_vals, n - 1, axis=0)[:n]
            cand_vals = np.take_along_axis(cand_vals, keep, axis=0)
            cand_rows = np.take_along_axis(cand_rows, keep, axis=0)
        best_vals, best_rows = cand_vals, cand_rows
    order = np.argsort(-best_vals, axis=0, kind="stable")
    best_vals = np.take_along_axis(best_vals, order, axis=0)
    best_rows = np.take_along_axis(best_rows, order, axis=0)
    keep = np.isfinite(best_vals)
    return np.where(keep, best_rows, -1), np.where(keep, best_vals, np.nan)


def squared_errors(X: np.ndarray, X_pred: np.ndarray, X_gold: np.ndarray) -> np.ndarray:
    """[SSE over all entries, count, SSE over the missing entries of X, count of those]."""
    err = (dense(X_gold) - _as_float(X_pred)) ** 2
    missing = dense(X) == 0
    return np.array([err.sum(), err.size, err[missing].sum(), missing.sum()], dtype=np.float64)


def rmse_from_errors(errors: np.ndarray) -> tuple[float, float | None]:
    """(RMSE over all entries — the course's definition —, RMSE over the missing entries,
    None when no entry is missing)."""
    sse, n, sse_missing, n_missing = errors
    return float(np.sqrt(sse / n)), (float(np.sqrt(sse_missing / n_missing)) if n_missing else None)


def reference_rows(n_rows: int, k: int, seed: int) -> np.ndarray:
    """Rows the course's ``init`` takes as means:
    ``np.random.seed(seed); choice(n, K, replace=False)``."""
    return np.random.RandomState(seed).choice(n_rows, k, replace=False)


def init_variances(summary: np.ndarray, n_rows: int, mu: np.ndarray) -> np.ndarray:
    """The course's init variances, mean over all n·d entries of (X − μ_j)², missing zeros
    included: (Σ x² − 2 μ_j·Σ_u x_u + n‖μ_j‖²) / (n·d), from ``arrays.column_summary``."""
    mu = np.asarray(mu, dtype=np.float64)
    sum_sq, col_sums = summary[0], summary[1:]
    return (sum_sq - 2.0 * mu @ col_sums + n_rows * (mu * mu).sum(axis=1)) / (n_rows * mu.shape[1])


def reference_init(X: np.ndarray, k: int, seed: int) -> SphericalMixture:
    """The course's ``common.init`` on an in-memory matrix."""
    X = _as_float(X)
    mu = X[reference_rows(X.shape[0], k, seed)].copy()
    var = np.array([((X - m) ** 2).mean() for m in mu])
    return SphericalMixture(weights=np.full(k, 1.0 / k), means=mu, variances=var)
