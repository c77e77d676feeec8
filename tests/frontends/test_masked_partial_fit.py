"""``partialFit`` of the masked mixture and of the recommender against one EM iteration written
row by row from the equations (``masked_reference``): on the new rows alone (a step of 1), on
the training and new rows together (the default step, and the recommender's update, which
adds ratings of known users, new users and a new item)."""

from __future__ import annotations

import numpy as np
import pytest

from spark_em.errors import InputError
from spark_em.ml import (
    MaskedGaussianMixture,
    MaskedGaussianMixtureModel,
    MixtureRecommenderModel,
)
from tests.helpers.masked_reference import em_iteration
from tests.helpers.rating_days import ITEMS, SCHEMA, a_day, fitted_recommender, ratings

MIN_VARIANCE = 0.25
TIGHT = dict(rtol=1e-10, atol=1e-10)


def rows_frame(spark, R):
    return spark.createDataFrame([(r.tolist(),) for r in R], "ratings array<double>")


def assert_mixture(model, means, variances, weights):
    np.testing.assert_allclose(model.means, means, **TIGHT)
    np.testing.assert_allclose(model.variances, variances, **TIGHT)
    np.testing.assert_allclose(model.weights, weights, **TIGHT)


@pytest.fixture(scope="module")
def masked_fit(spark):
    train, new = ratings(1, 80), ratings(2, 30)
    model = MaskedGaussianMixture(k=3, featuresCol="ratings", nInit=1, maxIter=4, seed=1).fit(
        rows_frame(spark, train)
    )
    return model, train, new


@pytest.mark.parametrize("prior", [1.0, 0.0])
def test_masked_steps_are_em_iterations(spark, masked_fit, prior):
    model, train, new = masked_fit
    model = model.copy({model.priorStrength: prior})
    start = (model.weights, model.means, model.variances)
    batch = rows_frame(spark, new)
    (mu, var, p), ll = em_iteration(new, *start, MIN_VARIANCE, prior)
    whole = model.partialFit(batch, stepSize=1.0)
    assert_mixture(whole, mu, var, p)
    assert whole.summary.logLikelihood == pytest.approx(ll, rel=1e-12)
    # the default step adds the batch to the fitted rows: one iteration on both together
    (mu, var, p), _ = em_iteration(np.vstack([train, new]), *start, MIN_VARIANCE, prior)
    assert_mixture(model.partialFit(batch), mu, var, p)


def test_masked_statistics_are_saved_and_bad_batches_refused(spark, masked_fit, tmp_path):
    model, _, new = masked_fit
    batch = rows_frame(spark, new)
    model.write().overwrite().save(str(tmp_path / "m"))
    loaded = MaskedGaussianMixtureModel.load(str(tmp_path / "m"))
    want = model.partialFit(batch)
    got = loaded.partialFit(batch)
    assert_mixture(got, want.means, want.variances, want.weights)
    with pytest.raises(InputError, match="12"):
        model.partialFit(rows_frame(spark, new[:, :5]))
    with pytest.raises(InputError, match="stepSize"):
        model.partialFit(batch, stepSize=0.0)
    with pytest.raises(InputError, match="stepSize=1"):
        MaskedGaussianMixtureModel(model._mixture).partialFit(batch)
    # a step of 1 needs no statistics: one EM iteration on the batch
    bare = model.copy()
    bare._stats = None
    want = model.partialFit(batch, stepSize=1)
    assert_mixture(bare.partialFit(batch, stepSize=1), want.means, want.variances, want.weights)


# --- the recommender (``rating_days``)


@pytest.fixture(scope="module")
def recommender_fit(spark):
    return fitted_recommender(spark)


def dense_union(train, day):
    users = np.array(sorted(set(range(60)) | {u for u, _, _ in day}))
    items = np.array(sorted(set(ITEMS.tolist()) | {i for _, i, _ in day}))
    U = np.zeros((len(users), len(items)))
    U[: train.shape[0], np.searchsorted(items, ITEMS)] = train
    for u, i, r in day:
        U[np.searchsorted(users, u), np.searchsorted(items, i)] = r
    return U, items


def test_recommender_update_is_one_em_iteration_on_all_ratings(spark, recommender_fit):
    model, train = recommender_fit
    prior = model.getPriorStrength()  # the masked model's tests also take the M-step without
    day = a_day(train)
    U, items = dense_union(train, day)
    new_item = np.searchsorted(items, 55)
    means = np.insert(model.means, new_item, np.mean([r for _, i, r in day if i == 55]), axis=1)
    (mu, var, p), ll = em_iteration(U, model.weights, means, model.variances, MIN_VARIANCE, prior)
    updated = model.partialFit(spark.createDataFrame(day, SCHEMA))
    np.testing.assert_array_equal(updated.items, items)
    assert_mixture(updated, mu, var, p)
    summary = updated.summary
    assert summary.logLikelihood == pytest.approx(ll, rel=1e-12)
    assert (summary.numUsers, summary.numItems, summary.numRatings) == (62, 13, (U != 0).sum())
    # the new model recommends from every rating: the new user and the new item are known
    pairs = spark.createDataFrame([(100, 55), (101, 20), (3, 55)], "u long, i long")
    predicted = updated.transform(pairs).toPandas()
    assert predicted["prediction"].notna().all()


def test_recommender_update_on_the_dataframe_backend(spark, recommender_fit):
    """The update's pass over the cached ratings on the DataFrame backend (Spark Connect's)
    gives the model of the RDD backend's."""
    model, train = recommender_fit
    frame_model, _ = fitted_recommender(spark, backend="dataframe")
    day = spark.createDataFrame(a_day(train), SCHEMA)
    want, got = model.partialFit(day), frame_model.partialFit(day)
    assert_mixture(got, want.means, want.variances, want.weights)


def test_recommender_update_refuses_a_rerating_and_survives_a_save(
    spark, recommender_fit, tmp_path
):
    model, train = recommender_fit
    rated = int(ITEMS[np.flatnonzero(train[0])[0]])
    with pytest.raises(InputError, match=f"user 0 has already rated item {rated}"):
        model.partialFit(spark.createDataFrame([(0, rated, 3.0)], SCHEMA))
    day = spark.createDataFrame(a_day(train), SCHEMA)
    scored = model.withNewUsers(spark.createDataFrame([(300, 0, 4.0)], SCHEMA))
    with pytest.raises(InputError, match="withNewUsers scored users with the parameters fixed"):
        scored.partialFit(day)
    model.write().overwrite().save(str(tmp_path / "rec"))
    loaded = MixtureRecommenderModel.load(str(tmp_path / "rec"))
    want = model.partialFit(day)
    got = loaded.partialFit(day)
    assert_mixture(got, want.means, want.variances, want.weights)
