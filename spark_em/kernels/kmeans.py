"""Kernels of the course's K-means: hard assignment to the nearest mean. Pure numpy.

Each pass sums, per cluster, the rows' offsets from the current means, so the new means and
each cluster's squared error follow from the sums without a second pass:
μ_k = m_k + S1_k / n_k and Σ ‖x − μ_k‖² = Σ ‖x − m_k‖² − n_k ‖μ_k − m_k‖².
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from spark_em.kernels.arrays import record
from spark_em.kernels.gaussian import Mixture


@record
class KMeansStats(NamedTuple):
    cost_before: float  # Σ ‖x − m_{a(x)}‖² under the current means
    n_rows: float  # rows, or the sum of their weights
    counts: np.ndarray  # n_k
    centred_sum: np.ndarray  # Σ_{a(x)=k} (x − m_k)
    centred_sq: np.ndarray  # Σ_{a(x)=k} ‖x − m_k‖²


def nearest(X: np.ndarray, means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest mean of each row (the first on ties) and its squared distance."""
    X = np.asarray(X, dtype=np.float64)
    sq = np.stack([np.einsum("ij,ij->i", X - m, X - m) for m in means], axis=1)
    labels = sq.argmin(axis=1)
    return labels, sq[np.arange(X.shape[0]), labels]


def block_stats(X: np.ndarray, means: np.ndarray, weights: np.ndarray | None = None) -> KMeansStats:
    """A block's cost under ``means`` and its per-cluster sums, centred on the means; with
    ``weights`` each row counts its weight times."""
    X = np.asarray(X, dtype=np.float64)
    K, d = means.shape
    labels, sq = nearest(X, means)
    w = np.ones(X.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    counts = np.bincount(labels, weights=w, minlength=K)
    centred = np.zeros((K, d))
    np.add.at(centred, labels, (X - means[labels]) * w[:, None])
    return KMeansStats(
        float(w @ sq),
        X.shape[0] if weights is None else float(w.sum()),
        counts,
        centred,
        np.bincount(labels, weights=sq * w, minlength=K),
    )


def update(stats: KMeansStats, means: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """New means, and each cluster's SSE and the total cost under the new means.

    A cluster that lost all its rows keeps its mean (the course's code would divide by zero).
    """
    counts = stats.counts
    filled = counts > 0
    shift = np.zeros_like(stats.centred_sum)
    shift[filled] = stats.centred_sum[filled] / counts[filled, None]
    # Σ ‖x − μ‖² = Σ ‖x − m‖² − n_k ‖μ − m‖²   (μ − m = S1 / n_k)
    sse = np.maximum(stats.centred_sq - counts * (shift * shift).sum(axis=1), 0.0)
    return means + shift, sse, float(sse.sum())


def as_mixture(means: np.ndarray, sse: np.ndarray, counts: np.ndarray, n_rows: int) -> Mixture:
    """The course's reading of K-means as a spherical mixture: p = n_k/n, σ² = SSE_k/(d·n_k)."""
    d = means.shape[1]
    var = np.divide(sse, d * counts, out=np.zeros_like(sse), where=counts > 0)
    return Mixture(counts / n_rows, means, var, "spherical")
