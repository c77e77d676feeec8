"""The masked mixture's E-step and M-step written row by row and entry by entry from equations
(1)–(5) of ``kernels.masked`` (and the prior's MAP M-step of ``masked.MeanPrior``): an
independent check of the kernels and of every update built on them."""

from __future__ import annotations

import numpy as np


def per_row_estep(X, mu, var, p):
    """Posteriors (n × K) and the log-likelihood, one row and one component at a time."""
    n, K = X.shape[0], len(p)
    f = np.zeros((n, K))
    for u in range(n):
        seen = X[u] != 0
        for j in range(K):
            diff = X[u, seen] - mu[j, seen]
            f[u, j] = (
                np.log(p[j] + 1e-16)
                - seen.sum() / 2 * np.log(2 * np.pi * var[j])
                - diff @ diff / (2 * var[j])
            )
    top = f.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(f - top).sum(axis=1))
    return np.exp(f - lse[:, None]), lse.sum()


def per_row_mstep(X, post, mu, min_variance, prior_strength=0.0):
    """(means, variances, weights) of the M-step; with ``prior_strength`` τ > 0 the MAP
    update with the prior centred on each column's mean observed value (the mean of all
    observed values for a column with none)."""
    n, d = X.shape
    K = post.shape[1]
    mu = mu.copy()
    var = np.zeros(K)
    observed = X[X != 0]
    centre = np.array(
        [X[X[:, i] != 0, i].mean() if (X[:, i] != 0).any() else observed.mean() for i in range(d)]
    )
    for j in range(K):
        for i in range(d):
            seen = X[:, i] != 0
            weight = post[seen, j].sum()
            if prior_strength > 0:
                mu[j, i] = (post[seen, j] @ X[seen, i] + prior_strength * centre[i]) / (
                    weight + prior_strength
                )
            elif weight >= 1:
                mu[j, i] = post[seen, j] @ X[seen, i] / weight
        sse = weight_total = 0.0
        for u in range(n):
            seen = X[u] != 0
            sse += post[u, j] * ((X[u, seen] - mu[j, seen]) ** 2).sum()
            weight_total += post[u, j] * seen.sum()
        if prior_strength > 0:
            sse += prior_strength * ((mu[j] - centre) ** 2).sum()
            weight_total += d
        var[j] = max(sse / weight_total, min_variance)
    return mu, var, post.sum(axis=0) / n


def em_iteration(X, weights, means, variances, min_variance, prior_strength=0.0):
    """One EM iteration on the dense ratings ``X`` (0 = missing) from the given mixture:
    (means, variances, weights) and the log-likelihood of its E-step."""
    post, ll = per_row_estep(X, means, variances, weights)
    return per_row_mstep(X, post, means, min_variance, prior_strength), ll
