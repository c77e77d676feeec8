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

Concomitant variables (a gate; flexmix's ``concomitant``): the weights depend on a row's gate
covariates z_i through a multinomial logit, with Z_i = (1, z_i) and Γ (K × (m+1)) whose first
row is 0 (the first component is the reference):

(6) log π_ik = Z_i Γ_k − logsumexp_j Z_i Γ_j, in place of log π_k in (1);
(7) the M-step's Γ maximises Q(Γ) = Σ_i w_i Σ_k r_ik log π_ik, a weighted multinomial logit on
    the responsibilities. One Newton step from the shipped Γ a pass (the EM-gradient
    algorithm, Lange 1995): the gradient g_k = Σ w (r_ik − π_ik) Z_i and the negative Hessian
    H_kl = Σ w π_ik (δ_kl − π_il) Z_i Z_iᵀ (k, l ≥ 2) are summed beside the triangles, and
    Γ' = Γ + t·H⁻¹g, with t ≤ 1 so that the step moves no row's log-odds by more than
    ``GATE_STEP`` (a full Newton step from a poor start can overshoot and lower the
    likelihood). Its fixed points are EM's: where g = 0. ``weights`` are then the
    responsibilities' mean, which at a fixed point is the mean of the π_ik.

A block then holds ``[y, x_1..x_p, z_1..z_m]``, and ``Shipped.gates`` is m.
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
GATE_STEP = 4.0  # the most a gate step moves a row's log-odds of a component (7)


@record
class RegressionMixture(NamedTuple):
    """``weights`` π (K), ``coefficients`` β (K × q; the intercept first when the design has
    one), ``sigmas`` σ (K), the residual standard deviations, and ``gate`` Γ (K × (m+1), (6);
    the gate's intercepts first, the first row 0) or None for weights that do not depend on
    covariates."""

    weights: np.ndarray
    coefficients: np.ndarray
    sigmas: np.ndarray
    gate: np.ndarray | None = None


@record
class MixRegStats(NamedTuple):
    """Sums over rows that the M-step needs; ``add`` merges two sets of rows."""

    log_likelihood: float  # (2)
    n_rows: int
    label_sums: np.ndarray  # Σ w, Σ w y, Σ w y² (for the σ floor)
    resp: np.ndarray  # Σ w r_k, K
    factors: np.ndarray  # K × (q+1) × (q+1): the TSQR triangle of √(w r_k)·[X | y]
    gate_gradient: np.ndarray = np.zeros(0)  # (7)'s g, (K−1)(m+1); empty without a gate
    gate_hessian: np.ndarray = np.zeros((0, 0))  # (7)'s H
    gate_scale: np.ndarray = np.zeros(0)  # max |Z_ij| over the rows, per column (a max, not a sum)


class Shipped(NamedTuple):
    """What a pass sends to the executors: the mixture, whether the design has an intercept,
    and how many gate covariates end each row (0: none)."""

    mixture: RegressionMixture
    intercept: bool
    gates: int = 0


def columns(values: np.ndarray, intercept: bool, gates: int = 0) -> np.ndarray:
    """A block's [X | y]ᵀ, (q+1) × n, row by row: a leading row of ones when ``intercept``,
    the features (without the last ``gates`` columns), the label last. The E-step and the
    triangles read it along rows."""
    values = np.asarray(values, dtype=np.float64)
    n, width = values.shape
    q = width - 1 - gates + int(intercept)
    out = np.empty((q + 1, n))
    if intercept:
        out[0] = 1.0
    out[int(intercept) : q] = values[:, 1 : width - gates].T
    out[q] = values[:, LABEL]
    return out


def gate_columns(values: np.ndarray, gates: int) -> np.ndarray:
    """A block's Zᵀ, (m+1) × n: a row of ones and the last ``gates`` columns."""
    values = np.asarray(values, dtype=np.float64)
    return np.vstack([np.ones(len(values)), values[:, values.shape[1] - gates :].T])


def log_gate(ZT: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """(6): log π_ik, K × n."""
    a = np.asarray(gate, dtype=np.float64) @ ZT
    top = a.max(axis=0)
    return a - (top + np.log(np.exp(a - top).sum(axis=0)))


def log_joint(
    XyT: np.ndarray, mixture: RegressionMixture, log_weights: np.ndarray | None = None
) -> np.ndarray:
    """(1) from a block's ``columns``: K × n; ``log_weights`` (6)'s log π_ik in place of
    log π_k."""
    p, beta, sigma = (np.asarray(a, dtype=np.float64) for a in mixture[:3])
    q = XyT.shape[0] - 1
    f = beta @ XyT[:q]
    np.subtract(XyT[q], f, out=f)  # the residuals
    f *= f
    var = sigma * sigma
    f /= (-2.0 * var)[:, None]
    f -= (0.5 * np.log(2.0 * np.pi * var))[:, None]
    if log_weights is None:
        f += np.log(p + LOG_WEIGHT_EPS)[:, None]
    else:
        f += log_weights
    return f


def posterior(
    values: np.ndarray, shipped: Shipped, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(2): each row's posteriors r (n × K) and log-likelihood logsumexp_k f(i,k) (n)."""
    e = _e_step(values, shipped)
    return e.resp.T, e.row_ll


def prior(values: np.ndarray, shipped: Shipped) -> np.ndarray:
    """Each row's weights before its label is seen, n × K: π, or (6)'s π_ik with a gate."""
    mixture = shipped.mixture
    if mixture.gate is None:
        return np.tile(np.asarray(mixture.weights, dtype=np.float64), (len(values), 1))
    return np.exp(log_gate(gate_columns(values, shipped.gates), mixture.gate)).T


class EStep(NamedTuple):
    """A block under the shipped mixture: r (K × n), each row's log-likelihood (n), its
    ``columns``, and with a gate its Zᵀ and (6)'s log π (K × n), else None."""

    resp: np.ndarray
    row_ll: np.ndarray
    XyT: np.ndarray
    ZT: np.ndarray | None
    log_weights: np.ndarray | None


def _e_step(values: np.ndarray, shipped: Shipped) -> EStep:
    """(2) for a block (with (6)'s weights when the mixture has a gate)."""
    XyT = columns(values, shipped.intercept, shipped.gates)
    ZT = log_weights = None
    if shipped.mixture.gate is not None:
        ZT = gate_columns(values, shipped.gates)
        log_weights = log_gate(ZT, shipped.mixture.gate)
    resp, row_ll = _posterior(XyT, shipped.mixture, log_weights)
    return EStep(resp, row_ll, XyT, ZT, log_weights)


def _posterior(
    XyT: np.ndarray, mixture: RegressionMixture, log_weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(2) from a block's ``columns``: r (K × n) and each row's log-likelihood (n)."""
    f = log_joint(XyT, mixture, log_weights)
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


def _gate_sums(ZT: np.ndarray, w: np.ndarray, resp: np.ndarray, pi: np.ndarray):
    """(7)'s gradient g ((K−1)(m+1)) and negative Hessian H from Zᵀ, the row weights, the
    responsibilities r and the gate's π (K × n)."""
    K = resp.shape[0]
    positive = w > 0
    if not positive.all():  # a row of weight 0 adds nothing, whatever its values
        ZT, w, resp, pi = ZT[:, positive], w[positive], resp[:, positive], pi[:, positive]
    m1 = ZT.shape[0]
    gradient = ((resp[1:] - pi[1:]) * w) @ ZT.T
    hessian = np.empty((K - 1, m1, K - 1, m1))
    for k in range(1, K):
        for j in range(k, K):
            c = w * pi[k] * ((k == j) - pi[j])
            hessian[k - 1, :, j - 1, :] = (ZT * c) @ ZT.T
            hessian[j - 1, :, k - 1, :] = hessian[k - 1, :, j - 1, :].T
    return gradient.ravel(), hessian.reshape((K - 1) * m1, (K - 1) * m1)


def block_stats(values: np.ndarray, shipped: Shipped, weights: np.ndarray | None = None):
    """(2) and (4)'s sums for one block under the shipped mixture, and (7)'s with a gate."""
    w = row_weights(values, weights)
    e = _e_step(values, shipped)
    if weights is None:
        log_likelihood = float(e.row_ll.sum())
    else:
        positive = w > 0  # a row of weight 0 adds nothing, even where its density is 0
        log_likelihood = float(w[positive] @ e.row_ll[positive])
    stats = _stats(e.XyT, w, e.resp, log_likelihood)
    if e.ZT is None or e.log_weights is None:
        return stats
    gradient, hessian = _gate_sums(e.ZT, w, e.resp, np.exp(e.log_weights))
    scale = np.abs(e.ZT[:, w > 0]).max(axis=1, initial=0.0)
    return stats._replace(gate_gradient=gradient, gate_hessian=hessian, gate_scale=scale)


def partition_stats(
    values: np.ndarray,
    offset: int,
    start: tuple,
    weights: np.ndarray | None = None,
) -> MixRegStats:
    """The sums of (4) for a random partition of the rows into K parts: row i (global index
    ``offset`` + local) goes to part ⌊K·u_i⌋ with u_i a hash of (seed, i), whatever the
    blocking. ``start`` is (K, seed, intercept) or (K, seed, intercept, gates)."""
    k, seed, intercept = start[:3]
    gates = start[3] if len(start) > 3 else 0
    rows = offset + np.arange(np.shape(values)[0])
    part = np.minimum((row_uniforms(seed, START_DRAW, rows) * k).astype(np.int64), k - 1)
    return _parts_stats(values, part, k, intercept, weights, gates)


def assigned_stats(
    values: np.ndarray,
    centres: np.ndarray,
    intercept: bool,
    weights: np.ndarray | None = None,
    gates: int = 0,
) -> MixRegStats:
    """The sums of (4) with each row wholly in the part of its nearest centre (squared
    Euclidean distance over all the block's columns, [y, x] and the gate's; a centre per
    component)."""
    values = np.asarray(values, dtype=np.float64)
    part, _ = nearest(values, centres)
    return _parts_stats(values, part, len(centres), intercept, weights, gates)


def _parts_stats(
    values, part: np.ndarray, k: int, intercept: bool, weights, gates: int = 0
) -> MixRegStats:
    XyT = columns(values, intercept, gates)
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
        a.gate_gradient + b.gate_gradient,
        a.gate_hessian + b.gate_hessian,
        np.maximum(a.gate_scale, b.gate_scale),
    )


def sigma_floor(stats: MixRegStats) -> float:
    """``SIGMA_FLOOR`` times the label's weighted standard deviation (times 1 for a constant
    label)."""
    total, first, second = (float(v) for v in stats.label_sums)
    spread = max(second / total - (first / total) ** 2, 0.0) if total > 0 else 0.0
    return SIGMA_FLOOR * (np.sqrt(spread) if spread > 0 else 1.0)


def update(
    stats: MixRegStats, intercept: bool, reg_param: float = 0.0, gate: np.ndarray | None = None
) -> RegressionMixture:
    """(3)–(5) from summed statistics, and (7)'s Newton step from the shipped ``gate``.

    Parameters
    ----------
    stats : MixRegStats
        The summed statistics of a pass.
    intercept : bool
        Whether the design's first coefficient is the intercept (not penalised).
    reg_param : float, default 0
        λ of the ridge penalty λ Σ w r_k ‖β_k‖² on each component's features.
    gate : numpy.ndarray, optional
        The Γ (K × (m+1)) the pass was shipped with, when the mixture has a gate.

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
    weights = resp / resp.sum()
    if gate is None:
        return RegressionMixture(weights, coefficients, sigmas)
    return RegressionMixture(weights, coefficients, sigmas, gate_step(stats, gate))


def gate_step(stats: MixRegStats, gate: np.ndarray) -> np.ndarray:
    """(7): Γ + t·H⁻¹g, the first row kept at 0, t ≤ 1 the largest step that moves no row's
    log-odds by more than ``GATE_STEP`` (bounded by Σ_j |δ_kj|·max_i |Z_ij|). H is positive
    semi-definite; where it is singular (collinear gate covariates, or weights π at 0 or 1)
    a relative 1e-10 on its diagonal keeps the step finite (the fixed points, g = 0, do not
    move)."""
    gate = np.asarray(gate, dtype=np.float64)
    H, g = stats.gate_hessian, stats.gate_gradient
    if g.size == 0:
        return gate
    ridge = 1e-10 * max(float(np.abs(np.diag(H)).max()), 1e-300)
    try:
        step = linalg.solve(H + ridge * np.eye(len(g)), g, assume_a="pos")
    except (linalg.LinAlgError, ValueError):
        step = np.full(len(g), np.nan)
    if not np.all(np.isfinite(step)):
        raise ValueError(
            "the gate's Newton step is not finite: its covariates are collinear or separate "
            "the components (remove a covariate that predicts the component exactly, or fewer "
            "components)"
        )
    step = step.reshape(gate.shape[0] - 1, gate.shape[1])
    reach = float((np.abs(step) * stats.gate_scale).sum(axis=1).max())
    if reach > GATE_STEP:
        step *= GATE_STEP / reach
    out = gate.copy()
    out[1:] += step
    return out


# --- the observed information of the log-likelihood (2), for standard errors
#
# θ = (β_1, σ_1, …, β_K, σ_K, π_1, …, π_{K−1}), π_K = 1 − Σ_{j<K} π_j. With e = y − Xβ_k,
# log f_k = log π_k − log σ_k − ½ log 2π − e²/(2σ_k²) has the gradient g_k: Xe/σ² (β_k),
# −1/σ + e²/σ³ (σ_k), 1/π_k (π_k, k < K) or −1/π_K (every π_j, k = K); and the Hessian
# −XXᵀ/σ² (β_kβ_k), −2Xe/σ³ (β_kσ_k), 1/σ² − 3e²/σ⁴ (σ_kσ_k), −1/π_k² (π_kπ_k, k < K) or
# −1/π_K² (every π_jπ_l, k = K). A row's log-likelihood ℓ = log Σ_k f_k then has
# ∇ℓ = Σ_k r_k g_k and ∇²ℓ = Σ_k r_k (∇² log f_k + g_k g_kᵀ) − ∇ℓ ∇ℓᵀ, and the observed
# information is J = −Σ_i w_i ∇²ℓ_i (Louis 1982; McLachlan & Peel 2000, §2.15).
#
# With a gate, Γ_2, …, Γ_K take the weights' place in θ: log π_k (6) has the gradient
# (δ_kj − π_j) Z in Γ_j and the Hessian −π_j (δ_jl − π_l) Z Zᵀ in Γ_j Γ_l, the same for
# every k, so that Σ_k r_k of it is minus (7)'s H.


def n_params(k: int, q: int, gate_width: int = 1) -> int:
    """The free parameters: k·q coefficients, k sigmas, and k − 1 weights, or (k − 1) ×
    ``gate_width`` gate coefficients (m + 1 with m covariates)."""
    return k * (q + 1) + (k - 1) * gate_width


def bic(log_likelihood: float, k: int, q: int, n: float, gate_width: int = 1) -> float:
    """−2·LL + m·log n, m = ``n_params``, n the rows (or their weights' sum), as
    scikit-learn's mixtures count it; lower is better."""
    return -2.0 * log_likelihood + n_params(k, q, gate_width) * float(np.log(n))


def aic(log_likelihood: float, k: int, q: int, gate_width: int = 1) -> float:
    """−2·LL + 2m; lower is better."""
    return -2.0 * log_likelihood + 2.0 * n_params(k, q, gate_width)


def information_stats(values: np.ndarray, shipped: Shipped, weights: np.ndarray | None = None):
    """J's sum over a block's rows (P × P, P = ``n_params``) under the shipped mixture, in
    the order β_1, σ_1, …, β_K, σ_K, then π_1, …, π_{K−1} or, with a gate, Γ_2, …, Γ_K."""
    values = np.asarray(values, dtype=np.float64)
    body = values[:, : values.shape[1] - shipped.gates]
    X, y, w = design(body, shipped.intercept, weights)
    mixture = shipped.mixture
    p, beta, sigma = (np.asarray(a, dtype=np.float64) for a in mixture[:3])
    n, q = X.shape
    K = len(p)
    e_step = _e_step(values, shipped)
    resp = e_step.resp.T
    ZT, log_weights = e_step.ZT, e_step.log_weights
    m1 = 1 if ZT is None else ZT.shape[0]
    tail = K * (q + 1)
    P = n_params(K, q, m1)
    hessian = np.zeros((P, P))
    total = np.zeros((n, P))  # ∇ℓ per row
    outer = np.zeros((P, P))  # Σ w Σ_k r_k g_k g_kᵀ
    pis = slice(tail, P)
    gated = ZT is not None and log_weights is not None
    if ZT is not None and log_weights is not None:
        pi = np.exp(log_weights)
        hessian[pis, pis] -= _gate_sums(ZT, w, e_step.resp, pi)[1]
        Z = ZT.T
    for k in range(K):
        at = slice(k * (q + 1), k * (q + 1) + q)
        s_at = k * (q + 1) + q
        e = y - X @ beta[k]
        s = sigma[k]
        wr = w * resp[:, k]
        g = np.zeros((n, P))
        g[:, at] = X * (e / s**2)[:, None]
        g[:, s_at] = -1.0 / s + e * e / s**3
        if gated:
            for j in range(1, K):
                g[:, tail + (j - 1) * m1 : tail + j * m1] = ((k == j) - pi[j])[:, None] * Z
        elif k < K - 1:
            g[:, tail + k] = 1.0 / p[k]
            hessian[tail + k, tail + k] -= wr.sum() / p[k] ** 2
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


def standard_errors(
    information: np.ndarray, k: int, q: int, gate_width: int | None = None
) -> dict[str, np.ndarray]:
    """Standard errors from the observed information J (its inverse is the parameters'
    covariance): ``coefficients`` (k × q), ``sigmas`` (k), and ``weights`` (k; π_K's by the
    delta method, Var(π_K) = 1ᵀ Cov(π_1..π_{K−1}) 1) or, with a gate of ``gate_width``
    columns, ``gate`` (k × gate_width; the reference first row 0). A J that is not positive
    definite (a fit that is not a maximum) is a ``ValueError``."""
    try:
        linalg.cholesky(information)
    except linalg.LinAlgError:
        raise ValueError(
            "the observed information is not positive definite: the fit is not at a maximum "
            "of the likelihood (not converged, a σ at its floor, or an empty component)"
        ) from None
    cov = linalg.inv(information)
    per = cov[: k * (q + 1), : k * (q + 1)].diagonal().reshape(k, q + 1)
    errors = {"coefficients": np.sqrt(per[:, :q]), "sigmas": np.sqrt(per[:, q])}
    rest = cov[k * (q + 1) :, k * (q + 1) :]
    if gate_width is not None:
        errors["gate"] = np.vstack(
            [np.zeros(gate_width), np.sqrt(rest.diagonal()).reshape(k - 1, gate_width)]
        )
        return errors
    last = np.ones(k - 1) @ rest @ np.ones(k - 1) if k > 1 else 0.0
    errors["weights"] = np.sqrt(np.r_[rest.diagonal(), last])
    return errors
