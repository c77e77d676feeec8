"""The spark.ml-style estimators: fit, transform, persistence, Pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from spark_em.engine import ops as blk
from spark_em.errors import InputError
from spark_em.ml import (
    GaussianMixture,
    GaussianMixtureModel,
    MaskedGaussianMixture,
    MaskedGaussianMixtureModel,
)
from spark_em.models import masked as mc
from tests.helpers import reference


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(11)
    return np.vstack([rng.normal(c, 0.7, size=(60, 2)) for c in ([0, 0], [5, 0], [0, 5])])


@pytest.fixture(scope="module")
def frame(spark, points):
    from pyspark.ml.linalg import Vectors

    rows = [
        (i, float(x), float(y), Vectors.dense([x, y]), [float(x), float(y)])
        for i, (x, y) in enumerate(points)
    ]
    return spark.createDataFrame(rows, ["id", "x", "y", "features", "arr"])


def test_fit_transform_against_scipy(frame, points):
    model = GaussianMixture(k=3, covarianceType="full", seed=1).fit(frame)
    assert model.summary.converged and model.summary.numIter == len(
        model.summary.logLikelihoodHistory
    )
    assert sorted(np.round(model.summary.clusterSizes)) == [60, 60, 60]
    out = model.transform(frame).orderBy("id").collect()
    assert [c for c in out[0].asDict()] == [
        "id",
        "x",
        "y",
        "features",
        "arr",
        "prediction",
        "probability",
        "logLikelihood",
    ]
    # An independent density from scipy for every row.
    dens = np.column_stack(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(points)
            for w, m, c in zip(model.weights, model.means, model.covariances)
        ]
    )
    row_ll = logsumexp(dens, axis=1)
    assert_allclose([r.logLikelihood for r in out], row_ll, rtol=1e-9)
    assert_allclose(
        np.array([r.probability.toArray() for r in out]), np.exp(dens - row_ll[:, None]), atol=1e-9
    )
    assert [r.prediction for r in out] == dens.argmax(axis=1).tolist()
    assert model.summary.logLikelihood == pytest.approx(model.summary.logLikelihoodHistory[-1])
    n_params = 2 + 3 * 2 + 3 * 3
    # scikit-learn's convention, lower is better
    assert model.bic == pytest.approx(-2 * model.summary.logLikelihood + n_params * np.log(180))
    assert model.aic == pytest.approx(-2 * model.summary.logLikelihood + 2 * n_params)


def test_array_column_gives_the_same_model(frame):
    a = GaussianMixture(k=3, seed=1).fit(frame)
    b = GaussianMixture(k=3, seed=1, featuresCol="arr").fit(frame)
    assert_allclose(a.means, b.means, rtol=1e-12)


def test_save_load_round_trip(frame, tmp_path):
    model = GaussianMixture(k=3, covarianceType="tied", seed=2, predictionCol="cluster").fit(frame)
    model.save(str(tmp_path / "gm"))
    loaded = GaussianMixtureModel.load(str(tmp_path / "gm"))
    assert loaded.getPredictionCol() == "cluster" and loaded.getCovarianceType() == "tied"
    assert_allclose(loaded.covariances, model.covariances, rtol=0)
    assert loaded.summary.numIter == model.summary.numIter
    a = [
        tuple(r)
        for r in model.transform(frame).orderBy("id").select("cluster", "logLikelihood").collect()
    ]
    b = [
        tuple(r)
        for r in loaded.transform(frame).orderBy("id").select("cluster", "logLikelihood").collect()
    ]
    assert a == b
    assert not any(p.suffix == ".pkl" for p in (tmp_path / "gm").rglob("*"))
    estimator = GaussianMixture(k=5, regCovar=1e-3)
    estimator.save(str(tmp_path / "est"))
    assert GaussianMixture.load(str(tmp_path / "est")).getRegCovar() == 1e-3


def test_in_a_pipeline_after_a_vector_assembler(frame, tmp_path):
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.feature import VectorAssembler

    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=["x", "y"], outputCol="xy"),
            GaussianMixture(k=3, seed=1, featuresCol="xy"),
        ]
    )
    fitted = pipeline.fit(frame)
    direct = GaussianMixture(k=3, seed=1).fit(frame)
    assert_allclose(fitted.stages[-1].means, direct.means, rtol=1e-12)
    fitted.write().overwrite().save(str(tmp_path / "pipe"))
    again = PipelineModel.load(str(tmp_path / "pipe"))
    a = fitted.transform(frame).orderBy("id").select("prediction").collect()
    b = again.transform(frame).orderBy("id").select("prediction").collect()
    assert a == b


def test_bad_features(spark):
    df = spark.createDataFrame([([1.0, float("nan")],), ([2.0, 1.0],)], ["features"])
    with pytest.raises(InputError, match="nan is not a finite number"):
        GaussianMixture(k=1).fit(df.coalesce(1))
    with pytest.raises(InputError, match="larger than the number of rows"):
        GaussianMixture(k=3).fit(spark.createDataFrame([([1.0],), ([2.0],)], ["features"]))


def test_masked_estimator_on_the_course_example(spark, netflix_dir, tmp_path):
    ref = reference.load(netflix_dir / "test_solutions.txt")
    X = np.loadtxt(netflix_dir / "test_incomplete.txt")
    df = spark.createDataFrame([(i, row.tolist()) for i, row in enumerate(X)], ["id", "ratings"])
    course = dict(initMode="reference", priorStrength=0.0, nInit=1)
    model = MaskedGaussianMixture(k=4, seed=0, featuresCol="ratings", **course).fit(df)
    assert model.summary.logLikelihood == pytest.approx(ref["run"]["ll"], rel=1e-8)
    assert_allclose(model.means, ref["run"]["mu"], atol=1e-8)
    completed = np.array(
        [r.completed.toArray() for r in model.transform(df).orderBy("id").collect()]
    )
    assert_allclose(completed, ref["X_pred"], atol=1e-8)
    model.save(str(tmp_path / "m"))
    loaded = MaskedGaussianMixtureModel.load(str(tmp_path / "m"))
    assert_allclose(loaded.variances, model.variances, rtol=0)
    same = np.array([r.completed.toArray() for r in loaded.transform(df).orderBy("id").collect()])
    assert_allclose(same, completed, rtol=0)
    # The estimator and the engine agree.
    run = mc.fit(blk.from_array(spark.sparkContext, X), 4, 0)
    assert_allclose(run.mixture.means, model.means, rtol=1e-12)
