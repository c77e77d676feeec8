"""One EM iteration of a mixture of factor analysers written from the textbook (Ghahramani &
Hinton 1996): Σ_k formed in full, E[z | x] = Λᵀ Σ⁻¹ (x − μ), Cov[z | x] = I − Λᵀ Σ⁻¹ Λ, and the
joint update of [Λ, μ] in the data's own coordinates."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal


def row_log_likelihoods(X, weights, means, noise, loadings):
    """log Σ_k π_k N(x_u; μ_k, Λ_k Λ_kᵀ + Ψ_k) of each row."""
    sigma = loadings @ loadings.transpose(0, 2, 1) + np.stack([np.diag(p) for p in noise])
    logp = np.stack(
        [
            np.log(weights[k]) + multivariate_normal(means[k], sigma[k]).logpdf(X)
            for k in range(len(weights))
        ],
        axis=1,
    )
    return logsumexp(logp, axis=1)


def log_likelihood(X, weights, means, noise, loadings, row_weights=None):
    """Σ_u w_u log Σ_k π_k N(x_u; μ_k, Λ_k Λ_kᵀ + Ψ_k)."""
    rows = row_log_likelihoods(X, weights, means, noise, loadings)
    return float(rows.sum() if row_weights is None else row_weights @ rows)


def textbook_update(X, mixture, reg_covar=0.0, row_weights=None):
    """(weights, means, loadings, noise variances) after one EM iteration from ``mixture``
    (a ``gaussian.Mixture`` of type factor)."""
    w_k, means, noise, _, loadings = mixture
    n, d = X.shape
    K, q = len(w_k), loadings.shape[2]
    row_weights = np.ones(n) if row_weights is None else np.asarray(row_weights, float)
    sigma = loadings @ loadings.transpose(0, 2, 1) + np.stack([np.diag(p) for p in noise])
    logp = np.stack(
        [np.log(w_k[k]) + multivariate_normal(means[k], sigma[k]).logpdf(X) for k in range(K)], 1
    )
    resp = np.exp(logp - logsumexp(logp, axis=1)[:, None]) * row_weights[:, None]
    out = []
    for k in range(K):
        beta = loadings[k].T @ np.linalg.inv(sigma[k])
        ez = (X - means[k]) @ beta.T
        ez1 = np.hstack([ez, np.ones((n, 1))])
        r = resp[:, k]
        ezz = r.sum() * (np.eye(q) - beta @ loadings[k]) + (ez * r[:, None]).T @ ez
        second = np.zeros((q + 1, q + 1))
        second[:q, :q], second[:q, q], second[q, :q] = ezz, r @ ez, r @ ez
        second[q, q] = r.sum()
        lam = ((X * r[:, None]).T @ ez1) @ np.linalg.inv(second)
        psi = np.diag((X * r[:, None]).T @ X - lam @ (ez1 * r[:, None]).T @ X) / r.sum()
        out.append((r.sum() / row_weights.sum(), lam[:, q], lam[:, :q], psi + reg_covar))
    return [np.array(a) for a in zip(*out)]
