"""Kernels of the mixture of factor analysers: Σ_k = Λ_k Λ_kᵀ + Ψ_k, Λ_k d × q, Ψ_k diagonal
(Ghahramani & Hinton 1996; McLachlan & Peel 2000, ch. 8). Pure numpy/scipy.

A ``gaussian.Mixture`` of covariance type ``factor`` holds Ψ (K × d) as its covariances and
Λ (K × d × q) as its loadings; with q = 0 it is the diagonal mixture. No d × d matrix is
formed: with M_k = I + Λ_kᵀ Ψ_k⁻¹ Λ_k = R_k R_kᵀ (Cholesky) and y = x − μ_k,

(14) Woodbury: yᵀ Σ_k⁻¹ y = Σ_i y_i² / ψ_ki − ‖c‖², c = G_kᵀ y with G_k = Ψ_k⁻¹ Λ_k R_k⁻ᵀ
     (d × q), and log det Σ_k = Σ_i log ψ_ki + 2 Σ_j log (R_k)_jj;
(15) E[z | x, k] = M_k⁻¹ Λ_kᵀ Ψ_k⁻¹ y = R_k⁻ᵀ c and E[z zᵀ | x, k] = M_k⁻¹ + E[z] E[z]ᵀ;
(16) a pass sums, centred on the current means m_k: N_k, S1_k = Σ r y, S2_k = Σ r y² (the
     diagonal only), Syz_k = Σ r y E[z]ᵀ (d × q), Sz_k = Σ r E[z] and
     Szz_k = Σ r E[z] E[z]ᵀ + N_k M_k⁻¹ (``FactorStats``);
(17) the M-step updates μ and Λ together (z̃ = [z; 1]): [Λ_k, μ_k − m_k] =
     [Syz_k, S1_k] [[Szz_k, Sz_k], [Sz_kᵀ, N_k]]⁻¹, then
     ψ_k = diag(S2_k − [Λ_k, μ_k − m_k] [Syz_k, S1_k]ᵀ) / N_k + reg_covar (Ψ floored as the
     diagonal type floors its variances). With q = 0 this is the diagonal update.

A block is computed as the diagonal type's products (``gaussian`` (11)) with Ψ for the
variances, plus one product of the block's centred rows x̃ with [G_1 … G_K] (d × Kq) for c
and one of x̃ᵀ with the responsibility-weighted c's for Σ r x̃ cᵀ: n·K·d·q work, level-3 BLAS.

Rows with missing values take the same identity on their observed coordinates
(``kernels.factor_missing``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import linalg

from spark_em.kernels import products
from spark_em.kernels.arrays import record

# oversampling of the sketch a start's loadings come from (``start``)
SKETCH_EXTRA = 10


@record
class FactorStats(NamedTuple):
    log_likelihood: float
    n_rows: float
    resp: np.ndarray  # N_k
    centred_sum: np.ndarray  # S1_k, K × d
    centred_square: np.ndarray  # S2_k, K × d (the diagonal)
    factor_cross: np.ndarray  # Syz_k, K × d × q
    factor_sum: np.ndarray  # Sz_k, K × q
    factor_square: np.ndarray  # Szz_k, K × q × q (with N_k M_k⁻¹)


@record
class FactorSketch(NamedTuple):
    """A start's hard assignments summed (centred on the start's centres c_k): N_k, Σ (x − c_k),
    Σ (x − c_k)² and the sketch Σ (x − c_k)(x − c_k)ᵀ Ω (K × d × ℓ) of the scatter."""

    resp: np.ndarray
    centred_sum: np.ndarray
    centred_square: np.ndarray
    sketch: np.ndarray


class FactorParts(NamedTuple):
    """What a pass needs beyond the diagonal part: G_k (K × d × q) and R_k (K × q × q)."""

    loadings_map: np.ndarray
    chol: np.ndarray


def parts(loadings: np.ndarray, noise: np.ndarray) -> FactorParts:
    """G and R of (14) for loadings Λ (K × d × q) and noise variances Ψ (K × d)."""
    loadings = np.asarray(loadings, dtype=np.float64)
    K, d, q = loadings.shape
    scaled = loadings / noise[:, :, None]  # Ψ⁻¹ Λ
    G, R = np.empty((K, d, q)), np.empty((K, q, q))
    for k in range(K):
        M = np.eye(q) + loadings[k].T @ scaled[k]
        R[k] = linalg.cholesky(M, lower=True) if q else M
        G[k] = linalg.solve_triangular(R[k], scaled[k].T, lower=True).T if q else scaled[k]
    return FactorParts(G, R)


def log_det_correction(chol: np.ndarray) -> np.ndarray:
    """½ log det M_k = Σ_j log (R_k)_jj, per component."""
    return np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)


def log_weighted(X: np.ndarray, shift: np.ndarray, means, precision, log_norm, parts: FactorParts):
    """Per chunk of rows of ``X`` (float64): (its first row's offset, the rows' [x̃², x̃],
    log w_k + log N(x; μ_k, Σ_k) (n × K), c of (14) (n × K × q)), with x̃ = x − shift."""
    delta = means - shift
    K, d = delta.shape
    q = parts.chol.shape[1]
    B, const = products.density_terms(delta, precision * precision, log_norm)
    G = parts.loadings_map.transpose(1, 0, 2).reshape(d, K * q)
    g = np.einsum("kd,kdq->kq", delta, parts.loadings_map)
    for lo, a in products.chunks(X, shift):
        f = a @ B
        f += const
        c = (a[:, d:] @ G).reshape(a.shape[0], K, q)
        c -= g[None]
        f += 0.5 * np.einsum("nkq,nkq->nk", c, c)
        yield lo, a, f, c


def block_stats(
    X: np.ndarray,
    shift: np.ndarray,
    means: np.ndarray,
    precision: np.ndarray,
    log_norm: np.ndarray,
    parts: FactorParts,
    normalised,
    n_rows: float,
) -> FactorStats:
    """(16) over float64 rows ``X`` centred a chunk at a time on ``shift``;
    ``normalised(f, lo)`` turns the chunk's log w_k + log N (from row ``lo``) into its
    responsibilities in place, times the rows' weights, and returns its log-likelihood."""
    delta = means - shift
    K, d = delta.shape
    q = parts.chol.shape[1]
    sums, cross = np.zeros((K, 2 * d)), np.zeros((d, K * q))
    c_sum, c_square = np.zeros((K, q)), np.zeros((K, q, q))
    n_k, log_likelihood = np.zeros(K), 0.0
    for lo, a, resp, c in log_weighted(X, shift, means, precision, log_norm, parts):
        log_likelihood += normalised(resp, lo)
        n_k += resp.sum(axis=0)
        sums += resp.T @ a
        rc = c * resp[:, :, None]
        cross += a[:, d:].T @ rc.reshape(a.shape[0], K * q)
        c_sum += rc.sum(axis=0)
        c_square += np.matmul(rc.transpose(1, 2, 0), c.transpose(1, 0, 2))
    centred_sum, centred_square = products.centred_moments(sums, n_k, delta)
    # Σ r y cᵀ = Σ r x̃ cᵀ − δ_k (Σ r c)ᵀ, then (15): E[z]ᵀ = cᵀ R⁻¹
    y_c = cross.reshape(d, K, q).transpose(1, 0, 2) - delta[:, :, None] * c_sum[:, None, :]
    return _from_whitened(
        FactorStats(
            float(log_likelihood), n_rows, n_k, centred_sum, centred_square, y_c, c_sum, c_square
        ),
        parts.chol,
    )


def _chol_inverse(R: np.ndarray) -> np.ndarray:
    """R⁻¹ of a lower-triangular q × q factor (R⁻ᵀ R⁻¹ = M⁻¹)."""
    q = R.shape[0]
    return linalg.solve_triangular(R, np.eye(q), lower=True) if q else np.eye(0)


def _from_whitened(sums: FactorStats, R: np.ndarray) -> FactorStats:
    """(16) from sums over c in place of E[z] (E[z] = R⁻ᵀ c): Syz = (Σ r y cᵀ) R⁻¹,
    Sz = R⁻ᵀ Σ r c and Szz = R⁻ᵀ (Σ r c cᵀ) R⁻¹ + N_k M⁻¹."""
    K, q = sums.factor_sum.shape
    cross, z_sum = np.empty_like(sums.factor_cross), np.empty_like(sums.factor_sum)
    z_square = np.empty_like(sums.factor_square)
    for k in range(K):
        Rinv = _chol_inverse(R[k])
        cross[k] = sums.factor_cross[k] @ Rinv
        z_sum[k] = Rinv.T @ sums.factor_sum[k]
        z_square[k] = Rinv.T @ (sums.factor_square[k] + sums.resp[k] * np.eye(q)) @ Rinv
    return sums._replace(factor_cross=cross, factor_sum=z_sum, factor_square=z_square)


def update(
    stats: FactorStats,
    means: np.ndarray,
    loadings: np.ndarray,
    noise: np.ndarray,
    reg_covar: float,
    empty: float,
    weight_eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(17): (weights, means, noise variances, loadings) from summed statistics centred on
    ``means``. A component whose responsibilities sum to less than ``empty`` keeps its
    parameters."""
    K, d = means.shape
    q = loadings.shape[2]
    n_k = stats.resp + weight_eps
    new_means, new_loadings, new_noise = means.copy(), loadings.copy(), noise.copy()
    for k in range(K):
        if stats.resp[k] < empty:
            continue
        moments = np.empty((q + 1, q + 1))
        moments[:q, :q] = stats.factor_square[k]
        moments[:q, q] = moments[q, :q] = stats.factor_sum[k]
        moments[q, q] = n_k[k]
        cross = np.concatenate([stats.factor_cross[k], stats.centred_sum[k][:, None]], axis=1)
        coef = linalg.solve(moments, cross.T, assume_a="pos").T  # [Λ, μ − m]
        new_loadings[k] = coef[:, :q]
        new_means[k] = means[k] + coef[:, q]
        explained = np.einsum("dj,dj->d", coef, cross)
        new_noise[k] = (stats.centred_square[k] - explained) / n_k[k] + reg_covar
    weights = n_k / stats.n_rows
    return weights / weights.sum(), new_means, new_noise, new_loadings


def assigned_sketch(
    X: np.ndarray,
    labels: np.ndarray,
    centres: np.ndarray,
    omega: np.ndarray,
    weights: np.ndarray | None = None,
) -> FactorSketch:
    """``FactorSketch`` of float64 rows each wholly in component ``labels[u]``, counted
    ``weights[u]`` times when there are weights."""
    K, d = centres.shape
    out = FactorSketch(
        np.zeros(K), np.zeros((K, d)), np.zeros((K, d)), np.zeros((K, d, omega.shape[1]))
    )
    for k in range(K):
        mine = labels == k
        if not mine.any():
            continue
        Y = X[mine] - centres[k]
        r = np.ones(Y.shape[0]) if weights is None else weights[mine]
        Yw = Y * r[:, None]
        out.resp[k] = r.sum()
        out.centred_sum[k] = Yw.sum(axis=0)
        out.centred_square[k] = np.einsum("nd,nd->d", Yw, Y)
        out.sketch[k] = Yw.T @ (Y @ omega)
    return out


def sketch_matrix(d: int, q: int, seed: int) -> np.ndarray:
    """Ω: d × min(d, q + SKETCH_EXTRA) with orthonormal columns, from ``seed``."""
    width = min(d, q + SKETCH_EXTRA)
    gauss = np.random.default_rng(seed).standard_normal((d, width))
    return np.linalg.qr(gauss)[0]


def _top_eigen(sketch: np.ndarray, omega: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    """The top q eigenpairs of a PSD matrix A from Y = AΩ alone, by the Nyström approximation
    A ≈ Y (ΩᵀY)⁺ Yᵀ (Tropp, Yurtsever, Udell & Cevher 2017), with the pseudo-inverse from the
    eigenvalues of ΩᵀY above its rounding: a scatter of low rank (duplicate rows) keeps only
    the directions it has, and the others come back as eigenvalue 0."""
    core = omega.T @ sketch
    values, vectors = linalg.eigh(0.5 * (core + core.T))
    kept = values > max(values.max(initial=0.0), 0.0) * core.shape[0] * 1e3 * np.finfo(float).eps
    E = (sketch @ vectors[:, kept]) / np.sqrt(values[kept])
    U, s, _ = linalg.svd(E, full_matrices=False)
    top, directions = np.zeros(q), np.zeros((sketch.shape[0], q))
    r = min(q, s.size)
    top[:r], directions[:, :r] = s[:r] ** 2, U[:, :r]
    return top, directions


def start(
    sketch: FactorSketch,
    centres: np.ndarray,
    omega: np.ndarray,
    q: int,
    fallback: np.ndarray,
    reg_covar: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(weights, means, noise variances, loadings) from hard assignments: each component's
    mean and the probabilistic PCA of its scatter (Tipping & Bishop 1999): Λ = U_q (Λ_q −
    σ²)^½ from the top q eigenpairs, σ² the mean of the other eigenvalues, Ψ the diagonal of
    the scatter less ΛΛᵀ (at least 1e-3 of the variance) + ``reg_covar``. A component with no
    rows keeps its centre, the ``fallback`` variances (K) and no loadings."""
    K, d = centres.shape
    n_k = sketch.resp
    means, loadings = centres.copy(), np.zeros((K, d, q))
    noise = np.repeat(np.asarray(fallback, dtype=np.float64)[:, None], d, axis=1) + reg_covar
    for k in range(K):
        if n_k[k] <= 0:
            continue
        delta = sketch.centred_sum[k] / n_k[k]
        means[k] = centres[k] + delta
        variances = sketch.centred_square[k] / n_k[k] - delta * delta
        scatter_omega = sketch.sketch[k] / n_k[k] - np.outer(delta, delta @ omega)
        if q:
            values, vectors = _top_eigen(scatter_omega, omega, q)
            rest = max(variances.sum() - values.sum(), 0.0) / max(d - q, 1)
            loadings[k] = vectors * np.sqrt(np.maximum(values - rest, 0.0))
        left = variances - np.einsum("dq,dq->d", loadings[k], loadings[k])
        noise[k] = np.maximum(left, 1e-3 * variances) + reg_covar
    weights = n_k / n_k.sum()
    return weights, means, noise, loadings


def full_covariances(loadings: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Σ_k = Λ_k Λ_kᵀ + diag Ψ_k: K × d × d."""
    cov = loadings @ loadings.transpose(0, 2, 1)
    d = noise.shape[1]
    cov[:, np.arange(d), np.arange(d)] += noise
    return cov


def n_free(d: int, q: int) -> int:
    """Free parameters of one component's covariance: d·q − q(q−1)/2 loadings (Λ is
    identified up to a rotation) and d noise variances, at most the d(d+1)/2 of a full
    covariance (which q beyond the Ledermann bound would count past)."""
    return min(d * q - q * (q - 1) // 2 + d, d * (d + 1) // 2)
