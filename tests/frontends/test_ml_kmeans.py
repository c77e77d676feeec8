"""spark_em.ml.KMeans against MLlib's KMeans (the same optimum on separated clusters, with
weights), against the rows repeated, and as a user runs it: transform, save/load, Pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em.errors import InputError
from spark_em.ml import KMeans, KMeansModel


@pytest.fixture(scope="module")
def blobs(spark):
    from pyspark.ml.linalg import Vectors

    rng = np.random.default_rng(21)
    X = np.vstack([rng.normal(c, 0.7, size=(100, 3)) for c in ([0, 0, 0], [6, 0, 2], [0, 7, -3])])
    w = rng.uniform(0.1, 3.0, size=len(X))
    df = spark.createDataFrame(
        [(Vectors.dense(x), float(v)) for x, v in zip(X, w)], ["features", "w"]
    )
    return X, w, df


def by_first_coordinates(centres):
    centres = np.asarray(centres)
    return centres[np.lexsort(centres.T[::-1])]


def test_same_optimum_as_mllib_with_weights(blobs):
    from pyspark.ml.clustering import KMeans as MLlibKMeans

    X, w, df = blobs
    ours = KMeans(k=3, weightCol="w", seed=3, maxIter=50).fit(df)
    theirs = MLlibKMeans(k=3, weightCol="w", seed=3, maxIter=50, tol=1e-9).fit(df)
    assert_allclose(
        by_first_coordinates(ours.clusterCenters()),
        by_first_coordinates(theirs.clusterCenters()),
        rtol=1e-9,
        atol=1e-12,
    )
    assert ours.summary.trainingCost == pytest.approx(theirs.summary.trainingCost, rel=1e-9)
    # independent cost: Σ w min ‖x − c‖²
    centres = np.array(ours.clusterCenters())
    d2 = ((X[:, None, :] - centres[None]) ** 2).sum(axis=2)
    assert ours.summary.trainingCost == pytest.approx(w @ d2.min(axis=1), rel=1e-10)
    assert sorted(ours.summary.clusterSizes) == pytest.approx(
        sorted(np.bincount(d2.argmin(axis=1), weights=w)), rel=1e-10
    )
    history = ours.summary.costHistory
    assert len(history) == ours.summary.numIter and all(
        b <= a + 1e-9 for a, b in zip(history, history[1:])
    )


def test_transform_predict_and_refusals(blobs, spark, tmp_path):
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.feature import VectorAssembler

    X, w, df = blobs
    model = KMeans(k=3, seed=1, initMode="random", nInit=3).fit(df)
    centres = np.array(model.clusterCenters())
    out = model.transform(df).collect()
    d2 = ((X[:, None, :] - centres[None]) ** 2).sum(axis=2)
    assert [r.prediction for r in out] == d2.argmin(axis=1).tolist()
    assert_allclose([r.distance for r in out], np.sqrt(d2.min(axis=1)), rtol=1e-12)
    assert model.predict(X[5]) == out[5].prediction

    path = str(tmp_path / "km")
    model.save(path)
    loaded = KMeansModel.load(path)
    assert_allclose(loaded.clusterCenters(), model.clusterCenters())
    assert loaded.summary.trainingCost == model.summary.trainingCost

    flat = spark.createDataFrame([tuple(map(float, x)) for x in X], ["a", "b", "c"])
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=["a", "b", "c"], outputCol="features"),
            KMeans(k=3, seed=1),
        ]
    ).fit(flat)
    pipeline.write().overwrite().save(str(tmp_path / "pipe"))
    again = PipelineModel.load(str(tmp_path / "pipe")).transform(flat).select("prediction")
    assert again.count() == len(X)

    with pytest.raises(InputError, match="2 values a row; the model was fitted on 3"):
        model.predict([1.0, 2.0])
    with pytest.raises(InputError, match="NaN"):
        model.predict([1.0, float("nan"), 0.0])
