"""Kernels of the Gaussian mixture on complete data.

Pure numpy/scipy. Covariance types: ``full`` (K×d×d), ``tied`` (d×d), ``diag`` (K×d) and
``spherical`` (K). Densities stay in the log domain through the Cholesky factors of the
precisions (no inverse is formed):

(7)  log N(x; μ_k, Σ_k) = −½ d log 2π + Σ_i log diag(P_k)_i − ½ ‖(x − μ_k)ᵀ P_k‖²,
     with P_k Pₖᵀ = Σ_k⁻¹ (P_k = L_k⁻ᵀ for Σ_k = L_k L_kᵀ)
(8)  log-likelihood = Σ_u logsumexp_k [log w_k + log N(x_u; μ_k, Σ_k)]; r_uk = posterior
(9)  N_k = Σ_u r_uk,  w_k = N_k / n,  μ_k = Σ_u r_uk x_u / N_k
(10) full Σ_k = Σ_u r_uk (x_u − μ_k)(x_u − μ_k)ᵀ / N_k + reg·I; tied: Σ_k summed over k and
     divided by n; diag: the diagonal only; spherical: the mean of the diagonal.

Each pass sums statistics centred on the current means m_k (``GaussianStats``), which keeps
the second moments free of cancellation when the data sit far from the origin:
S1_k = Σ r (x − m_k), S2_k = Σ r (x − m_k)(x − m_k)ᵀ (or its diagonal). Then
μ_k = m_k + S1_k/N_k and N_k Σ_k = S2_k − S1_k S1_kᵀ / N_k.

How a block is computed, for throughput: the rows are centred once on the block's mean c
(x̃ = x − c, δ_k = m_k − c), so that no product below cancels for data far from the origin.
The whitened rows y_k = (x − m_k) P_k = x̃ P_k − δ_k P_k of every component come from one
matrix product x̃ [P_1 … P_K] (full), one x̃ P (tied) or one broadcast (diag, spherical), a
few hundred rows at a time so that they stay in cache. They give the log-densities (7) by a
sum of squares, and the statistics without another pass over x: since x − m_k = y_k L_kᵀ
(L_k L_kᵀ = Σ_k), S1_k = (Σ r y_k) L_kᵀ and S2_k = L_k (Σ r y_kᵀ y_k) L_kᵀ (diag, spherical:
the same with L_k = σ_k). The log-sum-exp (8) is the max-shifted one, written out.

Diagonal and spherical covariances with many components (``products_pay``) take matrix
products instead, a few thousand rows at a time: with p_k = 1/σ_k² (per coordinate) and
A = [x̃², x̃] (n × 2d), the log-densities of every component are one product

(11) log w_k + log N(x; μ_k, Σ_k) = A [−½ p_k; p_k δ_k] + log w_k − ½ d log 2π
     + ½ Σ_i log p_ki − ½ Σ_i p_ki δ_ki²,

and the statistics one more, rᵀA = [Σ r x̃², Σ r x̃], from which S1_k = Σ r x̃ − N_k δ_k and
S2_k = Σ r x̃² − 2 δ_k Σ r x̃ + N_k δ_k². Both are level-3 BLAS; the expansion loses
log10(spread²/σ²) digits against the whitened form (a component of σ 1e-2 in data of spread
1 keeps about 12), which the block's centring keeps small for data far from the origin.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import linalg

from spark_em.kernels import compiled
from spark_em.kernels.arrays import record

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
REG_COVAR = 1e-6
# A component whose responsibilities sum to less than this keeps its mean and covariance
# (there is nothing to estimate them from) and its weight falls to N_k / n.
EMPTY_COMPONENT = 1e-10
LOG_2PI = np.log(2 * np.pi)
# Rows per chunk: enough that the whitened rows of all components (rows × K × d numbers) fill
# about 256 KiB, and no fewer than MIN_CHUNK_ROWS (below that the calls cost more than the work).
CHUNK_NUMBERS = 2**15
MIN_CHUNK_ROWS = 96
# Diagonal and spherical covariances take the matrix products (11) from PRODUCTS_MIN_DIMS
# dimensions and K·d of at least PRODUCTS_MIN_WORK (twice that below 64 dimensions); the
# compiled loop below. Measured on one core, 4096-row blocks (benchmarks/bench_gmm.py
# --many-components): even at d = 64, K = 16 and at d = 16 up to K = 256; the products 1.4x
# faster at d = 64, K = 64 and 4.6x at d = 128, K = 256; the loop 1.3x faster at d = 32,
# K = 64.
PRODUCTS_MIN_DIMS = 32
PRODUCTS_MIN_WORK = 2048
PRODUCT_CHUNK_ROWS = 2048


@record
class Mixture(NamedTuple):
    """A Gaussian mixture's parameters: weights (K), means (K×d), covariances (shape by type)
    and the covariance type."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance_type: str


@record
class GaussianStats(NamedTuple):
    log_likelihood: float
    n_rows: float  # rows, or the sum of their weights
    resp: np.ndarray  # N_k
    centred_sum: np.ndarray  # S1_k = Σ r (x − m_k), K×d
    centred_square: np.ndarray  # S2_k: K×d×d (full, tied) or K×d (diag, spherical)


def mixture_problem(
    mixture: Mixture, k: int | None = None, d: int | None = None, definite: bool = True
) -> str | None:
    """What makes ``mixture`` unusable (with ``k`` components of ``d`` dimensions, when given),
    or None: a covariance type unknown, shapes that disagree, a number that is not finite,
    weights negative or not summing to 1, and (``definite``) a covariance that is not
    symmetric positive definite."""
    kind = mixture.covariance_type
    if kind not in COVARIANCE_TYPES:
        return f"covariance type {kind!r} is not one of {', '.join(COVARIANCE_TYPES)}"
    weights, means, cov = (
        np.asarray(a, dtype=np.float64)
        for a in (mixture.weights, mixture.means, mixture.covariances)
    )
    if means.ndim != 2:
        return f"means is {means.shape}, expected a K×d array"
    k = means.shape[0] if k is None else k
    d = means.shape[1] if d is None else d
    shapes = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}
    if weights.shape != (k,) or means.shape != (k, d) or cov.shape != shapes[kind]:
        return (
            f"expected weights ({k},), means ({k}, {d}) and {kind} covariances {shapes[kind]}; "
            f"got {weights.shape}, {means.shape}, {cov.shape}"
        )
    if not all(np.isfinite(a).all() for a in (weights, means, cov)):
        return "it holds a number that is not finite"
    if np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
        return "the weights must be >= 0 and sum to 1"
    if kind in ("full", "tied") and not np.allclose(cov, np.swapaxes(cov, -1, -2)):
        return "a covariance is not symmetric"
    if definite:
        try:
            _factors(cov, kind)
        except np.linalg.LinAlgError as exc:
            return str(exc)
    return None


def check_type(covariance_type: str) -> str:
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type must be one of {', '.join(COVARIANCE_TYPES)}, not {covariance_type!r}"
        )
    return covariance_type


def _factors(covariances: np.ndarray, covariance_type: str) -> tuple[np.ndarray, np.ndarray]:
    """(P, L): P Pᵀ = Σ⁻¹ and L Lᵀ = Σ per component (``tied`` has one; for diag and
    spherical P = 1/σ and L = σ), by Cholesky and a triangular solve.

    Raises ``np.linalg.LinAlgError`` naming the component when a covariance is not positive
    definite (collapsed data, a constant column with ``reg_covar`` 0).
    """
    covariances = np.asarray(covariances, dtype=np.float64)
    if covariance_type in ("full", "tied"):
        stack = covariances[None] if covariance_type == "tied" else covariances
        d = stack.shape[-1]
        precision, chol = np.empty_like(stack), np.empty_like(stack)
        for k, cov in enumerate(stack):
            try:
                chol[k] = linalg.cholesky(cov, lower=True)
            except linalg.LinAlgError:
                raise np.linalg.LinAlgError(
                    f"the covariance of component {k} is not positive definite (the data may "
                    "be collapsed or have a constant column): increase reg_covar"
                ) from None
            precision[k] = linalg.solve_triangular(chol[k], np.eye(d), lower=True).T
        if covariance_type == "tied":
            return precision[0], chol[0]
        return precision, chol
    if np.any(covariances <= 0):
        k = int(np.argwhere(np.atleast_1d(covariances) <= 0)[0][0])
        raise np.linalg.LinAlgError(
            f"the variance of component {k} is not positive (a constant column?): "
            "increase reg_covar"
        )
    sd = np.sqrt(covariances)
    return 1.0 / sd, sd


def precision_cholesky(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """P with P Pᵀ = Σ⁻¹ (per component; ``tied`` has one), by Cholesky and a triangular solve."""
    return _factors(covariances, covariance_type)[0]


class Prepared(NamedTuple):
    """What travels to the executors each iteration: the mixture with its factors, computed
    once on the driver."""

    log_weights: np.ndarray
    means: np.ndarray
    precision_chol: np.ndarray  # P, P Pᵀ = Σ⁻¹
    covariance_type: str
    covariance_chol: np.ndarray  # L, L Lᵀ = Σ
    log_norm: np.ndarray  # log w_k − ½ d log 2π + log det P_k, per component
    log_density_norm: np.ndarray  # − ½ d log 2π + log det P_k, per component


def prepare(mixture: Mixture) -> Prepared:
    kind = mixture.covariance_type
    means = np.asarray(mixture.means, dtype=np.float64)
    K, d = means.shape
    precision, chol = _factors(mixture.covariances, kind)
    if kind == "full":
        log_det = np.log(np.diagonal(precision, axis1=1, axis2=2)).sum(axis=1)
    elif kind == "tied":
        log_det = np.full(K, np.log(np.diag(precision)).sum())
    elif kind == "diag":
        log_det = np.log(precision).sum(axis=1)
    else:
        log_det = d * np.log(precision)
    with np.errstate(divide="ignore"):
        log_weights = np.log(np.asarray(mixture.weights, dtype=np.float64))
    log_density_norm = log_det - 0.5 * d * LOG_2PI
    return Prepared(
        log_weights, means, precision, kind, chol, log_weights + log_density_norm, log_density_norm
    )


def _centred(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x − c, c) for the block's mean c."""
    X, shift = _float_rows(X)
    return X - shift, shift


def _whitened(Xc: np.ndarray, delta: np.ndarray, prepared: Prepared) -> np.ndarray:
    """y_k = (x − m_k) P_k for every row and component, as x̃ P_k − δ_k P_k: n × K × d."""
    n, d = Xc.shape
    K = delta.shape[0]
    P, kind = prepared.precision_chol, prepared.covariance_type
    if kind == "full":
        Y = (Xc @ P.transpose(1, 0, 2).reshape(d, K * d)).reshape(n, K, d)
        Y -= np.einsum("kd,kde->ke", delta, P)[None]
    elif kind == "tied":
        Y = np.repeat((Xc @ P)[:, None, :], K, axis=1)
        Y -= (delta @ P)[None]
    elif kind == "diag":
        Y = Xc[:, None, :] * P[None]
        Y -= (delta * P)[None]
    else:
        Y = Xc[:, None, :] - delta[None]
        Y *= P[None, :, None]
    return Y


def _chunk_rows(K: int, d: int) -> int:
    return max(MIN_CHUNK_ROWS, CHUNK_NUMBERS // max(1, K * d))


def _weighted(Y: np.ndarray, prepared: Prepared) -> np.ndarray:
    """log w_k + log N(x; μ_k, Σ_k) from the whitened rows: n × K."""
    return prepared.log_norm[None, :] - 0.5 * np.einsum("nkd,nkd->nk", Y, Y)


def _normalised(weighted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equation (8) in place: the responsibilities (n × K) and each row's log-likelihood, by
    the max-shifted log-sum-exp."""
    top = weighted.max(axis=1)
    weighted -= top[:, None]
    np.exp(weighted, out=weighted)
    total = weighted.sum(axis=1)
    weighted /= total[:, None]
    return weighted, top + np.log(total)


def log_gaussian_prob(X: np.ndarray, prepared: Prepared) -> np.ndarray:
    """Equation (7) for every row and component: n×K."""
    Xc, shift = _centred(X)
    Y = _whitened(Xc, prepared.means - shift, prepared)
    return prepared.log_density_norm[None, :] - 0.5 * np.einsum("nkd,nkd->nk", Y, Y)


def posterior(X: np.ndarray, prepared: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Equation (8): responsibilities (n×K) and each row's log-likelihood (n)."""
    Xc, shift = _centred(X)
    delta = prepared.means - shift
    step = _chunk_rows(*delta.shape)
    resp, row_ll = np.empty((Xc.shape[0], delta.shape[0])), np.empty(Xc.shape[0])
    for lo in range(0, Xc.shape[0], step):
        part = _weighted(_whitened(Xc[lo : lo + step], delta, prepared), prepared)
        resp[lo : lo + step], row_ll[lo : lo + step] = _normalised(part)
    return resp, row_ll


def _add_moments(
    Y: np.ndarray, resp: np.ndarray, first: np.ndarray, square: np.ndarray, kind: str
) -> None:
    """Add Σ r y_k and Σ r y_k y_kᵀ (diag, spherical: Σ r y_k²) of these rows (y: n × K × d)
    to ``first`` and ``square``."""
    Yw = Y * resp[:, :, None]
    first += Yw.sum(axis=0)
    if kind in ("full", "tied"):
        for k in range(Y.shape[1]):
            square[k] += Yw[:, k, :].T @ Y[:, k, :]
    else:
        square += np.einsum("nkd,nkd->kd", Yw, Y)


def _unwhitened(first: np.ndarray, square: np.ndarray, chol: np.ndarray, kind: str):
    """The moments of x − m_k from those of y_k: x − m_k = y_k L_kᵀ (diag, spherical:
    y_k σ_k)."""
    K, d = first.shape
    if kind in ("full", "tied"):
        L = chol if kind == "full" else np.broadcast_to(chol, (K, d, d))
        return np.einsum("ke,kde->kd", first, L), L @ square @ L.transpose(0, 2, 1)
    scale = chol if kind == "diag" else chol[:, None]
    return first * scale, square * scale * scale


def _zero_moments(K: int, d: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((K, d)), np.zeros((K, d, d) if kind in ("full", "tied") else (K, d))


def _row_count(X: np.ndarray, weights: np.ndarray | None) -> float:
    return X.shape[0] if weights is None else float(weights.sum())


def assigned_stats(
    X: np.ndarray,
    labels: np.ndarray,
    centres: np.ndarray,
    covariance_type: str,
    weights: np.ndarray | None = None,
) -> GaussianStats:
    """Σ r, Σ r (x − m_k) and the centred second moments the covariance type needs when each
    row belongs wholly to component ``labels[u]`` (an initialisation's hard assignments), each
    row's counted ``weights[u]`` times when there are weights; each component's rows are taken
    apart, so no n × K × d array of mostly zero terms is formed."""
    Xc, shift = _centred(X)
    centres = np.asarray(centres, dtype=np.float64)
    K, d = centres.shape
    first, square = _zero_moments(K, d, covariance_type)
    counts = np.zeros(K)
    for k in range(K):
        mine = labels == k
        if not mine.any():
            continue
        Y = Xc[mine] - (centres[k] - shift)
        r = np.ones(Y.shape[0]) if weights is None else weights[mine]
        Yw = Y * r[:, None]
        counts[k] = r.sum()
        first[k] = Yw.sum(axis=0)
        if covariance_type in ("full", "tied"):
            square[k] = Yw.T @ Y
        else:
            square[k] = np.einsum("nd,nd->d", Yw, Y)
    return GaussianStats(0.0, _row_count(Xc, weights), counts, first, square)


def _augmented_map(delta: np.ndarray, prepared: Prepared) -> np.ndarray:
    """W with [x̃, 1] W = [y_1, 1, y_2, 1, …, y_K, 1] (full, tied): one product gives every
    component's whitened row, already shifted, and a 1 that carries the sums of r and r y
    into the same products as the second moments."""
    K, d = delta.shape
    P = prepared.precision_chol
    P = P if prepared.covariance_type == "full" else np.broadcast_to(P, (K, d, d))
    W = np.zeros((d + 1, K, d + 1))
    W[:d, :, :d] = P.transpose(1, 0, 2)
    W[d, :, :d] = -np.einsum("kd,kde->ke", delta, P)
    W[d, :, d] = 1.0
    return W.reshape(d + 1, K * (d + 1))


def _block_stats_dense_factors(
    X: np.ndarray, shift: np.ndarray, prepared: Prepared, weights: np.ndarray | None = None
) -> GaussianStats:
    """Full and tied: per chunk one product for the whitened rows and K for the moments."""
    delta = prepared.means - shift
    K, d = delta.shape
    W = _augmented_map(delta, prepared)
    rows = np.empty((X.shape[0], d + 1))
    np.subtract(X, shift, out=rows[:, :d])
    rows[:, d] = 1.0
    moments = np.zeros((K, d + 1, d + 1))
    log_likelihood = 0.0
    step = _chunk_rows(K, d)
    for lo in range(0, X.shape[0], step):
        Y = (rows[lo : lo + step] @ W).reshape(-1, K, d + 1)
        whitened = Y[:, :, :d]
        weighted = prepared.log_norm[None, :] - 0.5 * np.einsum("nkd,nkd->nk", whitened, whitened)
        resp, row_ll = _normalised(weighted)
        log_likelihood += _weigh(resp, row_ll, weights, lo)
        Yw = Y * resp[:, :, None]
        for k in range(K):
            moments[k] += Yw[:, k, :].T @ Y[:, k, :]
    first, square = _unwhitened(
        moments[:, :d, d], moments[:, :d, :d], prepared.covariance_chol, prepared.covariance_type
    )
    return GaussianStats(
        float(log_likelihood), _row_count(X, weights), moments[:, d, d].copy(), first, square
    )


def _weigh(resp: np.ndarray, row_ll: np.ndarray, weights: np.ndarray | None, lo: int) -> float:
    """Σ of the chunk's row log-likelihoods, each times its row's weight (from row ``lo`` of
    ``weights``), and the responsibilities multiplied by the weights in place."""
    if weights is None:
        return row_ll.sum()
    w = weights[lo : lo + resp.shape[0]]
    resp *= w[:, None]
    return float(w @ row_ll)


def symmetric_from_lower(lower: np.ndarray) -> np.ndarray:
    """The symmetric matrices (K×d×d) whose lower triangles the compiled passes summed."""
    lower = np.tril(lower)
    return lower + np.tril(lower, -1).transpose(0, 2, 1)


def _block_stats_compiled(
    X: np.ndarray, prepared: Prepared, weights: np.ndarray | None = None
) -> GaussianStats:
    """The same pass by the compiled loops (``compiled``), for rows of few dimensions."""
    kind = prepared.covariance_type
    means = np.ascontiguousarray(prepared.means)
    K, d = means.shape
    log_norm = np.ascontiguousarray(prepared.log_norm)
    P = prepared.precision_chol
    if kind in ("full", "tied"):
        P = np.ascontiguousarray(np.broadcast_to(P, (K, d, d)))
        moments = np.zeros((K, d + 1, d + 1))
        log_likelihood = compiled.triangular_pass(X, means, P, log_norm, moments, weights)
        square = symmetric_from_lower(moments[:, :d, :d])
        first, resp = moments[:, d, :d], moments[:, d, d].copy()
    else:
        P = np.ascontiguousarray(np.broadcast_to(P if kind == "diag" else P[:, None], (K, d)))
        first, square, resp = np.zeros((K, d)), np.zeros((K, d)), np.zeros(K)
        log_likelihood = compiled.diagonal_pass(X, means, P, log_norm, first, square, resp, weights)
    first, square = _unwhitened(first, square, prepared.covariance_chol, kind)
    return GaussianStats(float(log_likelihood), _row_count(X, weights), resp, first, square)


def _block_stats_shifted(
    X: np.ndarray, shift: np.ndarray, prepared: Prepared, weights: np.ndarray | None = None
) -> GaussianStats:
    """``block_stats`` of float64 rows ``X``, centred on ``shift`` a chunk at a time."""
    kind = prepared.covariance_type
    if kind in ("full", "tied"):
        return _block_stats_dense_factors(X, shift, prepared, weights)
    delta = prepared.means - shift
    K, d = delta.shape
    first, square = _zero_moments(K, d, kind)
    n_k, log_likelihood = np.zeros(K), 0.0
    step = _chunk_rows(K, d)
    for lo in range(0, X.shape[0], step):
        Y = _whitened(X[lo : lo + step] - shift, delta, prepared)
        resp, row_ll = _normalised(_weighted(Y, prepared))
        log_likelihood += _weigh(resp, row_ll, weights, lo)
        n_k += resp.sum(axis=0)
        _add_moments(Y, resp, first, square, kind)
    first, square = _unwhitened(first, square, prepared.covariance_chol, kind)
    return GaussianStats(float(log_likelihood), _row_count(X, weights), n_k, first, square)


def products_pay(k: int, d: int, covariance_type: str) -> bool:
    """Whether a pass over ``k`` diagonal or spherical components in ``d`` dimensions takes
    the matrix products (11)."""
    if covariance_type not in ("diag", "spherical") or d < PRODUCTS_MIN_DIMS:
        return False
    return k * d >= PRODUCTS_MIN_WORK * (1 if d >= 2 * PRODUCTS_MIN_DIMS else 2)


def _block_stats_products(
    X: np.ndarray, shift: np.ndarray, prepared: Prepared, weights: np.ndarray | None = None
) -> GaussianStats:
    """Diagonal and spherical: (11), two matrix products a chunk of rows."""
    delta = prepared.means - shift
    K, d = delta.shape
    P = prepared.precision_chol
    p = (P * P) if prepared.covariance_type == "diag" else np.repeat((P * P)[:, None], d, 1)
    B = np.empty((2 * d, K))
    B[:d] = -0.5 * p.T
    B[d:] = (p * delta).T
    const = prepared.log_norm - 0.5 * np.einsum("kd,kd->k", p * delta, delta)
    sums = np.zeros((K, 2 * d))  # Σ r x̃², Σ r x̃
    n_k, log_likelihood = np.zeros(K), 0.0
    step = PRODUCT_CHUNK_ROWS
    A = np.empty((min(step, X.shape[0]), 2 * d))
    for lo in range(0, X.shape[0], step):
        rows = X[lo : lo + step]
        a = A[: rows.shape[0]]
        np.subtract(rows, shift, out=a[:, d:])
        np.multiply(a[:, d:], a[:, d:], out=a[:, :d])
        f = a @ B
        f += const
        resp, row_ll = _normalised(f)
        log_likelihood += _weigh(resp, row_ll, weights, lo)
        n_k += resp.sum(axis=0)
        sums += resp.T @ a
    square, first = sums[:, :d], sums[:, d:]
    centred_sum = first - n_k[:, None] * delta
    centred_square = square - 2.0 * delta * first + n_k[:, None] * delta * delta
    return GaussianStats(
        float(log_likelihood), _row_count(X, weights), n_k, centred_sum, centred_square
    )


def _float_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the rows as float64, their mean: the block's shift)."""
    X = np.asarray(X, dtype=np.float64)
    return X, X.mean(axis=0) if X.shape[0] else np.zeros(X.shape[1])


def block_stats(
    X: np.ndarray, prepared: Prepared, weights: np.ndarray | None = None
) -> GaussianStats:
    """One pass over a block: its log-likelihood and its M-step sums, centred on the means.
    With ``weights`` every row counts its weight times (a weight of 2 is the row twice)."""
    return block_stats_many(X, [prepared], weights)[0]


def block_stats_many(
    X: np.ndarray, prepared: list[Prepared], weights: np.ndarray | None = None
) -> list[GaussianStats]:
    """``block_stats`` for several starts: the block is converted (and its shift found) once.
    Rows of few dimensions take the compiled pass, wider rows the BLAS one."""
    X, shift = np.ascontiguousarray(X, dtype=np.float64), None
    if weights is not None:
        weights = np.ascontiguousarray(weights, dtype=np.float64)
    stats = []
    for p in prepared:
        k, d = np.shape(p.means)
        products = products_pay(k, d, p.covariance_type)
        if X.shape[0] and not products and compiled.usable(X.shape[1], p.covariance_type):
            stats.append(_block_stats_compiled(X, p, weights))
            continue
        if shift is None:
            X, shift = _float_rows(X)
        if products:
            stats.append(_block_stats_products(X, shift, p, weights))
        else:
            stats.append(_block_stats_shifted(X, shift, p, weights))
    return stats


def update(
    stats: GaussianStats,
    previous: Mixture,
    reg_covar: float = REG_COVAR,
    weight_eps: float = float(10 * np.finfo(np.float64).eps),
) -> Mixture:
    """Equations (9)–(10) from summed statistics centred on ``previous.means``."""
    kind = previous.covariance_type
    n_k = stats.resp + weight_eps
    empty = stats.resp < EMPTY_COMPONENT
    shift = stats.centred_sum / n_k[:, None]
    shift[empty] = 0.0
    means = previous.means + shift
    d = means.shape[1]
    if kind in ("full", "tied"):
        # N_k Σ_k = S2_k − N_k δ_k δ_kᵀ  with δ_k = S1_k / N_k
        scatter = stats.centred_square - n_k[:, None, None] * shift[:, :, None] * shift[:, None, :]
        if kind == "full":
            cov = scatter / n_k[:, None, None] + reg_covar * np.eye(d)
            cov[empty] = previous.covariances[empty]
        else:
            cov = scatter.sum(axis=0) / stats.n_rows + reg_covar * np.eye(d)
    else:
        diag = stats.centred_square / n_k[:, None] - shift * shift + reg_covar
        cov = diag if kind == "diag" else diag.mean(axis=1)
        cov[empty] = previous.covariances[empty]
    weights = n_k / stats.n_rows
    return Mixture(weights / weights.sum(), means, cov, kind)


def n_parameters(k: int, d: int, covariance_type: str) -> int:
    """Free parameters: K−1 weights, K·d means and the covariances of the type."""
    cov = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": k * d, "spherical": k}[
        check_type(covariance_type)
    ]
    return (k - 1) + k * d + cov


def bic(log_likelihood: float, k: int, d: int, n: float, covariance_type: str) -> float:
    """The Bayesian information criterion as scikit-learn and statsmodels define it, lower is
    better: −2 LL + p log n (n the rows, or the sum of the weights)."""
    return -2.0 * log_likelihood + n_parameters(k, d, covariance_type) * np.log(n)


def aic(log_likelihood: float, k: int, d: int, covariance_type: str) -> float:
    """The Akaike information criterion, lower is better: −2 LL + 2p."""
    return -2.0 * log_likelihood + 2.0 * n_parameters(k, d, covariance_type)


def course_bic(log_likelihood: float, k: int, d: int, n: float, covariance_type: str) -> float:
    """The course's BIC, higher is better: LL − ½ p log n (−½ ``bic``); kept under this name
    where the course's numbers are reproduced."""
    return -0.5 * bic(log_likelihood, k, d, n, covariance_type)


def spread(variances: np.ndarray, d: int, covariance_type: str) -> np.ndarray:
    """Per-component spherical variances as covariances of the given type."""
    variances = np.asarray(variances, dtype=np.float64)
    K = variances.shape[0]
    if covariance_type == "full":
        return variances[:, None, None] * np.eye(d)[None]
    if covariance_type == "tied":
        return variances.mean() * np.eye(d)
    if covariance_type == "diag":
        return np.repeat(variances[:, None], d, axis=1)
    return variances.copy() if K else variances
