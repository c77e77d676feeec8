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
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import linalg
from scipy.special import logsumexp

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
REG_COVAR = 1e-6
# A component whose responsibilities sum to less than this keeps its mean and covariance
# (there is nothing to estimate them from) and its weight falls to N_k / n.
EMPTY_COMPONENT = 1e-10


class Mixture(NamedTuple):
    """A Gaussian mixture's parameters: weights (K), means (K×d), covariances (shape by type)
    and the covariance type."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance_type: str


class GaussianStats(NamedTuple):
    log_likelihood: float
    n_rows: int
    resp: np.ndarray  # N_k
    centred_sum: np.ndarray  # S1_k = Σ r (x − m_k), K×d
    centred_square: np.ndarray  # S2_k: K×d×d (full, tied) or K×d (diag, spherical)


def check_type(covariance_type: str) -> str:
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"covariance_type must be one of {', '.join(COVARIANCE_TYPES)}, "
                         f"not {covariance_type!r}")
    return covariance_type


def precision_cholesky(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """P with P Pᵀ = Σ⁻¹ (per component; ``tied`` has one), by Cholesky and a triangular solve.

    Raises ``np.linalg.LinAlgError`` naming the component when a covariance is not positive
    definite (collapsed data, a constant column with ``reg_covar`` 0).
    """
    if covariance_type in ("full", "tied"):
        stack = covariances[None] if covariance_type == "tied" else covariances
        d = stack.shape[-1]
        out = np.empty_like(stack, dtype=np.float64)
        for k, cov in enumerate(stack):
            try:
                chol = linalg.cholesky(cov, lower=True)
            except linalg.LinAlgError:
                raise np.linalg.LinAlgError(
                    f"the covariance of component {k} is not positive definite (the data may "
                    "be collapsed or have a constant column): increase reg_covar") from None
            out[k] = linalg.solve_triangular(chol, np.eye(d), lower=True).T
        return out[0] if covariance_type == "tied" else out
    if np.any(covariances <= 0):
        k = int(np.argwhere(np.atleast_1d(covariances) <= 0)[0][0])
        raise np.linalg.LinAlgError(
            f"the variance of component {k} is not positive (a constant column?): increase reg_covar")
    return 1.0 / np.sqrt(covariances)


class Prepared(NamedTuple):
    """What travels to the executors each iteration: the mixture with its precision factors."""

    log_weights: np.ndarray
    means: np.ndarray
    precision_chol: np.ndarray
    covariance_type: str


def prepare(mixture: Mixture) -> Prepared:
    with np.errstate(divide="ignore"):
        log_weights = np.log(mixture.weights)
    return Prepared(log_weights, np.asarray(mixture.means, dtype=np.float64),
                    precision_cholesky(mixture.covariances, mixture.covariance_type),
                    mixture.covariance_type)


def log_gaussian_prob(X: np.ndarray, prepared: Prepared) -> np.ndarray:
    """Equation (7) for every row and component: n×K."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    means, prec, kind = prepared.means, prepared.precision_chol, prepared.covariance_type
    K = means.shape[0]
    out = np.empty((n, K))
    for k in range(K):
        diff = X - means[k]
        if kind == "full":
            y = diff @ prec[k]
            log_det = np.log(np.diag(prec[k])).sum()
        elif kind == "tied":
            y = diff @ prec
            log_det = np.log(np.diag(prec)).sum()
        elif kind == "diag":
            y = diff * prec[k]
            log_det = np.log(prec[k]).sum()
        else:
            y = diff * prec[k]
            log_det = d * np.log(prec[k])
        out[:, k] = -0.5 * (d * np.log(2 * np.pi) + np.einsum("ij,ij->i", y, y)) + log_det
    return out


def posterior(X: np.ndarray, prepared: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Equation (8): responsibilities (n×K) and each row's log-likelihood (n)."""
    weighted = log_gaussian_prob(X, prepared) + prepared.log_weights[None, :]
    row_ll = logsumexp(weighted, axis=1)
    return np.exp(weighted - row_ll[:, None]), row_ll


def stats_of(X: np.ndarray, resp: np.ndarray, centres: np.ndarray, covariance_type: str,
             log_likelihood: float = 0.0) -> GaussianStats:
    """Σ r, Σ r (x − m_k) and the centred second moments the covariance type needs."""
    X = np.asarray(X, dtype=np.float64)
    K, d = centres.shape
    n_k = resp.sum(axis=0)
    first = np.empty((K, d))
    square = np.empty((K, d, d) if covariance_type in ("full", "tied") else (K, d))
    for k in range(K):
        diff = X - centres[k]
        weighted = diff * resp[:, k:k + 1]
        first[k] = weighted.sum(axis=0)
        square[k] = weighted.T @ diff if square.ndim == 3 else (weighted * diff).sum(axis=0)
    return GaussianStats(float(log_likelihood), X.shape[0], n_k, first, square)


def block_stats(X: np.ndarray, prepared: Prepared) -> GaussianStats:
    """One pass over a block: its log-likelihood and its M-step sums, centred on the means."""
    resp, row_ll = posterior(X, prepared)
    return stats_of(X, resp, prepared.means, prepared.covariance_type, row_ll.sum())


def update(stats: GaussianStats, previous: Mixture, reg_covar: float = REG_COVAR,
           weight_eps: float = 10 * np.finfo(np.float64).eps) -> Mixture:
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
    cov = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": k * d,
           "spherical": k}[check_type(covariance_type)]
    return (k - 1) + k * d + cov


def bic(log_likelihood: float, k: int, d: int, n: int, covariance_type: str) -> float:
    """The course's BIC, higher is better: LL − ½ p log n."""
    return log_likelihood - 0.5 * n_parameters(k, d, covariance_type) * np.log(n)


def aic(log_likelihood: float, k: int, d: int, covariance_type: str) -> float:
    """AIC on the same scale as ``bic`` (higher is better): LL − p."""
    return log_likelihood - n_parameters(k, d, covariance_type)


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
