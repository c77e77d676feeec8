"""The K-means kernels against numpy written from the definitions: the cosine update's cost
from the sums, and the local k-means that ends k-means|| seeding."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em.kernels import kmeans


def unit(A):
    return A / np.linalg.norm(A, axis=1, keepdims=True)


def test_cosine_update_gives_the_cost_under_the_new_centres():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)) + np.repeat(np.eye(4)[:2] * 3, 100, axis=0)
    w = rng.uniform(0.2, 2.0, size=len(X))
    old = unit(rng.normal(size=(2, 4)))
    stats = kmeans.block_stats(X, old, w, "cosine")
    centres, sse, cost = kmeans.update(stats, old)
    labels = (unit(X) @ old.T).argmax(axis=1)  # numpy: the assignment under the old centres
    sums = np.array([(unit(X) * w[:, None])[labels == j].sum(axis=0) for j in range(2)])
    assert_allclose(centres, unit(sums), rtol=1e-12)
    per_cluster = [w[labels == j] @ (1 - unit(X)[labels == j] @ centres[j]) for j in range(2)]
    assert cost == pytest.approx(sum(per_cluster), rel=1e-10)
    assert_allclose(sse, 2 * np.array(per_cluster), rtol=1e-10)
    assert stats.cost_before == pytest.approx(w @ (1 - (unit(X) @ old.T).max(axis=1)), rel=1e-12)


def test_local_kmeans_finds_the_weighted_means_of_separated_groups():
    rng = np.random.default_rng(1)
    groups = [rng.normal(c, 0.1, size=(8, 2)) for c in ([0, 0], [10, 0], [0, 10])]
    points, weights = np.vstack(groups), rng.integers(1, 5, size=24).astype(float)
    centres = kmeans.local_kmeans(points, weights, 3, np.random.default_rng(7))
    expected = [
        np.average(g, axis=0, weights=weights[8 * i : 8 * i + 8]) for i, g in enumerate(groups)
    ]
    order = np.lexsort(centres.T[::-1])
    assert_allclose(centres[order], np.array(expected)[np.lexsort(np.array(expected).T[::-1])])
    # a point of weight 0 is never drawn as a k-means++ centre
    alone = kmeans.local_kmeans(
        points[:2], np.array([0.0, 1.0]), 1, np.random.default_rng(0), max_iter=0
    )
    assert_allclose(alone, points[1:2])
