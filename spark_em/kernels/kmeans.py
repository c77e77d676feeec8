"""Kernels of K-means: hard assignment to the nearest centre under a distance measure, the
sums of a pass, the update, and the local k-means the k-means|| start ends with. Pure numpy.

The measures are MLlib's (``DistanceMeasure``): ``euclidean``, whose cost is ‖x − c‖² and
distance ‖x − c‖, and ``cosine``, whose cost and distance are 1 − cos(x, c) and whose centres
are unit vectors (the normalised weighted mean of the normalised rows). A zero-length row has
no cosine distance: the callers refuse it before a pass.

Each pass sums, per cluster, what gives the new centres and each cluster's cost under them
without a second pass:

- euclidean: S1 = Σ w (x − m); μ = m + S1/n and Σ w ‖x − μ‖² = Σ w ‖x − m‖² − n ‖μ − m‖²;
- cosine: s = Σ w x/‖x‖; c = s/‖s‖ and, m and c being unit vectors,
  Σ w (1 − cos(x, c)) = Σ w (1 − cos(x, m)) − ‖s‖ ‖c − m‖²/2.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from spark_em.kernels.arrays import record
from spark_em.kernels.gaussian import Mixture

EUCLIDEAN, COSINE = "euclidean", "cosine"
MEASURES = (EUCLIDEAN, COSINE)
LOCAL_MAX_ITER = 30  # MLlib's LocalKMeans: Lloyd iterations of the candidates on the driver


@record
class KMeansStats(NamedTuple):
    cost_before: float  # Σ ‖x − m_{a(x)}‖² under the current means
    n_rows: float  # rows, or the sum of their weights
    counts: np.ndarray  # n_k
    centred_sum: np.ndarray  # Σ_{a(x)=k} (x − m_k)
    centred_sq: np.ndarray  # Σ_{a(x)=k} ‖x − m_k‖²


@record
class CosineStats(NamedTuple):
    cost_before: float  # Σ w (1 − cos(x, m_{a(x)})) under the current centres
    n_rows: float  # rows, or the sum of their weights
    counts: np.ndarray  # n_k
    unit_sum: np.ndarray  # Σ_{a(x)=k} w x/‖x‖
    cluster_cost: np.ndarray  # Σ_{a(x)=k} w (1 − cos(x, m_k))


def row_norms(X: np.ndarray) -> np.ndarray:
    """‖x‖ of each row."""
    X = np.asarray(X, dtype=np.float64)
    return np.sqrt(np.einsum("ij,ij->i", X, X))


def costs(X: np.ndarray, centres: np.ndarray, measure: str = EUCLIDEAN) -> np.ndarray:
    """n×K: each row's cost to each centre, ‖x − c‖² (euclidean) or 1 − x·c/‖x‖/‖c‖
    (cosine, MLlib's expression)."""
    X = np.asarray(X, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    if measure == COSINE:
        return 1.0 - (X @ centres.T) / row_norms(X)[:, None] / row_norms(centres)[None, :]
    # exact differences (no ‖x‖² − 2x·c + ‖c‖², which cancels near a centre), on the
    # features × rows layout: long vector operations whatever the width
    columns = np.ascontiguousarray(X.T)
    out = np.empty((centres.shape[0], X.shape[0]))
    for k, centre in enumerate(centres):
        difference = columns - centre[:, None]
        difference *= difference
        out[k] = difference.sum(axis=0)
    return out.T


def nearest(
    X: np.ndarray, centres: np.ndarray, measure: str = EUCLIDEAN
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest centre of each row (the first on ties) and its cost."""
    cost = costs(X, centres, measure)
    labels = cost.argmin(axis=1)
    return labels, cost[np.arange(cost.shape[0]), labels]


def distances(cost: np.ndarray, measure: str = EUCLIDEAN) -> np.ndarray:
    """The distance a cost stands for: ‖x − c‖ = √cost (euclidean), the cost itself (cosine)."""
    return np.sqrt(cost) if measure == EUCLIDEAN else np.asarray(cost)


def as_centres(rows: np.ndarray, measure: str = EUCLIDEAN) -> np.ndarray:
    """Rows as the centres they stand for: themselves (euclidean) or their directions, unit
    vectors (cosine)."""
    rows = np.array(rows, dtype=np.float64, ndmin=2)
    return rows / row_norms(rows)[:, None] if measure == COSINE else rows


def block_stats(
    X: np.ndarray,
    means: np.ndarray,
    weights: np.ndarray | None = None,
    measure: str = EUCLIDEAN,
) -> KMeansStats | CosineStats:
    """A block's cost under ``means`` and its per-cluster sums (``KMeansStats`` for euclidean,
    ``CosineStats`` for cosine, whose centres must be unit vectors); with ``weights`` each row
    counts its weight times."""
    X = np.asarray(X, dtype=np.float64)
    K, d = means.shape
    labels, cost = nearest(X, means, measure)
    w = np.ones(X.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    counts = np.bincount(labels, weights=w, minlength=K)
    n_rows = X.shape[0] if weights is None else float(w.sum())
    sums = np.zeros((K, d))
    if measure == COSINE:
        np.add.at(sums, labels, X * (w / row_norms(X))[:, None])
        cluster_cost = np.bincount(labels, weights=cost * w, minlength=K)
        return CosineStats(float(w @ cost), n_rows, counts, sums, cluster_cost)
    np.add.at(sums, labels, (X - means[labels]) * w[:, None])
    centred_sq = np.bincount(labels, weights=cost * w, minlength=K)
    return KMeansStats(float(w @ cost), n_rows, counts, sums, centred_sq)


def update(
    stats: KMeansStats | CosineStats, means: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """New centres, each cluster's squared error under them (of the rows, or for cosine of the
    unit rows about the unit centres: twice its cost) and the total cost under them.

    A cluster that lost all its rows keeps its centre (the course's code would divide by
    zero); so does a cosine cluster whose unit rows sum to zero (it has no direction).
    """
    if isinstance(stats, CosineStats):
        return _cosine_update(stats, means)
    counts = stats.counts
    filled = counts > 0
    shift = np.zeros_like(stats.centred_sum)
    shift[filled] = stats.centred_sum[filled] / counts[filled, None]
    # Σ ‖x − μ‖² = Σ ‖x − m‖² − n_k ‖μ − m‖²   (μ − m = S1 / n_k)
    sse = np.maximum(stats.centred_sq - counts * (shift * shift).sum(axis=1), 0.0)
    return means + shift, sse, float(sse.sum())


def _cosine_update(stats: CosineStats, means: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    length = row_norms(stats.unit_sum)
    moved = (stats.counts > 0) & (length > 0)
    centres = means.copy()
    centres[moved] = stats.unit_sum[moved] / length[moved, None]
    step = centres - means
    # Σ w (1 − cos(x, c)) = Σ w (1 − cos(x, m)) − ‖s‖ ‖c − m‖²/2
    cost = np.maximum(stats.cluster_cost - length * (step * step).sum(axis=1) / 2, 0.0)
    return centres, 2 * cost, float(cost.sum())


def as_mixture(means: np.ndarray, sse: np.ndarray, counts: np.ndarray, n_rows: int) -> Mixture:
    """The course's reading of K-means as a spherical mixture: p = n_k/n, σ² = SSE_k/(d·n_k)."""
    d = means.shape[1]
    var = np.divide(sse, d * counts, out=np.zeros_like(sse), where=counts > 0)
    return Mixture(counts / n_rows, means, var, "spherical")


def local_kmeans(
    points: np.ndarray,
    weights: np.ndarray,
    k: int,
    rng: np.random.Generator,
    measure: str = EUCLIDEAN,
    max_iter: int = LOCAL_MAX_ITER,
) -> np.ndarray:
    """K centres of weighted points on the driver, as MLlib's ``LocalKMeans.kMeansPlusPlus``:
    k-means++ (the first point drawn ∝ weight, each next ∝ weight × cost to the nearest centre
    so far, the first point again once every cost is 0), then Lloyd iterations until no point
    changes cluster or ``max_iter`` (an empty cluster takes a point drawn uniformly).

    Costs and centres are the ``measure``'s (MLlib's local step is Euclidean whatever the
    measure).
    """
    points = np.asarray(points, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    chosen = [_picked(rng, weights)]
    cost = costs(points, points[chosen[0]][None], measure)[:, 0]
    for _ in range(1, k):
        chosen.append(_picked(rng, weights * np.maximum(cost, 0.0)))
        cost = np.minimum(cost, costs(points, points[chosen[-1]][None], measure)[:, 0])
    centres = as_centres(points[chosen], measure)
    labels = np.full(len(points), -1)
    for _ in range(max_iter):
        assigned = nearest(points, centres, measure)[0]
        stats = block_stats(points, centres, weights, measure)
        centres = update(stats, centres)[0]
        for j in np.flatnonzero(stats.counts == 0):
            centres[j] = as_centres(points[rng.integers(len(points))], measure)[0]
        if np.array_equal(assigned, labels):
            break
        labels = assigned
    return centres


def _picked(rng: np.random.Generator, weights: np.ndarray) -> int:
    """An index drawn ∝ ``weights`` as MLlib's local k-means++ draws: the first whose
    cumulative weight reaches u × the total (0 when every weight is 0)."""
    cumulative = np.cumsum(weights)
    at = np.searchsorted(cumulative, rng.random() * cumulative[-1])
    return int(min(at, len(weights) - 1))
