"""Stepwise EM's update written from the equations on uncentred statistics, row by row
(``missing_reference``): the independent computation the stepwise tests compare against."""

from __future__ import annotations

import numpy as np

from tests.helpers import missing_reference as ref

REG = 1e-6


def reference_step(X, w, mixture, eta: float, reg: float = REG):
    """The stepwise update from per-row expected statistics: the model's own statistics are
    s0 = π, s1 = π μ, s2 = π (Σ − reg + μ μᵀ); the batch's are weighted sums over its rows
    divided by the sum of the weights."""
    kind = mixture.covariance_type
    K, d = mixture.means.shape
    _, _, _, rows = ref.estep(X, *mixture[:3], kind)
    kept = ~np.isnan(X).all(axis=1)
    w = w[kept]
    total = w.sum()
    b0, b1, b2 = np.zeros(K), np.zeros((K, d)), np.zeros((K, d, d))
    for weight, (r, filled, conditional) in zip(w, rows):
        for k in range(K):
            b0[k] += weight * r[k]
            b1[k] += weight * r[k] * filled[k]
            b2[k] += weight * r[k] * (np.outer(filled[k], filled[k]) + conditional[k])
    covs = ref.full_covariances(*mixture[:3], kind) - reg * np.eye(d)
    s0 = mixture.weights
    s1 = s0[:, None] * mixture.means
    s2 = s0[:, None, None] * (covs + mixture.means[:, :, None] * mixture.means[:, None, :])
    s0, s1, s2 = (
        (1 - eta) * s0 + eta * b0 / total,
        (1 - eta) * s1 + eta * b1 / total,
        (1 - eta) * s2 + eta * b2 / total,
    )
    means = s1 / s0[:, None]
    central = s2 / s0[:, None, None] - means[:, :, None] * means[:, None, :]
    if kind == "full":
        cov = central + reg * np.eye(d)
    elif kind == "tied":
        cov = (s0[:, None, None] * central).sum(axis=0) / s0.sum() + reg * np.eye(d)
    elif kind == "diag":
        cov = np.stack([np.diag(c) for c in central]) + reg
    else:
        cov = np.array([np.trace(c) / d for c in central]) + reg
    return s0 / s0.sum(), means, cov
