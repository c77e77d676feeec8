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

Mixtures of factor analysers (``factor``: Σ_k = Λ_k Λ_kᵀ + Ψ_k, the covariances Ψ and the
``loadings`` Λ) are computed in ``kernels.factor``.

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

from spark_em.kernels import compiled, factor, products
from spark_em.kernels.arrays import record

# the types whose parameters are the covariances alone, and with them mixtures of factor analysers
PLAIN_TYPES = ("full", "tied", "diag", "spherical")
COVARIANCE_TYPES = (*PLAIN_TYPES, "factor")
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


@record
class Mixture(NamedTuple):
    """A Gaussian mixture's parameters: weights (K), means (K×d), covariances (shape by type)
    and the covariance type; a mixture of factor analysers (``factor``) holds the noise
    variances Ψ (K×d) as its covariances and Λ (K×d×q) as its ``loadings``."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance_type: str
    loadings: np.ndarray | None = None

    @property
    def n_factors(self) -> int:
        """q: the loadings' columns (0 unless the type is ``factor``)."""
        return 0 if self.loadings is None else int(np.shape(self.loadings)[2])


def factor_mixture(weights, means, noise, loadings) -> Mixture:
    """A mixture of factor analysers from its weights, means, noise variances Ψ and loadings."""
    return Mixture(weights, means, noise, "factor", loadings)


@record
class GaussianStats(NamedTuple):
    log_likelihood: float
    n_rows: float  # rows, or the sum of their weights
    resp: np.ndarray  # N_k
    centred_sum: np.ndarray  # S1_k = Σ r (x − m_k), K×d
    centred_square: np.ndarray  # S2_k: K×d×d (full, tied) or K×d (diag, spherical)


# what a pass sums: a mixture of factor analysers' statistics are its own
Stats = GaussianStats | factor.FactorStats


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
    shapes = {
        "full": (k, d, d),
        "tied": (d, d),
        "diag": (k, d),
        "spherical": (k,),
        "factor": (k, d),
    }
    if weights.shape != (k,) or means.shape != (k, d) or cov.shape != shapes[kind]:
        return (
            f"expected weights ({k},), means ({k}, {d}) and {kind} covariances {shapes[kind]}; "
            f"got {weights.shape}, {means.shape}, {cov.shape}"
        )
    if kind == "factor" and mixture.loadings is None:
        return "a mixture of factor analysers needs its loadings (K × d × q)"
    loadings = np.zeros((k, d, 0)) if mixture.loadings is None else np.asarray(mixture.loadings)
    if kind == "factor" and (loadings.ndim != 3 or loadings.shape[:2] != (k, d)):
        return f"expected loadings ({k}, {d}, q); got {loadings.shape}"
    if kind == "factor" and loadings.shape[2] > d:
        return f"a mixture of factor analysers in {d} dimensions takes at most {d} factors"
    if not all(np.isfinite(a).all() for a in (weights, means, cov, loadings)):
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
    spherical P = 1/σ and L = σ; for factor those of Ψ), by Cholesky and a triangular solve.

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
    # factor: Λ and the Woodbury parts (``kernels.factor``); log det P_k then holds − ½ log det Σ_k
    loadings: np.ndarray | None = None
    factor_parts: factor.FactorParts | None = None

    @property
    def woodbury(self) -> factor.FactorParts:
        """The factor type's Woodbury parts (``kernels.factor.parts``)."""
        if self.factor_parts is None:
            raise ValueError(f"a {self.covariance_type} mixture has no factor loadings")
        return self.factor_parts

    @property
    def factor_loadings(self) -> np.ndarray:
        """The factor type's loadings Λ (K × d × q)."""
        if self.loadings is None:
            raise ValueError(f"a {self.covariance_type} mixture has no factor loadings")
        return self.loadings


def prepare(mixture: Mixture) -> Prepared:
    kind = mixture.covariance_type
    means = np.asarray(mixture.means, dtype=np.float64)
    K, d = means.shape
    precision, chol = _factors(mixture.covariances, kind)
    if kind == "full":
        log_det = np.log(np.diagonal(precision, axis1=1, axis2=2)).sum(axis=1)
    elif kind == "tied":
        log_det = np.full(K, np.log(np.diag(precision)).sum())
    elif kind in ("diag", "factor"):
        log_det = np.log(precision).sum(axis=1)
    else:
        log_det = d * np.log(precision)
    loadings, parts = None, None
    if kind == "factor":
        loadings = np.asarray(mixture.loadings, dtype=np.float64)
        parts = factor.parts(loadings, np.asarray(mixture.covariances, dtype=np.float64))
        log_det = log_det - factor.log_det_correction(parts.chol)
    with np.errstate(divide="ignore"):
        log_weights = np.log(np.asarray(mixture.weights, dtype=np.float64))
    log_density_norm = log_det - 0.5 * d * LOG_2PI
    return Prepared(
        log_weights,
        means,
        precision,
        kind,
        chol,
        log_weights + log_density_norm,
        log_density_norm,
        loadings,
        parts,
    )


def _factor_weighted(X: np.ndarray, prepared: Prepared, log_norm: np.ndarray):
    """log N(x; μ_k, Σ_k) of a mixture of factor analysers, plus log w_k when ``log_norm`` is
    ``prepared.log_norm`` (not with ``log_density_norm``), a chunk of rows at a time."""
    X, shift = _float_rows(X)
    parts = prepared.woodbury
    for _, _, f, _ in factor.log_weighted(
        X, shift, prepared.means, prepared.precision_chol, log_norm, parts
    ):
        yield f


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
    if prepared.covariance_type == "factor":
        parts = list(_factor_weighted(X, prepared, prepared.log_density_norm))
        return np.concatenate(parts) if parts else np.empty((0, len(prepared.means)))
    Xc, shift = _centred(X)
    Y = _whitened(Xc, prepared.means - shift, prepared)
    return prepared.log_density_norm[None, :] - 0.5 * np.einsum("nkd,nkd->nk", Y, Y)


def posterior(X: np.ndarray, prepared: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Equation (8): responsibilities (n×K) and each row's log-likelihood (n)."""
    if prepared.covariance_type == "factor":
        parts = [_normalised(f) for f in _factor_weighted(X, prepared, prepared.log_norm)]
        if not parts:
            return np.empty((0, len(prepared.means))), np.empty(0)
        return np.concatenate([r for r, _ in parts]), np.concatenate([ll for _, ll in parts])
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
    B, const = products.density_terms(delta, p, prepared.log_norm)
    sums = np.zeros((K, 2 * d))  # Σ r x̃², Σ r x̃
    n_k, log_likelihood = np.zeros(K), 0.0
    for lo, a in products.chunks(X, shift):
        f = a @ B
        f += const
        resp, row_ll = _normalised(f)
        log_likelihood += _weigh(resp, row_ll, weights, lo)
        n_k += resp.sum(axis=0)
        sums += resp.T @ a
    centred_sum, centred_square = products.centred_moments(sums, n_k, delta)
    return GaussianStats(
        float(log_likelihood), _row_count(X, weights), n_k, centred_sum, centred_square
    )


def _float_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the rows as float64, their mean: the block's shift)."""
    X = np.asarray(X, dtype=np.float64)
    return X, X.mean(axis=0) if X.shape[0] else np.zeros(X.shape[1])


def block_stats(X: np.ndarray, prepared: Prepared, weights: np.ndarray | None = None) -> Stats:
    """One pass over a block: its log-likelihood and its M-step sums, centred on the means.
    With ``weights`` every row counts its weight times (a weight of 2 is the row twice)."""
    return block_stats_many(X, [prepared], weights)[0]


def block_stats_many(
    X: np.ndarray, prepared: list[Prepared], weights: np.ndarray | None = None
) -> list[Stats]:
    """``block_stats`` for several starts: the block is converted (and its shift found) once.
    Rows of few dimensions take the compiled pass, wider rows the BLAS one."""
    X, shift = np.ascontiguousarray(X, dtype=np.float64), None
    if weights is not None:
        weights = np.ascontiguousarray(weights, dtype=np.float64)
    stats: list[Stats] = []
    for p in prepared:
        k, d = np.shape(p.means)
        by_products = products_pay(k, d, p.covariance_type)
        loop = p.covariance_type != "factor" and compiled.usable(X.shape[1], p.covariance_type)
        if X.shape[0] and not by_products and loop:
            stats.append(_block_stats_compiled(X, p, weights))
            continue
        if shift is None:
            X, shift = _float_rows(X)
        if p.covariance_type == "factor":
            stats.append(
                factor.block_stats(
                    X,
                    shift,
                    p.means,
                    p.precision_chol,
                    p.log_norm,
                    p.woodbury,
                    lambda f, lo: _weigh(*_normalised(f), weights, lo),
                    _row_count(X, weights),
                )
            )
        elif by_products:
            stats.append(_block_stats_products(X, shift, p, weights))
        else:
            stats.append(_block_stats_shifted(X, shift, p, weights))
    return stats


def update(
    stats: Stats,
    previous: Mixture,
    reg_covar: float = REG_COVAR,
    weight_eps: float = float(10 * np.finfo(np.float64).eps),
) -> Mixture:
    """Equations (9)–(10) from summed statistics centred on ``previous.means`` (a mixture of
    factor analysers: ``kernels.factor`` (17))."""
    kind = previous.covariance_type
    if isinstance(stats, factor.FactorStats):
        return factor_mixture(
            *factor.update(
                stats,
                np.asarray(previous.means, dtype=np.float64),
                np.asarray(previous.loadings, dtype=np.float64),
                np.asarray(previous.covariances, dtype=np.float64),
                reg_covar,
                EMPTY_COMPONENT,
                weight_eps,
            )
        )
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


def n_parameters(k: int, d: int, covariance_type: str, n_factors: int = 0) -> int:
    """Free parameters: K−1 weights, K·d means and the covariances of the type (``factor``:
    each component's ``n_factors`` loadings up to a rotation and its d noise variances)."""
    cov = {
        "full": k * d * (d + 1) // 2,
        "tied": d * (d + 1) // 2,
        "diag": k * d,
        "spherical": k,
        "factor": k * factor.n_free(d, n_factors),
    }[check_type(covariance_type)]
    return (k - 1) + k * d + cov


def bic(
    log_likelihood: float, k: int, d: int, n: float, covariance_type: str, n_factors: int = 0
) -> float:
    """The Bayesian information criterion as scikit-learn and statsmodels define it, lower is
    better: −2 LL + p log n (n the rows, or the sum of the weights)."""
    return -2.0 * log_likelihood + n_parameters(k, d, covariance_type, n_factors) * np.log(n)


def aic(log_likelihood: float, k: int, d: int, covariance_type: str, n_factors: int = 0) -> float:
    """The Akaike information criterion, lower is better: −2 LL + 2p."""
    return -2.0 * log_likelihood + 2.0 * n_parameters(k, d, covariance_type, n_factors)


def course_bic(
    log_likelihood: float, k: int, d: int, n: float, covariance_type: str, n_factors: int = 0
) -> float:
    """The course's BIC, higher is better: LL − ½ p log n (−½ ``bic``); kept under this name
    where the course's numbers are reproduced."""
    return -0.5 * bic(log_likelihood, k, d, n, covariance_type, n_factors)


def spread(variances: np.ndarray, d: int, covariance_type: str) -> np.ndarray:
    """Per-component spherical variances as covariances of the given type."""
    variances = np.asarray(variances, dtype=np.float64)
    K = variances.shape[0]
    if covariance_type == "full":
        return variances[:, None, None] * np.eye(d)[None]
    if covariance_type == "tied":
        return variances.mean() * np.eye(d)
    if covariance_type in ("diag", "factor"):
        return np.repeat(variances[:, None], d, axis=1)
    return variances.copy() if K else variances
