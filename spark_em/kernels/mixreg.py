"""Kernels of the finite mixture of linear regressions (clusterwise regression). Pure numpy and
LAPACK.

A block's values hold one row per point, ``[label y, features x_1..x_p]``, as for weighted
least squares (``kernels.wols``), and its rows' weights w arrive apart. With X_i = (1, x_i)
(or x_i without an intercept), q coefficients per component and K components of weights π_k,
coefficients β_k and residual standard deviations σ_k:

(1) f(i,k) = log π_k − ½ log(2π σ_k²) − (y_i − X_i β_k)² / (2σ_k²)
(2) log-likelihood = Σ_i w_i logsumexp_k f(i,k);   r_ik = exp(f(i,k) − logsumexp_k f(i,k))
(3) π̂_k = Σ_i w_i r_ik / Σ_i w_i
(4) β̂_k minimises Σ_i w_i r_ik (y_i − X_i β)² (+ λ Σ_i w_i r_ik ‖β without the intercept‖²
    with a ridge ``reg_param`` λ): weighted least squares with weights w_i r_ik, solved by
    TSQR (``kernels.wols``, (15)): each block reduces √(w r_k)·[X | y] to one triangle per
    component, and two triangles combine by stacking and factoring again, so XᵀWX is never
    formed and an ill-conditioned design keeps its digits;
(5) σ̂_k² = Σ_i w_i r_ik (y_i − X_i β̂_k)² / Σ_i w_i r_ik, floored at ``SIGMA_FLOOR`` times
    the label's weighted standard deviation (the likelihood grows without bound as a
    component closes in on q points).

A component holding fewer effective rows (Σ w r) than coefficients has no unique fit: the
M-step refuses it in one line instead of letting the likelihood run to infinity.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import linalg

from spark_em.kernels.arrays import record, row_uniforms
from spark_em.kernels.kmeans import nearest
from spark_em.kernels.wols import LABEL, design, row_weights, triangle

SIGMA_FLOOR = 1e-3  # relative to the label's weighted standard deviation
LOG_WEIGHT_EPS = 1e-300
START_DRAW = 2**31 - 7  # the draw number of the random partitions that start EM


@record
class RegressionMixture(NamedTuple):
    """``weights`` π (K), ``coefficients`` β (K × q; the intercept first when the design has
    one) and ``sigmas`` σ (K), the residual standard deviations."""

    weights: np.ndarray
    coefficients: np.ndarray
    sigmas: np.ndarray


@record
class MixRegStats(NamedTuple):
    """Sums over rows that the M-step needs; ``add`` merges two sets of rows."""

    log_likelihood: float  # (2)
    n_rows: int
    label_sums: np.ndarray  # Σ w, Σ w y, Σ w y² (for the σ floor)
    resp: np.ndarray  # Σ w r_k, K
    factors: np.ndarray  # K × (q+1) × (q+1): the TSQR triangle of √(w r_k)·[X | y]


class Shipped(NamedTuple):
    """What a pass sends to the executors: the mixture and whether the design has an
    intercept."""

    mixture: RegressionMixture
    intercept: bool


def columns(values: np.ndarray, intercept: bool) -> np.ndarray:
    """A block's [X | y]ᵀ, (q+1) × n, row by row: a leading row of ones when ``intercept``,
    the features, the label last. The E-step and the triangles read it along rows."""
    values = np.asarray(values, dtype=np.float64)
    n, width = values.shape
    q = width - 1 + int(intercept)
    out = np.empty((q + 1, n))
    if intercept:
        out[0] = 1.0
    out[int(intercept) : q] = values[:, 1:].T
    out[q] = values[:, LABEL]
    return out


def log_joint(XyT: np.ndarray, mixture: RegressionMixture) -> np.ndarray:
    """(1) from a block's ``columns``: K × n."""
    p, beta, sigma = (np.asarray(a, dtype=np.float64) for a in mixture)
    q = XyT.shape[0] - 1
    f = beta @ XyT[:q]
    np.subtract(XyT[q], f, out=f)  # the residuals
    f *= f
    var = sigma * sigma
    f /= (-2.0 * var)[:, None]
    f += (np.log(p + LOG_WEIGHT_EPS) - 0.5 * np.log(2.0 * np.pi * var))[:, None]
    return f


def posterior(
    values: np.ndarray, shipped: Shipped, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(2): each row's posteriors r (n × K) and log-likelihood logsumexp_k f(i,k) (n)."""
    resp, row_ll = _posterior(columns(values, shipped.intercept), shipped.mixture)
    return resp.T, row_ll


def _posterior(XyT: np.ndarray, mixture: RegressionMixture) -> tuple[np.ndarray, np.ndarray]:
    """(2) from a block's ``columns``: r (K × n) and each row's log-likelihood (n)."""
    f = log_joint(XyT, mixture)
    top = f.max(axis=0)
    f -= top
    np.exp(f, out=f)
    total = f.sum(axis=0)
    f /= total
    return f, top + np.log(total)


def _stats(XyT: np.ndarray, w: np.ndarray, resp: np.ndarray, log_likelihood: float) -> MixRegStats:
    """(4)'s triangles and the sums beside them, from ``columns``, the row weights and the
    responsibilities r (K × n)."""
    q1, n = XyT.shape
    K = resp.shape[0]
    factors = np.empty((K, q1, q1))
    weighted = resp * w
    y, positive = XyT[q1 - 1], w > 0
    if not positive.all():  # a row of weight 0 adds nothing, whatever its values
        weighted[:, ~positive] = 0.0
        y, w = y[positive], w[positive]
    scaled = np.empty((q1, n))  # its transpose is Fortran-ordered: factored in place
    for k in range(K):
        np.multiply(XyT, np.sqrt(weighted[k]), out=scaled)
        factors[k] = triangle(scaled.T)
    return MixRegStats(
        log_likelihood=float(log_likelihood),
        n_rows=n,
        label_sums=np.array([w.sum(), w @ y, w @ (y * y)]),
        resp=weighted.sum(axis=1),
        factors=factors,
    )


def block_stats(values: np.ndarray, shipped: Shipped, weights: np.ndarray | None = None):
    """(2) and (4)'s sums for one block under the shipped mixture."""
    XyT = columns(values, shipped.intercept)
    w = row_weights(values, weights)
    resp, row_ll = _posterior(XyT, shipped.mixture)
    if weights is None:
        log_likelihood = float(row_ll.sum())
    else:
        positive = w > 0  # a row of weight 0 adds nothing, even where its density is 0
        log_likelihood = float(w[positive] @ row_ll[positive])
    return _stats(XyT, w, resp, log_likelihood)


def partition_stats(
    values: np.ndarray,
    offset: int,
    start: tuple[int, int, bool],
    weights: np.ndarray | None = None,
) -> MixRegStats:
    """The sums of (4) for a random partition of the rows into K parts: row i (global index
    ``offset`` + local) goes to part ⌊K·u_i⌋ with u_i a hash of (seed, i), whatever the
    blocking. ``start`` is (K, seed, intercept)."""
    k, seed, intercept = start
    rows = offset + np.arange(np.shape(values)[0])
    part = np.minimum((row_uniforms(seed, START_DRAW, rows) * k).astype(np.int64), k - 1)
    return _parts_stats(values, part, k, intercept, weights)


def assigned_stats(
    values: np.ndarray, centres: np.ndarray, intercept: bool, weights: np.ndarray | None = None
) -> MixRegStats:
    """The sums of (4) with each row wholly in the part of its nearest centre (squared
    Euclidean distance over the block's columns [y, x]; K × (1 + p) centres)."""
    part, _ = nearest(np.asarray(values, dtype=np.float64), centres)
    return _parts_stats(values, part, len(centres), intercept, weights)


def _parts_stats(values, part: np.ndarray, k: int, intercept: bool, weights) -> MixRegStats:
    XyT = columns(values, intercept)
    n = XyT.shape[1]
    resp = np.zeros((k, n))
    resp[part, np.arange(n)] = 1.0
    return _stats(XyT, row_weights(values, weights), resp, 0.0)


def add(a: MixRegStats, b: MixRegStats) -> MixRegStats:
    """Two blocks' (or two sums') statistics as one: each component's triangles stacked and
    factored again."""
    factors = np.stack([triangle(np.vstack([fa, fb])) for fa, fb in zip(a.factors, b.factors)])
    return MixRegStats(
        a.log_likelihood + b.log_likelihood,
        a.n_rows + b.n_rows,
        a.label_sums + b.label_sums,
        a.resp + b.resp,
        factors,
    )


def sigma_floor(stats: MixRegStats) -> float:
    """``SIGMA_FLOOR`` times the label's weighted standard deviation (times 1 for a constant
    label)."""
    total, first, second = (float(v) for v in stats.label_sums)
    spread = max(second / total - (first / total) ** 2, 0.0) if total > 0 else 0.0
    return SIGMA_FLOOR * (np.sqrt(spread) if spread > 0 else 1.0)


def update(stats: MixRegStats, intercept: bool, reg_param: float = 0.0) -> RegressionMixture:
    """(3)–(5) from summed statistics.

    Parameters
    ----------
    stats : MixRegStats
        The summed statistics of a pass.
    intercept : bool
        Whether the design's first coefficient is the intercept (not penalised).
    reg_param : float, default 0
        λ of the ridge penalty λ Σ w r_k ‖β_k‖² on each component's features.

    Returns
    -------
    RegressionMixture
        The M-step's mixture. A component with fewer effective rows than coefficients is a
        ``ValueError`` naming it.

    Examples
    --------
    >>> from spark_em.kernels import mixreg
    >>> shipped = mixreg.Shipped(mixture, intercept=True)
    >>> stats = mixreg.block_stats(values, shipped)
    >>> mixture = mixreg.update(stats, intercept=True)
    """
    K, q1, _ = stats.factors.shape
    q = q1 - 1
    resp = np.asarray(stats.resp, dtype=np.float64)
    floor = sigma_floor(stats)
    coefficients = np.empty((K, q))
    sigmas = np.empty(K)
    for k in range(K):
        if not resp[k] >= q or (reg_param > 0 and intercept and not resp[k] > 0):
            raise ValueError(
                f"component {k} holds {resp[k]:.3g} effective rows, fewer than its {q} "
                "coefficients: its fit is not unique (fewer components, a ridge regParam, "
                "or another start)"
            )
        full = stats.factors[k]
        factor = full
        if reg_param > 0:
            penalty = np.zeros((q - intercept, q + 1))
            penalty[:, int(intercept) : q] = np.sqrt(reg_param * resp[k]) * np.eye(q - intercept)
            factor = triangle(np.vstack([full, penalty]))
        R = factor[:q, :q]
        if not np.all(np.abs(np.diag(R)) > 0):
            raise ValueError(
                f"component {k}'s weighted design is rank-deficient: its coefficients are "
                "not identified (fewer components, a ridge regParam, or another start)"
            )
        beta = linalg.solve_triangular(R, factor[:q, q])
        residual = full @ np.r_[beta, -1.0]  # ‖R̃ [β; −1]‖² = Σ w r (y − Xβ)²
        coefficients[k] = beta
        sigmas[k] = max(np.sqrt(residual @ residual / resp[k]), floor)
    return RegressionMixture(resp / resp.sum(), coefficients, sigmas)


# --- the observed information of the log-likelihood (2), for standard errors
#
# θ = (β_1, σ_1, …, β_K, σ_K, π_1, …, π_{K−1}), π_K = 1 − Σ_{j<K} π_j. With e = y − Xβ_k,
# log f_k = log π_k − log σ_k − ½ log 2π − e²/(2σ_k²) has the gradient g_k: Xe/σ² (β_k),
# −1/σ + e²/σ³ (σ_k), 1/π_k (π_k, k < K) or −1/π_K (every π_j, k = K); and the Hessian
# −XXᵀ/σ² (β_kβ_k), −2Xe/σ³ (β_kσ_k), 1/σ² − 3e²/σ⁴ (σ_kσ_k), −1/π_k² (π_kπ_k, k < K) or
# −1/π_K² (every π_jπ_l, k = K). A row's log-likelihood ℓ = log Σ_k f_k then has
# ∇ℓ = Σ_k r_k g_k and ∇²ℓ = Σ_k r_k (∇² log f_k + g_k g_kᵀ) − ∇ℓ ∇ℓᵀ, and the observed
# information is J = −Σ_i w_i ∇²ℓ_i (Louis 1982; McLachlan & Peel 2000, §2.15).


def n_params(k: int, q: int) -> int:
    """The free parameters: k·q coefficients, k sigmas, k − 1 weights."""
    return k * (q + 1) + k - 1


def bic(log_likelihood: float, k: int, q: int, n: float) -> float:
    """−2·LL + m·log n, m = ``n_params``, n the rows (or their weights' sum), as
    scikit-learn's mixtures count it; lower is better."""
    return -2.0 * log_likelihood + n_params(k, q) * float(np.log(n))


def aic(log_likelihood: float, k: int, q: int) -> float:
    """−2·LL + 2m; lower is better."""
    return -2.0 * log_likelihood + 2.0 * n_params(k, q)


def information_stats(values: np.ndarray, shipped: Shipped, weights: np.ndarray | None = None):
    """J's sum over a block's rows (P × P, P = ``n_params``) under the shipped mixture, in
    the order β_1, σ_1, …, β_K, σ_K, π_1, …, π_{K−1}."""
    X, y, w = design(values, shipped.intercept, weights)
    p, beta, sigma = (np.asarray(a, dtype=np.float64) for a in shipped.mixture)
    n, q = X.shape
    K = len(p)
    P = n_params(K, q)
    resp = _posterior(columns(values, shipped.intercept), shipped.mixture)[0].T
    hessian = np.zeros((P, P))
    total = np.zeros((n, P))  # ∇ℓ per row
    outer = np.zeros((P, P))  # Σ w Σ_k r_k g_k g_kᵀ
    pis = slice(K * (q + 1), P)
    for k in range(K):
        at = slice(k * (q + 1), k * (q + 1) + q)
        s_at = k * (q + 1) + q
        e = y - X @ beta[k]
        s = sigma[k]
        wr = w * resp[:, k]
        g = np.zeros((n, P))
        g[:, at] = X * (e / s**2)[:, None]
        g[:, s_at] = -1.0 / s + e * e / s**3
        if k < K - 1:
            g[:, K * (q + 1) + k] = 1.0 / p[k]
            hessian[K * (q + 1) + k, K * (q + 1) + k] -= wr.sum() / p[k] ** 2
        else:
            g[:, pis] = -1.0 / p[k]
            hessian[pis, pis] -= wr.sum() / p[k] ** 2
        hessian[at, at] -= (X.T * wr) @ X / s**2
        cross = -2.0 * (X.T @ (wr * e)) / s**3
        hessian[at, s_at] += cross
        hessian[s_at, at] += cross
        hessian[s_at, s_at] += wr @ (1.0 / s**2 - 3.0 * e * e / s**4)
        outer += (g.T * wr) @ g
        total += resp[:, k][:, None] * g
    return -(hessian + outer - (total.T * w) @ total)


def add_information(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two blocks' sums of J as one."""
    return a + b


def standard_errors(information: np.ndarray, k: int, q: int) -> dict[str, np.ndarray]:
    """Standard errors from the observed information J (its inverse is the parameters'
    covariance): ``coefficients`` (k × q), ``sigmas`` (k) and ``weights`` (k; π_K's by the
    delta method, Var(π_K) = 1ᵀ Cov(π_1..π_{K−1}) 1). A J that is not positive definite (a
    fit that is not a maximum) is a ``ValueError``."""
    try:
        linalg.cholesky(information)
    except linalg.LinAlgError:
        raise ValueError(
            "the observed information is not positive definite: the fit is not at a maximum "
            "of the likelihood (not converged, a σ at its floor, or an empty component)"
        ) from None
    cov = linalg.inv(information)
    per = cov[: k * (q + 1), : k * (q + 1)].diagonal().reshape(k, q + 1)
    pis = cov[k * (q + 1) :, k * (q + 1) :]
    last = np.ones(k - 1) @ pis @ np.ones(k - 1) if k > 1 else 0.0
    return {
        "coefficients": np.sqrt(per[:, :q]),
        "sigmas": np.sqrt(per[:, q]),
        "weights": np.sqrt(np.r_[pis.diagonal(), last]),
    }
