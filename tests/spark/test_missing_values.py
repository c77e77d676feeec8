"""Gaussian mixtures on data with values missing at random, on Spark: exact EM against the
per-row reference (``tests/helpers/missing_reference``), the readers, and what is refused."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em.engine import ops
from spark_em.errors import InputError
from spark_em.io import matrix as readers
from spark_em.kernels import gaussian
from spark_em.kernels.gaussian import Mixture
from spark_em.models import gaussian as mx
from spark_em.models import kmeans as kmeans_model
from spark_em.models import missing as missing_model
from tests.helpers import missing_reference


def with_holes(X, fraction, seed):
    rng = np.random.default_rng(seed)
    X = X.copy()
    X[rng.random(X.shape) < fraction] = np.nan
    X[5, 1:] = np.nan  # all but one value missing
    X[6] = np.nan  # nothing observed
    return X


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0, 0, 0], [4, 4, 0, 1], [0, 5, 5, -2]])
    return np.vstack([rng.normal(c, 1.0, size=(120, 4)) for c in centres]) + 20.0


def start_of(kind, X):
    rng = np.random.default_rng(1)
    means = np.nan_to_num(X[[0, 150, 300]], nan=20.0) + rng.normal(0, 0.3, (3, 4))
    cov = {
        "full": np.repeat(np.eye(4)[None] * 2.0, 3, axis=0),
        "tied": np.eye(4) * 2.0,
        "diag": np.full((3, 4), 2.0),
        "spherical": np.full(3, 2.0),
    }[kind]
    return Mixture(np.full(3, 1 / 3), means, cov, kind)


@pytest.mark.parametrize("kind", gaussian.PLAIN_TYPES)
@pytest.mark.parametrize("fraction", [0.1, 0.5])
def test_every_iteration_matches_the_per_row_reference(spark, points, kind, fraction):
    X = with_holes(points, fraction, seed=int(fraction * 10))
    start = start_of(kind, X)
    iterations = 4
    want_ll, want_params = missing_reference.em(X, *start[:4], iterations)
    seen = []
    run = mx.fit(
        ops.from_array(spark, X, 3, block_rows=50),
        3,
        init=start,
        tol=-1.0,
        covariance_type=kind,
        max_iter=iterations,
        on_iteration=lambda record, mix: seen.append((record.objective, mix)),
    )
    assert run.n_iter == iterations
    for (ll, mixture), want, (w, means, cov) in zip(seen, want_ll, want_params):
        assert ll == pytest.approx(want, rel=1e-9)
        assert_allclose(mixture.weights, w, rtol=1e-9)
        assert_allclose(mixture.means, means, rtol=1e-9)
        assert_allclose(mixture.covariances, cov, rtol=1e-9)
    assert np.all(np.diff([ll for ll, _ in seen]) >= -1e-9 * abs(seen[-1][0]))


def test_same_answer_on_1_3_and_8_partitions(spark, points):
    X = with_holes(points, 0.3, seed=8)
    start = start_of("full", X)
    runs = [
        mx.fit(ops.from_array(spark, X, parts, block_rows=40), 3, init=start, max_iter=12, tol=-1.0)
        for parts in (1, 3, 8)
    ]
    for other in runs[1:]:
        assert other.n_iter == runs[0].n_iter
        assert other.objective == pytest.approx(runs[0].objective, rel=1e-12)
        assert_allclose(other.mixture.means, runs[0].mixture.means, rtol=1e-10)
    history = [h.objective for h in runs[0].history]
    assert np.all(np.diff(history) >= -1e-9 * abs(history[-1]))


@pytest.mark.parametrize("kind", gaussian.PLAIN_TYPES)
def test_nothing_missing_fits_as_complete_data(spark, points, kind):
    frame = spark.createDataFrame([(row.tolist(),) for row in points], "features array<double>")
    plain = mx.fit(
        readers.read_dataframe(frame, "features", ratings=False),
        3,
        covariance_type=kind,
        init="kmeans++",
        seed=1,
    )
    allowed = mx.fit(
        readers.read_dataframe(frame, "features", ratings=False, missing="nan"),
        3,
        covariance_type=kind,
        init="kmeans++",
        seed=1,
    )
    assert allowed.objective == pytest.approx(plain.objective, rel=1e-10)
    assert_allclose(allowed.mixture.means, plain.mixture.means, rtol=1e-10)
    assert_allclose(allowed.mixture.covariances, plain.mixture.covariances, rtol=1e-10)


def test_recovers_the_means_of_a_known_mixture_with_30_percent_missing(spark):
    rng = np.random.default_rng(12)
    means = np.array([[0.0, 0, 0], [6, 6, 0], [0, 7, 7]])
    A = rng.normal(size=(3, 3, 3)) * 0.5
    covs = A @ A.transpose(0, 2, 1) + np.eye(3)
    labels = rng.choice(3, 6000, p=[0.3, 0.3, 0.4])
    X = np.stack([rng.multivariate_normal(means[k], covs[k]) for k in labels])
    X[rng.random(X.shape) < 0.3] = np.nan
    run = mx.fit(ops.from_array(spark, X, 2), 3, init="kmeans++", seed=0, n_init=3)
    fitted = run.mixture.means[np.argsort(run.mixture.means @ [1.0, 10.0, 100.0])]
    truth = means[np.argsort(means @ [1.0, 10.0, 100.0])]
    assert np.abs(fitted - truth).max() < 0.1


def test_imputations_and_their_rmse(spark, points):
    X = with_holes(points, 0.2, seed=4)
    blocks = ops.from_array(spark, X, 2, block_rows=64)
    run = mx.fit(blocks, 3, init="kmeans++", seed=0)
    _, _, want, _ = missing_reference.estep(X, *run.mixture[:4])
    rows = missing_model.imputed_frame(spark, blocks, run.mixture).orderBy("row").collect()
    got = np.array([r.imputed for r in rows])
    assert [r.row for r in rows] == list(range(len(X)))
    assert_allclose(got, want, rtol=1e-10)
    gold = ops.from_array(spark, points, 3, block_rows=70)
    holes = np.isnan(X)
    rmse = missing_model.imputation_rmse(blocks, run.mixture, gold)
    assert rmse == pytest.approx(np.sqrt(np.mean((want[holes] - points[holes]) ** 2)), rel=1e-10)


def test_text_marks_missing_values_only_when_asked(spark, tmp_path):
    path = tmp_path / "holes.csv"
    path.write_text("1.5,,3\nNA,2,nan\n4,5,6\n0,null,1\n")
    with pytest.raises(InputError, match="line 1: column 2"):
        readers.read_matrix(spark, str(path), ratings=False)
    blocks = readers.read_matrix(spark, str(path), ratings=False, missing="nan")
    got = ops.to_local(blocks)
    want = np.array([[1.5, np.nan, 3], [np.nan, 2, np.nan], [4, 5, 6], [0, np.nan, 1]])
    assert_allclose(got, want)
    zero = ops.to_local(readers.read_matrix(spark, str(path), ratings=False, missing="zero"))
    assert np.isnan(zero[3, 0]) and zero[2, 0] == 4
    path.write_text("1,2\ninf,3\n")
    with pytest.raises(InputError, match="line 2: column 1: inf is not a finite number"):
        readers.read_matrix(spark, str(path), ratings=False, missing="nan")
    with pytest.raises(InputError, match="ratings=False"):
        readers.read_matrix(spark, str(path), ratings=True, missing="nan")


def test_what_cannot_be_fitted_is_refused(spark):
    X = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, np.nan]])
    with pytest.raises(InputError, match="column 2 has no observed value"):
        mx.fit(ops.from_array(spark, X, 1), 2, init="kmeans++")
    Y = np.array([[1.0, 2.0], [np.nan, np.nan], [np.nan, np.nan], [2.0, np.nan]])
    with pytest.raises(
        InputError,
        match=r"3 is larger than the number of rows with any value "
        r"observed \(2\)",
    ):
        mx.fit(ops.from_array(spark, Y, 1), 3, init="random")
    with pytest.raises(InputError, match="K-means needs complete data"):
        kmeans_model.fit(ops.from_array(spark, Y, 1), 2)
