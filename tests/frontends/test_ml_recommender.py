"""MixtureRecommender as an ALS user runs it. References: the matrix fit and completion of the
course netflix data, and a numpy completion written out here (posterior of each user's
observed ratings under the fitted parameters) for recommendations and new users."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp

from spark_em.errors import InputError
from spark_em.kernels import masked
from spark_em.ml import MixtureRecommender, MixtureRecommenderModel


def numpy_completion(R: np.ndarray, mu, var, p) -> np.ndarray:
    """Σ_j p(j|u) μ_j for every row of ``R`` (0 = missing), p(j|u) ∝ p_j Π_obs N(x; μ_j, σ²_j)."""
    obs = R > 0
    log = np.log(p)[None, :] + np.stack(
        [
            (obs * (-0.5 * np.log(2 * np.pi * v) - (R - m) ** 2 / (2 * v))).sum(axis=1)
            for m, v in zip(mu, var)
        ],
        axis=1,
    )
    post = np.exp(log - logsumexp(log, axis=1, keepdims=True))
    return post @ mu


def as_triples(spark, R, users, items):
    """The nonzero entries of ``R`` as (userId, movieId, rating) records, through a Parquet
    file (a large local list would travel inside the query plan)."""
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    u, i = np.nonzero(R)
    path = tempfile.mkdtemp(prefix="triples-") + "/part.parquet"
    pq.write_table(
        pa.table({"userId": users[u], "movieId": items[i], "rating": R[u, i].astype(np.float64)}),
        path,
    )
    return spark.read.parquet(path)


@pytest.fixture(scope="module")
def small(spark):
    rng = np.random.default_rng(8)
    profiles = np.array(
        [[5, 4, 1, 1, 2, 5, 3, 1, 4], [1, 2, 5, 4, 1, 2, 2, 5, 1], [3, 3, 3, 5, 5, 1, 4, 2, 3]]
    )
    R = np.clip(np.rint(profiles[rng.integers(0, 3, 160)] + rng.normal(0, 0.5, (160, 9))), 1, 5)
    R[rng.random(R.shape) < 0.4] = 0.0
    R[R.sum(axis=1) == 0, 0] = 3.0
    users = np.array([f"user{u:03d}" for u in range(160)])  # string ids, in sorted order
    items = np.arange(9) * 7 + 100
    return R, users, items


def test_recommendations_equal_the_numpy_completion(spark, small, tmp_path):
    R, users, items = small
    train = R[:140].copy()
    train[:, 8] = np.where(train[:, 8] > 0, train[:, 8], 3.0)  # an item every user rated
    model = MixtureRecommender(
        userCol="userId",
        itemCol="movieId",
        k=3,
        seed=0,
        tol=1e-4,
        nInit=1,  # one start: quick
    ).fit(as_triples(spark, train, users, items))
    assert list(model.items) == list(items)
    full = numpy_completion(train, model.means, model.variances, model.weights)
    by_user = {r.userId: r.recommendations for r in model.recommendForAllUsers(3).collect()}
    assert len(by_user) == 140
    for u in (0, 17, 139):
        open_items = np.flatnonzero(train[u] == 0)
        best = open_items[np.argsort(-full[u, open_items], kind="stable")][:3]
        got = by_user[users[u]]
        assert_allclose([e.rating for e in got], full[u, best], rtol=1e-9)
        assert {e.movieId for e in got} == set(items[best].tolist()) or np.allclose(
            sorted(full[u, best]), sorted(e.rating for e in got)
        )
    by_item = {r.movieId: r.recommendations for r in model.recommendForAllItems(4).collect()}
    for i in (0, 5):
        raters = train[:, i] > 0
        candidates = np.flatnonzero(~raters)
        expected = np.sort(full[candidates, i])[::-1][:4]
        assert_allclose([e.rating for e in by_item[items[i]]], expected, rtol=1e-9)
        assert all(train[np.searchsorted(users, e.userId), i] == 0 for e in by_item[items[i]])
    subset = model.recommendForItemSubset(spark.createDataFrame([(int(items[2]),)], ["movieId"]), 4)
    assert [r.movieId for r in subset.collect()] == [items[2]]
    assert len(by_item) == 9 and by_item[items[8]] == []  # nobody left to recommend it to

    model.save(str(tmp_path / "rec"))
    loaded = MixtureRecommenderModel.load(str(tmp_path / "rec"))
    again = {
        r.userId: r.recommendations
        for r in loaded.recommendForUserSubset(
            spark.createDataFrame([(str(users[17]),)], ["userId"]), 3
        ).collect()
    }
    assert list(again) == [users[17]]
    assert_allclose([e.rating for e in again[users[17]]], [e.rating for e in by_user[users[17]]])
    with pytest.raises(InputError, match=r"cannot be written: it holds the model's data \("):
        loaded.write().overwrite().save(str(tmp_path / "rec"))
    assert (
        MixtureRecommenderModel.load(str(tmp_path / "rec")).recommendForAllUsers(1).count() == 140
    )
    renamed = loaded.setUserCol("uid").setPredictionCol("score")
    pairs = spark.createDataFrame([(str(users[0]), int(items[1]))], ["uid", "movieId"])
    assert renamed.transform(pairs).first().score == pytest.approx(full[0, 1], rel=1e-9)


def test_new_users_scored_from_their_own_ratings(spark, small):
    R, users, items = small
    model = MixtureRecommender(
        userCol="userId",
        itemCol="movieId",
        k=3,
        seed=0,
        tol=1e-4,
        nInit=1,
        coldStartStrategy="drop",
    ).fit(as_triples(spark, R[:140], users, items))
    new = R[140:]
    ratings = as_triples(spark, new, users[140:], items)
    expected = numpy_completion(
        new, model.means, model.variances, model.weights
    )  # parameters held fixed
    recs = {r.userId: r.recommendations for r in model.recommendForNewUsers(ratings, 2).collect()}
    assert sorted(recs) == sorted(users[140:][new.sum(axis=1) > 0].tolist())
    for u in range(20):
        open_items = np.flatnonzero(new[u] == 0)
        if open_items.size:
            top = np.sort(expected[u, open_items])[::-1][:2]
            assert_allclose([e.rating for e in recs[users[140 + u]]], top, rtol=1e-9)
    pairs = spark.createDataFrame(
        [(str(users[140 + u]), int(items[i])) for u in range(20) for i in range(9)],
        ["userId", "movieId"],
    )
    scored = model.withNewUsers(ratings).transform(pairs).collect()
    assert len(scored) == 180
    # a join's output has no set order: each prediction placed by its (user, item)
    by_pair = {(r.userId, r.movieId): r.prediction for r in scored}
    got = np.array(
        [[by_pair[str(users[140 + u]), int(items[i])] for i in range(9)] for u in range(20)]
    )
    assert_allclose(got, expected, rtol=1e-9)
    # the model without them knows neither them nor an unknown item: dropped, or NaN
    assert model.transform(pairs).count() == 0
    nan_model = model.copy({model.coldStartStrategy: "nan"})
    assert np.isnan([r.prediction for r in nan_model.transform(pairs).collect()]).all()
    with pytest.raises(InputError, match="already in the model's data"):
        model.withNewUsers(as_triples(spark, R[:2], users, items))


def test_cross_validator_over_k(spark, small):
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    R, users, items = small
    df = as_triples(spark, R, users, items)
    rec = MixtureRecommender(
        userCol="userId",
        itemCol="movieId",
        coldStartStrategy="drop",
        maxIter=20,
        tol=1e-4,
        nInit=1,
    )
    grid = ParamGridBuilder().addGrid(rec.k, [1, 3]).build()
    evaluator = RegressionEvaluator(metricName="rmse", labelCol="rating")
    cv = CrossValidator(
        estimator=rec, estimatorParamMaps=grid, evaluator=evaluator, numFolds=2, seed=5
    ).fit(df)
    assert len(cv.avgMetrics) == 2 and all(np.isfinite(cv.avgMetrics))
    assert cv.avgMetrics[1] < cv.avgMetrics[0]  # three types fit three profiles better than one
    assert cv.bestModel.getK() == 3


def test_netflix_triples_predict_the_matrix_completion(spark, sc, netflix_dir):
    """Four EM passes from the course's start on the matrix and on its triples: the same
    parameters, and predictions equal to the matrix completion."""
    from spark_em.io.matrix import read_text
    from spark_em.models import masked as masked_model

    X = np.loadtxt(netflix_dir / "netflix_incomplete.txt")
    users, items = np.arange(X.shape[0]), np.arange(X.shape[1])
    assert (X > 0).any(axis=1).all() and (X > 0).any(axis=0).all()  # the ids are the positions
    blocks = read_text(sc, str(netflix_dir / "netflix_incomplete.txt"))
    run = masked_model.fit(blocks, 12, 1, max_iter=4)
    blocks.unpersist()
    model = MixtureRecommender(
        userCol="userId",
        itemCol="movieId",
        k=12,
        seed=1,
        maxIter=4,
        initMode="reference",  # the course's exact EM
        priorStrength=0.0,
        nInit=1,
    ).fit(as_triples(spark, X, users, items))
    assert model.summary.logLikelihood == pytest.approx(run.log_likelihood, rel=1e-10)
    assert_allclose(model.means, run.mixture.means, rtol=1e-9)
    completed = masked.complete(X, run.mixture)
    rng = np.random.default_rng(0)
    u, i = np.nonzero(X == 0)
    pick = rng.choice(len(u), 2000, replace=False)
    pairs = spark.createDataFrame(
        [(int(a), int(b)) for a, b in zip(u[pick], i[pick])], ["userId", "movieId"]
    )
    got = {(r.userId, r.movieId): r.prediction for r in model.transform(pairs).collect()}
    assert_allclose(
        [got[(int(a), int(b))] for a, b in zip(u[pick], i[pick])],
        completed[u[pick], i[pick]],
        rtol=1e-8,
    )


def planted_types(n_users=300, n_items=80, n_types=3, density=0.1, seed=0):
    """Ratings of planted user types (means in [1, 5], noise sd 0.5, rounded, 1–5) observed at
    ``density``, a random fifth of them held out: (train R, test mask, truth, oracle), the
    oracle each user's true type means."""
    from spark_em.io.synthetic import type_means

    rng = np.random.default_rng([seed, 7])
    means = type_means(n_items, n_types, seed)
    types = rng.integers(0, n_types, n_users)
    truth = np.clip(np.rint(means[types] + rng.normal(0, 0.5, (n_users, n_items))), 1, 5)
    seen = rng.random((n_users, n_items)) < density
    held = seen & (rng.random((n_users, n_items)) < 0.2)
    train = np.where(seen & ~held, truth, 0.0)
    held &= train.any(axis=1)[:, None] & train.any(axis=0)[None, :]  # known users and items
    return train, held, truth, means[types]


def test_the_defaults_work_on_sparse_ratings(spark):
    """300 users of 3 types, 80 items, 10% observed (about 6 ratings a user): with its
    defaults the recommender comes within 25% of an oracle that knows every user's true type
    and its true means on held-out ratings (the best of any start is about 1.15-1.2 times the
    oracle at this density: a user's type is uncertain from 6 ratings), keeps
    every mean within the ratings' range and every type populated, and does not warn; the
    course's exact EM (its start takes 0 for unrated items) does worse and says so."""
    import warnings

    from spark_em.errors import DegenerateFitWarning

    train, held, truth, oracle = planted_types()
    users, items = np.arange(300), np.arange(80)
    df = as_triples(spark, train, users, items)
    pairs = spark.createDataFrame(
        [(int(u), int(i)) for u, i in zip(*np.nonzero(held))], ["userId", "movieId"]
    )

    def held_out_rmse(model):
        got = {(r.userId, r.movieId): r.prediction for r in model.transform(pairs).collect()}
        predicted = np.array([got[(int(u), int(i))] for u, i in zip(*np.nonzero(held))])
        return float(np.sqrt(np.mean((predicted - truth[held]) ** 2)))

    oracle_rmse = float(np.sqrt(np.mean((oracle[held] - truth[held]) ** 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateFitWarning)
        model = MixtureRecommender(userCol="userId", itemCol="movieId", k=3).fit(df)
    assert held_out_rmse(model) <= 1.25 * oracle_rmse
    assert 1 <= model.means.min() and model.means.max() <= 5
    assert (model.weights * 300 >= 1).all() and model.summary.warnings == []

    with pytest.warns(DegenerateFitWarning, match="outside the observed values' range"):
        course = MixtureRecommender(
            userCol="userId",
            itemCol="movieId",
            k=3,
            initMode="reference",
            priorStrength=0.0,
            nInit=1,
        ).fit(df)
    assert course.summary.warnings
    assert held_out_rmse(course) > held_out_rmse(model)


def test_the_masked_estimator_has_the_same_defaults(spark):
    """MaskedGaussianMixture on the same sparse rows (0 = missing): its defaults keep every
    mean within the ratings' range without a warning; the course's settings do not."""
    import warnings

    from spark_em.errors import DegenerateFitWarning
    from spark_em.ml import MaskedGaussianMixture

    train, _held, _truth, _oracle = planted_types()
    df = spark.createDataFrame([(row.tolist(),) for row in train], ["ratings"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateFitWarning)
        model = MaskedGaussianMixture(k=3, featuresCol="ratings").fit(df)
    assert 1 <= model.means.min() and model.means.max() <= 5
    assert model.summary.warnings == [] and model.getNInit() == 4
    with pytest.warns(DegenerateFitWarning, match="MaskedGaussianMixture: "):
        course = MaskedGaussianMixture(
            k=3, featuresCol="ratings", initMode="reference", priorStrength=0.0, nInit=1
        ).fit(df)
    assert course.summary.warnings
