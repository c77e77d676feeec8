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


def numerical_hessian(theta, *data, of=log_likelihood):
    """Central second differences of the log-likelihood ``of(θ, *data)`` at θ."""
    P = len(theta)
    h = 1e-4 * np.maximum(np.abs(theta), 0.1)
    numeric = np.empty((P, P))

    def at(i, j, a, b):
        t = theta.copy()
        t[i] += a * h[i]
        t[j] += b * h[j]
        return of(t, *data)

    for i in range(P):
        for j in range(i, P):
            second = at(i, j, 1, 1) - at(i, j, 1, -1) - at(i, j, -1, 1) + at(i, j, -1, -1)
            numeric[i, j] = numeric[j, i] = second / (4 * h[i] * h[j])
    return numeric


# --- concomitant variables: weights π_ik = softmax_k(Z_i Γ_k), Γ_1 = 0


def gate_weights(Z, gate):
    """π (n × K) of the multinomial logit, row by row."""
    out = np.empty((len(Z), len(gate)))
    for i in range(len(Z)):
        a = np.array([Z[i] @ g for g in gate])
        a = np.exp(a - a.max())
        out[i] = a / a.sum()
    return out


def gated_responsibilities(X, y, Z, gate, coefficients, sigmas):
    """(n × K posteriors, each row's log-likelihood) with the gate's per-row weights."""
    pi = gate_weights(Z, gate)
    n, K = len(y), len(gate)
    log_terms = np.empty((n, K))
    for i in range(n):
        for k in range(K):
            e = y[i] - X[i] @ coefficients[k]
            log_terms[i, k] = (
                np.log(pi[i, k])
                - 0.5 * np.log(2 * np.pi * sigmas[k] ** 2)
                - e * e / (2 * sigmas[k] ** 2)
            )
    top = log_terms.max(axis=1, keepdims=True)
    row = top[:, 0] + np.log(np.exp(log_terms - top).sum(axis=1))
    return np.exp(log_terms - row[:, None]), row


def fit_gate(Z, r, gate):
    """Γ maximising Σ_i Σ_k r_ik log π_ik(Γ) (r already times the row weights), Γ_1 = 0, by
    scipy's BFGS with the gradient Σ_i (r_ik − π_ik) Z_i, to convergence."""
    from scipy.optimize import minimize

    K, m1 = gate.shape

    def negative(theta):
        full = np.vstack([np.zeros(m1), theta.reshape(K - 1, m1)])
        a = Z @ full.T
        top = a.max(axis=1, keepdims=True)
        log_pi = a - top - np.log(np.exp(a - top).sum(axis=1, keepdims=True))
        gradient = (r - np.exp(log_pi) * r.sum(axis=1, keepdims=True))[:, 1:].T @ Z
        return -(r * log_pi).sum(), -gradient.ravel()

    found = minimize(negative, gate[1:].ravel(), jac=True, method="BFGS", options={"gtol": 1e-12})
    return np.vstack([np.zeros(m1), found.x.reshape(K - 1, m1)])


def gated_em(X, Z, y, w, gate, coefficients, sigmas, iterations):
    """``iterations`` EM iterations with the gate maximised to convergence in each M-step:
    (gate, coefficients, sigmas) and the log-likelihood of the last E-step."""
    ll = None
    for _ in range(iterations):
        post, row = gated_responsibilities(X, y, Z, gate, coefficients, sigmas)
        ll = float(w @ row)
        r = w[:, None] * post
        coefficients = np.array(
            [
                np.linalg.lstsq(X * np.sqrt(r[:, k])[:, None], y * np.sqrt(r[:, k]), rcond=None)[0]
                for k in range(len(gate))
            ]
        )
        sigmas = np.array(
            [
                np.sqrt(r[:, k] @ (y - X @ coefficients[k]) ** 2 / r[:, k].sum())
                for k in range(len(gate))
            ]
        )
        gate = fit_gate(Z, r, gate)
    return (gate, coefficients, sigmas), ll


def gated_planted(n: int = 600, seed: int = 0):
    """Rows [y, x_1, x_2, z] from three lines whose weights follow one covariate z through
    the logit Γ = [[0, 0], [0.5, 2], [−0.5, −1.5]]; X with its ones, Z = (1, z), y, integer
    weights and a start near the truth."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    z = rng.normal(size=n)
    beta = np.array([[1.0, 2.0, -1.0], [-3.0, -1.0, 2.0], [6.0, 0.5, 0.5]])
    sigma = np.array([0.3, 0.5, 0.4])
    gate = np.array([[0.0, 0.0], [0.5, 2.0], [-0.5, -1.5]])
    Z = np.column_stack([np.ones(n), z])
    pi = gate_weights(Z, gate)
    part = np.array([rng.choice(3, p=row) for row in pi])
    X = np.column_stack([np.ones(n), x])
    y = np.einsum("ij,ij->i", X, beta[part]) + sigma[part] * rng.normal(size=n)
    w = rng.integers(1, 4, size=n).astype(float)
    start = RegressionMixture(
        np.full(3, 1 / 3),
        beta + 0.2 * rng.normal(size=beta.shape) * np.abs(beta),
        sigma * 2,
        np.zeros_like(gate),
    )
    return np.column_stack([y, x, z]), X, Z, y, w, start


def gated_log_likelihood(theta, X, Z, y, w, k):
    """The weighted log-likelihood at θ = (β_1, σ_1, …, β_K, σ_K, Γ_2, …, Γ_K)."""
    q, m1 = X.shape[1], Z.shape[1]
    blocks = theta[: k * (q + 1)].reshape(k, q + 1)
    gate = np.vstack([np.zeros(m1), theta[k * (q + 1) :].reshape(k - 1, m1)])
    _, row = gated_responsibilities(X, y, Z, gate, blocks[:, :q], blocks[:, q])
    return w @ row
