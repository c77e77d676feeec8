"""The course's complete-data algorithms (init, K-means, EM, BIC), written plainly in numpy as
an independent check of the library."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp


def course_init(X, K, seed):
    np.random.seed(seed)
    mu = X[np.random.choice(X.shape[0], K, replace=False)]
    var = np.array([((X - mu[j]) ** 2).mean() for j in range(K)])
    return mu, var, np.ones(K) / K


def course_kmeans(X, K, seed):
    mu, _, _ = course_init(X, K, seed)
    prev = cost = None
    while prev is None or prev - cost > 1e-4:
        prev = cost
        post = np.zeros((X.shape[0], K))
        for i in range(X.shape[0]):
            post[i, np.argmin(((X[i] - mu) ** 2).sum(axis=1))] = 1
        n_hat = post.sum(axis=0)
        mu = post.T @ X / n_hat[:, None]
        sse = np.array([((mu[j] - X) ** 2).sum(axis=1) @ post[:, j] for j in range(K)])
        cost = sse.sum()
    return cost, mu, sse / (X.shape[1] * n_hat), n_hat / X.shape[0]


def course_em(X, K, seed):
    mu, var, p = course_init(X, K, seed)
    n, d = X.shape
    prev = ll = None
    first = None
    while prev is None or ll - prev > 1e-6 * abs(ll):
        prev = ll
        f = (
            np.log(p + 0.0)
            - d / 2 * np.log(2 * np.pi * var)
            - ((X[:, None, :] - mu[None]) ** 2).sum(axis=2) / (2 * var)
        )
        lse = logsumexp(f, axis=1)
        post, ll = np.exp(f - lse[:, None]), lse.sum()
        first = ll if first is None else first
        n_hat = post.sum(axis=0)
        mu = post.T @ X / n_hat[:, None]
        var = np.array([post[:, j] @ ((X - mu[j]) ** 2).sum(axis=1) for j in range(K)]) / (
            d * n_hat
        )
        p = n_hat / n
    return ll, first, mu, var, p


def course_bic(ll, K, d, n):
    return ll - 0.5 * (K * d + K + K - 1) * np.log(n)
