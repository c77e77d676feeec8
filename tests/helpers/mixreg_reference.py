"""Textbook EM for a mixture of linear regressions, written from the equations with no TSQR:
per-row responsibilities from the normal density, each component's weighted least squares in
closed form (``numpy.linalg.lstsq`` on the √weight-scaled rows), σ as the weighted residual
RMS. An independent check of ``kernels.mixreg``."""

from __future__ import annotations

import numpy as np

from spark_em.kernels.mixreg import RegressionMixture


def responsibilities(X, y, weights, coefficients, sigmas):
    """(n × K posteriors, the weighted log-likelihood), row by row."""
    n, K = len(y), len(weights)
    log_terms = np.empty((n, K))
    for i in range(n):
        for k in range(K):
            e = y[i] - X[i] @ coefficients[k]
            log_terms[i, k] = (
                np.log(weights[k])
                - 0.5 * np.log(2 * np.pi * sigmas[k] ** 2)
                - e * e / (2 * sigmas[k] ** 2)
            )
    top = log_terms.max(axis=1, keepdims=True)
    row = top[:, 0] + np.log(np.exp(log_terms - top).sum(axis=1))
    return np.exp(log_terms - row[:, None]), row


def em(X, y, w, weights, coefficients, sigmas, iterations):
    """``iterations`` EM iterations from the given mixture: (weights, coefficients, sigmas)
    and the log-likelihood of the last E-step."""
    ll = None
    for _ in range(iterations):
        post, row = responsibilities(X, y, weights, coefficients, sigmas)
        ll = float(w @ row)
        r = w[:, None] * post
        coefficients = np.array(
            [
                np.linalg.lstsq(X * np.sqrt(r[:, k])[:, None], y * np.sqrt(r[:, k]), rcond=None)[0]
                for k in range(len(weights))
            ]
        )
        sigmas = np.array(
            [
                np.sqrt(r[:, k] @ (y - X @ coefficients[k]) ** 2 / r[:, k].sum())
                for k in range(len(weights))
            ]
        )
        weights = r.sum(axis=0) / r.sum()
    return (weights, coefficients, sigmas), ll


def planted(design: str, n: int = 600, seed: int = 0):
    """Rows [y, features] from planted components ("separated": three lines in two features;
    "polynomial": two quartics in t ∈ [5, 15], a design of condition number above 1e6),
    the design X with its column of ones, y, integer weights, and a start near the truth."""
    rng = np.random.default_rng(seed)
    if design == "separated":
        x = rng.normal(size=(n, 2))
        beta = np.array([[1.0, 2.0, -1.0], [-3.0, -1.0, 2.0], [6.0, 0.5, 0.5]])
        sigma = np.array([0.3, 0.5, 0.4])
    else:  # a quartic in t ∈ [5, 15]: features t, t², t³, t⁴
        t = rng.uniform(5, 15, size=n)
        x = np.stack([t, t**2, t**3, t**4], axis=1)
        beta = np.array([[1.0, 0.5, -0.2, 0.01, 1e-4], [30.0, -2.0, 0.3, -0.01, 2e-4]])
        sigma = np.array([0.5, 0.8])
    k = len(sigma)
    part = rng.integers(0, k, size=n)
    X = np.column_stack([np.ones(n), x])
    y = np.einsum("ij,ij->i", X, beta[part]) + sigma[part] * rng.normal(size=n)
    w = rng.integers(1, 4, size=n).astype(float)
    start = RegressionMixture(
        np.full(k, 1.0 / k), beta + 0.2 * rng.normal(size=beta.shape) * np.abs(beta), sigma * 2
    )
    return np.column_stack([y, x]), X, y, w, start


def log_likelihood(theta, X, y, w, k):
    """The weighted log-likelihood at θ = (β_1, σ_1, …, β_K, σ_K, π_1, …, π_{K−1}),
    from the reference's per-row responsibilities."""
    q = X.shape[1]
    blocks = theta[: k * (q + 1)].reshape(k, q + 1)
    weights = np.r_[theta[k * (q + 1) :], 1.0 - theta[k * (q + 1) :].sum()]
    _, row = responsibilities(X, y, weights, blocks[:, :q], blocks[:, q])
    return w @ row


def numerical_hessian(theta, X, y, w, k):
    """Central second differences of the log-likelihood at θ."""
    P = len(theta)
    h = 1e-4 * np.maximum(np.abs(theta), 0.1)
    numeric = np.empty((P, P))

    def at(i, j, a, b):
        t = theta.copy()
        t[i] += a * h[i]
        t[j] += b * h[j]
        return log_likelihood(t, X, y, w, k)

    for i in range(P):
        for j in range(i, P):
            second = at(i, j, 1, 1) - at(i, j, 1, -1) - at(i, j, -1, 1) + at(i, j, -1, -1)
            numeric[i, j] = numeric[j, i] = second / (4 * h[i] * h[j])
    return numeric
