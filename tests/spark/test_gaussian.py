"""Complete-data mixtures and K-means: against scikit-learn and the course's plain numpy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em.engine import ops as blk
from spark_em.errors import InputError
from spark_em.io import matrix as readers
from spark_em.kernels import gaussian
from spark_em.kernels.gaussian import Mixture as GaussianMixture
from spark_em.models import gaussian as mx
from spark_em.models import kmeans as kmeans_model
from tests.helpers.course import course_bic, course_em, course_kmeans

TOY_FIRST_LL = -1388.0818  # the course: toy data, K=3, seed 0, reference init, first E-step


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0, 0], [4, 4, 0], [0, 5, 5]])
    X = np.vstack([rng.normal(c, 1.0, size=(200, 3)) for c in centres]) + 50.0
    return X


def sklearn_precisions(cov, kind):
    if kind == "full":
        return np.array([np.linalg.inv(c) for c in cov])
    return np.linalg.inv(cov) if kind == "tied" else 1.0 / cov


@pytest.mark.parametrize("kind", gaussian.PLAIN_TYPES)
def test_matches_scikit_learn_from_the_same_start(sc, blobs, kind):
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    K, n_iter, d = 3, 6, blobs.shape[1]
    rng = np.random.default_rng(1)
    start = GaussianMixture(
        np.array([0.2, 0.3, 0.5]),
        blobs[rng.choice(len(blobs), K, replace=False)],
        gaussian.spread(np.array([1.5, 2.0, 2.5]), d, kind),
        kind,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns that it stopped at max_iter
        sk = SkGaussianMixture(
            K,
            covariance_type=kind,
            max_iter=n_iter,
            tol=0.0,
            weights_init=start.weights,
            means_init=start.means,
            precisions_init=sklearn_precisions(start.covariances, kind),
            reg_covar=1e-6,
        ).fit(blobs)
    data = blk.from_array(sc, blobs, num_partitions=3, block_rows=70)
    # tol −1: the rule never fires, so exactly n_iter passes run, as scikit-learn's tol 0 does
    run = mx.fit(data, K, init=start, covariance_type=kind, max_iter=n_iter, tol=-1.0)
    assert run.n_iter == n_iter and not run.converged
    # scikit-learn's lower bound is the mean log-likelihood of the last E-step.
    assert run.log_likelihood / len(blobs) == pytest.approx(sk.lower_bound_, rel=1e-6)
    assert_allclose(run.mixture.means, sk.means_, rtol=1e-6)
    assert_allclose(run.mixture.covariances, sk.covariances_, rtol=1e-6, atol=1e-12)
    assert_allclose(run.mixture.weights, sk.weights_, rtol=1e-6)


@pytest.fixture(scope="module")
def toy(sc, netflix_dir):
    X = np.loadtxt(netflix_dir / "toy_data.txt")
    return X, readers.read_text(
        sc, str(netflix_dir / "toy_data.txt"), ratings=False, num_partitions=2
    )


def test_toy_first_estep(toy):
    _, data = toy
    run = mx.fit(
        data, 3, 0, covariance_type="spherical", init="reference", reg_covar=0.0, max_iter=1
    )
    assert run.log_likelihood == pytest.approx(TOY_FIRST_LL, abs=5e-5)


def test_toy_kmeans_em_and_bic_for_k_1_to_4(toy):
    X, data = toy
    n, d = X.shape
    summary = blk.summarize(data)
    em_runs = mx.fit_all(
        data,
        range(1, 5),
        range(5),
        covariance_type="spherical",
        init="reference",
        reg_covar=0.0,
        summary=summary,
    )
    km_runs = kmeans_model.fit_all(data, range(1, 5), range(5), summary=summary)
    for run in km_runs:
        cost, mu, var, p = course_kmeans(X, run.k, run.seed)
        assert run.objective == pytest.approx(cost, rel=1e-9)
        assert_allclose(run.mixture.means, mu, rtol=1e-9)
        assert_allclose(run.mixture.covariances, var, rtol=1e-9)
        assert_allclose(run.mixture.weights, p, rtol=1e-12)
    for run in em_runs:
        ll, first, mu, var, p = course_em(X, run.k, run.seed)
        assert run.log_likelihood == pytest.approx(ll, rel=1e-9)
        assert run.history[0].objective == pytest.approx(first, rel=1e-12)
        assert_allclose(run.mixture.means, mu, rtol=1e-7, atol=1e-9)
        assert run.course_bic == pytest.approx(course_bic(ll, run.k, d, n), rel=1e-9)
    chosen, best_by_k = mx.select(em_runs, "bic")
    want = max(
        range(1, 5), key=lambda k: max(course_bic(course_em(X, k, s)[0], k, d, n) for s in range(5))
    )
    assert chosen.k == want and sorted(best_by_k) == [1, 2, 3, 4]


def test_an_array_is_cached_a_block_to_each_record(sc, blobs):
    """Each block its own pickled record in the JVM's cache, not ``parallelize``'s batches of
    up to 1024 (one record of hundreds of MB, read whole in every pass)."""
    batch_size = sc._batchSize
    blocks = blk.from_array(sc, blobs, num_partitions=2, block_rows=50)
    try:
        n_blocks = -(-blobs.shape[0] // 50)
        assert blocks.count() == n_blocks
        assert blocks._jrdd.count() == n_blocks  # the records the JVM holds
        assert sc._batchSize == batch_size  # the context's own setting is back
    finally:
        blocks.unpersist()


@pytest.mark.parametrize("init", ["kmeans++", "random", "reference"])
def test_same_result_for_any_partitioning(sc, blobs, init):
    runs = [
        mx.fit(
            blk.from_array(sc, blobs, num_partitions=p, block_rows=b),
            3,
            seed=4,
            covariance_type="diag",
            init=init,
            max_iter=15,
            tol=-1.0,  # 15 passes each: the same number whatever the rounding
        )
        for p, b in [(1, 1000), (3, 50), (8, 13)]
    ]
    for other in runs[1:]:
        assert other.n_iter == runs[0].n_iter
        assert other.log_likelihood == pytest.approx(runs[0].log_likelihood, rel=1e-10)
        assert_allclose(other.mixture.means, runs[0].mixture.means, rtol=1e-10)


def test_kmeans_plus_plus_finds_separated_clusters(sc, blobs):
    run = mx.fit(blk.from_array(sc, blobs), 3, seed=0, covariance_type="full", init="kmeans++")
    assert run.converged
    found = np.sort(run.mixture.means[:, 0])
    assert_allclose(found, np.sort(np.array([0.0, 4.0, 0.0]) + 50), atol=0.3)
    assert_allclose(sorted(run.cluster_sizes), [200, 200, 200], atol=2)


def test_n_init_keeps_the_best(sc, blobs):
    data = blk.from_array(sc, blobs)
    single = [
        mx.fit(data, 3, seed=s, covariance_type="spherical", init="random") for s in (7, 8, 9)
    ]
    best = mx.fit(data, 3, seed=7, covariance_type="spherical", init="random", n_init=3)
    assert best.log_likelihood == pytest.approx(max(r.log_likelihood for r in single), rel=1e-12)


def test_a_component_that_loses_its_points(sc):
    # Two tight clusters, three components, one started far away: its responsibilities
    # underflow to zero. It keeps its mean and covariance, its weight goes to 0, and the fit
    # goes on without NaN.
    rng = np.random.default_rng(5)
    X = np.vstack([rng.normal(0, 0.1, (50, 2)), rng.normal(5, 0.1, (50, 2))])
    far = np.array([1000.0, 1000.0])
    start = GaussianMixture(
        np.array([0.4, 0.4, 0.2]),
        np.array([[0.0, 0], [5, 5], far]),
        np.array([1.0, 1.0, 0.01]),
        "spherical",
    )
    run = mx.fit(blk.from_array(sc, X), 3, init=start, covariance_type="spherical")
    assert np.isfinite(run.log_likelihood)
    assert run.mixture.weights[2] < 1e-12
    assert_allclose(run.mixture.means[2], far)
    assert run.mixture.covariances[2] == 0.01
    assert run.cluster_sizes[2] < 1e-9


def test_a_covariance_that_collapses_on_the_last_pass_is_refused(sc):
    data = blk.from_array(sc, np.column_stack([np.arange(1.0, 5.0), np.full(4, 5.0)]))
    with pytest.raises(InputError, match="not positive definite"):
        mx.fit(data, 1, covariance_type="full", reg_covar=0.0, max_iter=1)


def test_bad_input(sc, spark, tmp_path):
    path = tmp_path / "nan.txt"
    path.write_text("1 2\n3 nan\n")
    with pytest.raises(InputError, match=r"nan\.txt line 2: column 2: nan is not a finite number"):
        readers.read_text(sc, str(path), ratings=False)
    df = spark.createDataFrame([([1.0, 2.0],), ([1.0, 2.0, 3.0],)], ["features"])
    with pytest.raises(InputError, match=r"row 2: 3 values, expected 2"):
        readers.read_dataframe(df.coalesce(1), "features", ratings=False)
    small = blk.from_array(sc, np.arange(8.0).reshape(4, 2))
    with pytest.raises(InputError, match=r"larger than the number of rows \(4\)"):
        mx.fit(small, 5)
    constant = np.column_stack([np.arange(20.0), np.full(20, 3.0)])
    data = blk.from_array(sc, constant)
    run = mx.fit(data, 2, covariance_type="full")  # reg_covar keeps it positive definite
    assert np.isfinite(run.log_likelihood)
    assert_allclose(run.mixture.covariances[:, 1, 1], 1e-6, rtol=1e-6)
    with pytest.raises(InputError, match="not positive definite|not positive"):
        mx.fit(data, 2, covariance_type="diag", reg_covar=0.0)
    with pytest.raises(InputError, match="mixture given cannot be used: expected weights"):
        mx.fit(
            data,
            2,
            init=GaussianMixture(np.ones(3) / 3, np.zeros((3, 2)), np.ones(3), "spherical"),
            covariance_type="spherical",
        )
