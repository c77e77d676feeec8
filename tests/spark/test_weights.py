"""Weighted rows in the mixtures and K-means: a weight of m is the row m times, a weight of 0
leaves the row out. The references are the same fits on the rows repeated (or dropped)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em.engine import ops
from spark_em.errors import InputError
from spark_em.kernels import gaussian
from spark_em.kernels.gaussian import Mixture
from spark_em.models import gaussian as mx
from spark_em.models import kmeans as kmeans_model
from spark_em.models import seeding


@pytest.fixture(scope="module")
def weighted_rows():
    rng = np.random.default_rng(7)
    centres = np.array([[0.0, 0, 0, 0], [3, 3, 0, 1], [0, 4, 4, -2]])
    X = np.vstack([rng.normal(c, 1.0, size=(150, 4)) for c in centres]) + 20.0
    weights = rng.integers(0, 4, size=len(X)).astype(float)
    return X, weights


def start_for(X, kind, K=3):
    d = X.shape[1]
    return Mixture(
        np.array([0.3, 0.3, 0.4]),
        X[[5, 200, 400]] + 0.1,
        gaussian.spread(np.array([1.5, 2.0, 2.5]), d, kind),
        kind,
    )


@pytest.mark.parametrize("kind", ["full", "spherical"])  # tied and diag: the estimator's tests
def test_integer_weights_are_repeated_rows(sc, weighted_rows, kind):
    X, w = weighted_rows
    repeated = np.repeat(X, w.astype(int), axis=0)
    start = start_for(X, kind)
    fits = []
    for data in (
        ops.from_array(sc, X, num_partitions=3, block_rows=64, weights=w),
        ops.from_array(sc, repeated, num_partitions=2, block_rows=100),
    ):
        fits.append(mx.fit(data, 3, init=start, covariance_type=kind, max_iter=8, tol=0.0))
        data.unpersist()
    weighted, plain = fits
    assert weighted.n_rows == pytest.approx(len(repeated))
    assert weighted.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-10)
    assert_allclose(weighted.mixture.means, plain.mixture.means, rtol=1e-7)
    assert_allclose(weighted.mixture.covariances, plain.mixture.covariances, rtol=1e-7)
    assert_allclose(weighted.mixture.weights, plain.mixture.weights, rtol=1e-7)
    assert_allclose(weighted.cluster_sizes, plain.cluster_sizes, rtol=1e-7)
    assert weighted.bic == pytest.approx(plain.bic, rel=1e-10)


def test_zero_weights_leave_rows_out(sc, weighted_rows):
    X, w = weighted_rows
    w01 = (w > 0).astype(float)
    kept = X[w01 > 0]
    start = start_for(X, "full")
    weighted = mx.fit(ops.from_array(sc, X, 3, weights=w01), 3, init=start, max_iter=8, tol=0.0)
    plain = mx.fit(ops.from_array(sc, kept, 3), 3, init=start, max_iter=8, tol=0.0)
    assert weighted.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-10)
    assert_allclose(weighted.mixture.covariances, plain.mixture.covariances, rtol=1e-7)


def test_kmeans_weights_are_repeated_rows(sc, weighted_rows):
    X, w = weighted_rows
    repeated = np.repeat(X, w.astype(int), axis=0)
    start = start_for(X, "spherical")
    weighted = kmeans_model.fit(
        ops.from_array(sc, X, 3, weights=w), 3, init=start, max_iter=20, tol=0.0
    )
    plain = kmeans_model.fit(ops.from_array(sc, repeated, 2), 3, init=start, max_iter=20, tol=0.0)
    assert weighted.objective == pytest.approx(plain.objective, rel=1e-10)
    assert_allclose(weighted.mixture.means, plain.mixture.means, rtol=1e-10)
    assert_allclose(weighted.cluster_sizes, plain.cluster_sizes)


@pytest.mark.parametrize("draw", [seeding.plus_plus, seeding.random_rows])
def test_seeding_never_draws_a_zero_weight_row(sc, draw):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 2))
    w = np.zeros(400)
    w[[3, 50, 120, 200, 310, 399]] = 1.0  # only six rows count
    data = ops.from_array(sc, X, 2, weights=w)
    for seed in range(3):
        drawn = draw(data, 4, seed)
        assert all(any(np.array_equal(m, x) for x in X[w > 0]) for m in drawn)
    with pytest.raises(InputError, match=r"rows with a weight above 0 \(6\)"):
        mx.fit(data, 7, init="kmeans++")
    data.unpersist()


@pytest.mark.parametrize("bad, text", [(-1.0, "-1.0"), (np.nan, "nan"), (np.inf, "inf")])
def test_a_bad_weight_is_refused_naming_its_row(sc, bad, text):
    w = np.ones(10)
    w[6] = bad
    with pytest.raises(InputError, match=f"row 7: weight {text} is not a finite number >= 0"):
        ops.from_array(sc, np.zeros((10, 2)), weights=w)


def test_weighted_blocks_on_the_dataframe_backend(sc, spark, weighted_rows):
    X, w = weighted_rows
    start = start_for(X, "diag")
    fits = [
        mx.fit(
            ops.from_array(spark, X, 3, block_rows=50, weights=w, backend=backend),
            3,
            init=start,
            covariance_type="diag",
            max_iter=5,
            tol=0.0,
        )
        for backend in ("rdd", "dataframe")
    ]
    assert fits[1].log_likelihood == pytest.approx(fits[0].log_likelihood, rel=1e-12)
    assert_allclose(fits[1].mixture.means, fits[0].mixture.means, rtol=1e-12)
    assert fits[1].n_rows == pytest.approx(w.sum())
