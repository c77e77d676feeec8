"""Exact EM for a Gaussian mixture with values missing at random, written from the textbook
formulas one row and one component at a time (Σ_oo, the regression Σ_mo Σ_oo⁻¹ and the
conditional covariance Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om), with no grouping or vectorisation: the
independent computation the tests compare the library against."""

from __future__ import annotations

import numpy as np
from scipy import stats


def full_covariances(weights, means, covariances, kind):
    K, d = np.asarray(means).shape
    cov = np.asarray(covariances, dtype=np.float64)
    return {
        "full": lambda: cov,
        "tied": lambda: np.repeat(cov[None], K, axis=0),
        "diag": lambda: np.stack([np.diag(c) for c in cov]),
        "spherical": lambda: cov[:, None, None] * np.eye(d)[None],
    }[kind]()


def estep(X, weights, means, covariances, kind):
    """Log-likelihood, responsibilities, the filled rows x̂_uk and the conditional covariances
    C_uk (d×d, zero outside [m, m]) of every row with a value observed, and the imputations
    Σ_k r x̂_k (Σ_k w_k μ_k for a row with nothing observed)."""
    covs = full_covariances(weights, means, covariances, kind)
    weights, means = np.asarray(weights), np.asarray(means)
    n, d = X.shape
    K = len(weights)
    rows, ll = [], 0.0
    resp, imputed = np.zeros((n, K)), X.copy()
    for u in range(n):
        o = np.flatnonzero(~np.isnan(X[u]))
        m = np.flatnonzero(np.isnan(X[u]))
        if o.size == 0:
            resp[u] = weights
            imputed[u] = weights @ means
            continue
        logp, filled, conditional = np.empty(K), [], []
        for k in range(K):
            S = covs[k]
            with np.errstate(divide="ignore"):
                logp[k] = np.log(weights[k]) + stats.multivariate_normal.logpdf(
                    X[u, o], means[k, o], S[np.ix_(o, o)]
                )
            gain = S[np.ix_(m, o)] @ np.linalg.inv(S[np.ix_(o, o)])
            x_hat = X[u].copy()
            x_hat[m] = means[k, m] + gain @ (X[u, o] - means[k, o])
            C = np.zeros((d, d))
            C[np.ix_(m, m)] = S[np.ix_(m, m)] - gain @ S[np.ix_(o, m)]
            filled.append(x_hat)
            conditional.append(C)
        top = logp.max()
        row_ll = top + np.log(np.exp(logp - top).sum())
        r = np.exp(logp - row_ll)
        ll += row_ll
        resp[u] = r
        imputed[u] = sum(r[k] * filled[k] for k in range(K))
        rows.append((r, filled, conditional))
    return ll, resp, imputed, rows


def mstep(rows, means, kind, reg_covar):
    """π, μ and Σ of the type from the expected statistics of ``estep``."""
    K, d = np.asarray(means).shape
    n = len(rows)
    n_k = np.zeros(K)
    sums = np.zeros((K, d))
    for r, filled, _ in rows:
        for k in range(K):
            n_k[k] += r[k]
            sums[k] += r[k] * filled[k]
    new_means = sums / n_k[:, None]
    scatter = np.zeros((K, d, d))
    for r, filled, conditional in rows:
        for k in range(K):
            diff = filled[k] - new_means[k]
            scatter[k] += r[k] * (np.outer(diff, diff) + conditional[k])
    if kind == "full":
        cov = scatter / n_k[:, None, None] + reg_covar * np.eye(d)
    elif kind == "tied":
        cov = scatter.sum(axis=0) / n + reg_covar * np.eye(d)
    elif kind == "diag":
        cov = np.stack([np.diag(s) for s in scatter]) / n_k[:, None] + reg_covar
    else:
        cov = np.array([np.trace(s) / d for s in scatter]) / n_k + reg_covar
    return n_k / n, new_means, cov


def em(X, weights, means, covariances, kind, iterations, reg_covar=1e-6):
    """(log-likelihood of each E-step, the parameters after each M-step)."""
    lls, params = [], []
    for _ in range(iterations):
        ll, _, _, rows = estep(X, weights, means, covariances, kind)
        weights, means, covariances = mstep(rows, means, kind, reg_covar)
        lls.append(ll)
        params.append((weights, means, covariances))
    return lls, params
