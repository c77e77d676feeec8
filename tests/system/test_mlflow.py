"""spark_em.mlflow against a real tracking server (SQLite store, file artifact root) started
here: fits logged by autolog, runs found by search, models loaded by runs:/ URIs and scored by
the pyfunc and by spark_udf, every model type; each score checked against numpy or scipy."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

pytestmark = pytest.mark.mlflow


@pytest.fixture(scope="module")
def tracking(tmp_path_factory):
    from tests.helpers.mlflow_server import MlflowServer

    with MlflowServer(tmp_path_factory.mktemp("mlflow")) as server:
        mlflow.set_tracking_uri(server.url)
        mlflow.set_experiment("spark-em tests")
        yield server
        mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def points(spark):
    rng = np.random.default_rng(8)
    X = np.vstack([rng.normal(c, 0.7, (60, 2)) for c in ([0, 0], [4, 1], [1, 5])])
    return X, spark.createDataFrame(
        [(i, x.tolist()) for i, x in enumerate(X)], "id long, features array<double>"
    )


def gmm_posterior(X, weights, means, covariances):
    logp = np.column_stack(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(X)
            for w, m, c in zip(weights, means, covariances)
        ]
    )
    return np.exp(logp - logsumexp(logp, axis=1, keepdims=True)), logsumexp(logp, axis=1)


def masked_posterior(X, mu, var, p):
    """p(j|u) over each row's observed (non-zero) entries, written out here."""
    observed = X != 0
    d = observed.sum(axis=1)[:, None]
    sq = np.stack([((X - mu[j]) ** 2 * observed).sum(axis=1) for j in range(len(p))], axis=1)
    logp = np.log(p) - sq / (2 * var) - d / 2 * np.log(2 * np.pi * var)
    return np.exp(logp - logsumexp(logp, axis=1, keepdims=True))


def test_fit_in_a_run_is_logged_and_scores_anywhere(spark, tracking, points):
    import spark_em.mlflow as spark_em_mlflow
    from spark_em.ml import GaussianMixture

    X, frame = points
    spark_em_mlflow.autolog()
    try:
        with mlflow.start_run(run_name="gmm") as run:
            model = GaussianMixture(k=3, seed=2, covarianceType="full").fit(frame)
    finally:
        spark_em_mlflow.autolog(disable=True)
    post, row_ll = gmm_posterior(X, model.weights, model.means, model.covariances)

    found = mlflow.search_runs(
        filter_string="tags.`spark_em.estimator` = 'GaussianMixture'", output_format="list"
    )
    assert [r.info.run_id for r in found] == [run.info.run_id]
    data = found[0].data
    assert data.params["k"] == "3" and data.params["covarianceType"] == "full"
    # the last E-step's log-likelihood: the final parameters' to the stopping rule's 1e-6
    assert data.metrics["logLikelihood"] == pytest.approx(row_ll.sum(), rel=1e-6)
    n, p = len(X), 3 * 2 + 3 * 3 + 2
    assert data.metrics["bic"] == pytest.approx(
        -2 * data.metrics["logLikelihood"] + p * np.log(n), rel=1e-12
    )
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "logLikelihoodHistory")
    assert [m.step for m in history] == list(range(model.summary.numIter))
    assert history[-1].value == data.metrics["logLikelihood"]
    assert all(b.value >= a.value - 1e-9 for a, b in zip(history, history[1:]))  # EM ascends

    uri = f"runs:/{run.info.run_id}/model"
    pyfunc = mlflow.pyfunc.load_model(uri)
    assert pyfunc.metadata.get_input_schema().input_names() == ["features"]
    out = pyfunc.predict(pd.DataFrame({"features": [x.tolist() for x in X]}))
    assert list(out.columns) == ["prediction", "probability", "logLikelihood"]
    assert out["prediction"].tolist() == post.argmax(axis=1).tolist()
    assert_allclose(np.stack(out["probability"]), post, rtol=1e-9, atol=1e-12)
    assert_allclose(out["logLikelihood"], row_ll, rtol=1e-9)

    udf = mlflow.pyfunc.spark_udf(spark, uri, env_manager="local")
    scored = frame.withColumn("out", udf("features")).orderBy("id").select("out.*").toPandas()
    assert scored["prediction"].tolist() == post.argmax(axis=1).tolist()
    assert_allclose(scored["logLikelihood"], row_ll, rtol=1e-9)

    native = spark_em_mlflow.load_model(uri)
    assert type(native).__name__ == "GaussianMixtureModel"
    assert_allclose(native.covariances, model.covariances, rtol=0)


def test_every_model_type_logs_and_loads(spark, tracking, points, tmp_path):
    import spark_em.mlflow as spark_em_mlflow
    from spark_em.ml import (
        GaussianMixture,
        KMeans,
        MaskedGaussianMixture,
        MixtureOfRegressions,
        MixtureRecommender,
        WeightedLinearRegression,
    )

    X, frame = points
    rng = np.random.default_rng(3)
    profiles = np.array([[5, 4, 1, 1, 2], [1, 2, 5, 4, 1], [3, 3, 3, 5, 5]], dtype=float)
    ratings = np.clip(np.rint(profiles[rng.integers(0, 3, 40)] + rng.normal(0, 0.4, (40, 5))), 1, 5)
    ratings[rng.random(ratings.shape) < 0.3] = 0.0
    users, items = np.nonzero(ratings)
    triples = spark.createDataFrame(
        [(int(u), int(100 + j), float(ratings[u, j])) for u, j in zip(users, items)],
        "user long, item long, rating double",
    )
    rows = spark.createDataFrame(
        [(i, r.tolist()) for i, r in enumerate(ratings)], "id long, features array<double>"
    )
    y = X @ [1.5, -2.0] + 0.5 + rng.normal(0, 0.2, len(X))
    from pyspark.ml.linalg import Vectors

    labelled = spark.createDataFrame(
        [(float(v), Vectors.dense(x)) for v, x in zip(y, X)], ["label", "features"]
    )

    with mlflow.start_run() as run:  # without autolog(), fits log nothing: logged by hand
        kmeans = KMeans(k=3, seed=1).fit(frame)
        masked = MaskedGaussianMixture(k=2, seed=0).fit(rows)
        wols = WeightedLinearRegression().fit(labelled)
        recommender = MixtureRecommender(k=2, seed=0).fit(triples)
        regimes = spark.createDataFrame(  # two regimes: a third of the labels reflected
            [
                (float(4 - v if i % 3 == 0 else v), Vectors.dense(x))
                for i, (v, x) in enumerate(zip(y, X))
            ],
            ["label", "features"],
        )
        mixreg = MixtureOfRegressions(k=2, seed=0, nInit=1).fit(regimes)
        mfa = GaussianMixture(k=3, covarianceType="factor", nFactors=1, seed=2, maxIter=5).fit(
            frame
        )
        for name, model in [
            ("mfa", mfa),
            ("mixreg", mixreg),
            ("kmeans", kmeans),
            ("masked", masked),
            ("wols", wols),
            ("recommender", recommender),
        ]:
            spark_em_mlflow.log_model(model, name)
    logged = mlflow.get_run(run.info.run_id).data
    assert "spark_em.estimator" not in logged.tags and not logged.params

    def pyfunc(name, frame_in):
        return mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/{name}").predict(frame_in)

    centres = kmeans.clusterCenters()
    out = pyfunc("kmeans", pd.DataFrame({"features": [x.tolist() for x in X]}))
    distances = np.linalg.norm(X[:, None, :] - np.asarray(centres)[None], axis=2)
    assert out["prediction"].tolist() == distances.argmin(axis=1).tolist()
    assert_allclose(out["distance"], distances.min(axis=1), rtol=1e-9)

    out = pyfunc("mfa", pd.DataFrame({"features": [x.tolist() for x in X]}))
    sigma = mfa.loadings @ mfa.loadings.transpose(0, 2, 1) + np.stack(
        [np.diag(p) for p in mfa.noiseVariances]
    )
    post, row_ll = gmm_posterior(X, mfa.weights, mfa.means, sigma)
    assert_allclose(np.stack(out["probability"]), post, atol=1e-9)
    assert_allclose(out["logLikelihood"], row_ll, rtol=1e-9)

    out = pyfunc("masked", pd.DataFrame({"features": [r.tolist() for r in ratings]}))
    post = masked_posterior(ratings, masked.means, masked.variances, masked.weights)
    assert_allclose(
        np.stack(out["completed"]), np.where(ratings == 0, post @ masked.means, ratings), rtol=1e-9
    )

    out = pyfunc("wols", pd.DataFrame({"features": [x.tolist() for x in X[:5]]}))
    coefficients = wols.coefficients.toArray()
    assert_allclose(out["prediction"], X[:5] @ coefficients + wols.intercept, rtol=1e-12)

    out = pyfunc("mixreg", pd.DataFrame({"features": [x.tolist() for x in X[:5]]}))
    each = mixreg.intercepts + X[:5] @ mixreg.coefficients.T
    assert_allclose(out["prediction"], each @ mixreg.weights, rtol=1e-12)
    assert_allclose(np.stack(out["componentPredictions"]), each, rtol=1e-12)

    new = pd.DataFrame(
        {"user": [7, 7, 7, 8], "item": [100, 101, 104, 103], "rating": [5.0, 4.0, None, None]}
    )
    out = pyfunc("recommender", new)
    given = np.zeros((2, 5))
    given[0, [0, 1]] = [5.0, 4.0]
    post = masked_posterior(given, recommender.means, recommender.variances, recommender.weights)
    expected = [
        post[0] @ recommender.means[:, 0],
        post[0] @ recommender.means[:, 1],
        post[0] @ recommender.means[:, 4],
        recommender.weights @ recommender.means[:, 3],
    ]
    assert_allclose(out["prediction"], expected, rtol=1e-9)

    # a training user given their own training ratings: what transform predicts for them
    seven = pd.DataFrame(
        {"user": 7, "item": 100 + np.flatnonzero(ratings[7]), "rating": ratings[7][ratings[7] != 0]}
    )
    asked = pd.DataFrame({"user": [7] * 5, "item": list(range(100, 105)), "rating": np.nan})
    out = pyfunc("recommender", pd.concat([seven, asked], ignore_index=True))
    transformed = recommender.transform(spark.createDataFrame(asked[["user", "item"]]))
    by_item = {r["item"]: r["prediction"] for r in transformed.collect()}
    assert_allclose(
        out["prediction"].iloc[len(seven) :], [by_item[i] for i in range(100, 105)], rtol=1e-9
    )

    loaded = spark_em_mlflow.load_model(f"runs:/{run.info.run_id}/masked")
    assert_allclose(loaded.variances, masked.variances, rtol=0)
    # the recommender comes back without its training ratings: it saves, and says what it lacks
    from spark_em.errors import InputError
    from spark_em.ml import MixtureRecommenderModel

    bare = spark_em_mlflow.load_model(f"runs:/{run.info.run_id}/recommender")
    bare.save(str(tmp_path / "bare"))
    assert_allclose(
        MixtureRecommenderModel.load(str(tmp_path / "bare")).means, recommender.means, rtol=0
    )
    with pytest.raises(InputError, match="holds no training ratings"):
        bare.withNewUsers(triples)


def test_autolog_starts_a_run_of_its_own(spark, tracking, points):
    import spark_em.mlflow as spark_em_mlflow
    from spark_em.ml import KMeans

    _, frame = points
    spark_em_mlflow.autolog(log_models=False)
    try:
        assert mlflow.active_run() is None
        model = KMeans(k=2, seed=5, maxIter=7).fit(frame)
    finally:
        spark_em_mlflow.autolog(disable=True)
    assert mlflow.active_run() is None
    found = mlflow.search_runs(filter_string="params.maxIter = '7'", output_format="list")
    assert len(found) == 1 and found[0].data.tags["spark_em.estimator"] == "KMeans"
    assert found[0].data.metrics["trainingCost"] == pytest.approx(
        model.summary.trainingCost, rel=1e-12
    )
    history = mlflow.MlflowClient().get_metric_history(found[0].info.run_id, "costHistory")
    assert [m.value for m in history] == pytest.approx(model.summary.costHistory, rel=1e-12)


def test_candidates_of_a_tuning_are_not_logged_one_by_one(spark, tracking, points):
    """Under autolog(), a CrossValidator's fits (one per fold and param map, and the refit of
    the best) log no run of their own, as MLflow's pyspark.ml autologging treats them."""
    from pyspark.ml.evaluation import ClusteringEvaluator
    from pyspark.ml.linalg import Vectors
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    import spark_em.mlflow as spark_em_mlflow
    from spark_em.ml import KMeans

    X, _ = points
    vectors = spark.createDataFrame([(Vectors.dense(x),) for x in X], ["features"])
    estimator = KMeans(seed=0, maxIter=5)
    tuner = CrossValidator(
        estimator=estimator,
        estimatorParamMaps=ParamGridBuilder().addGrid(estimator.k, [2, 3]).build(),
        evaluator=ClusteringEvaluator(),
        numFolds=2,
        seed=1,
    )
    spark_em_mlflow.autolog(log_models=False)
    try:
        with mlflow.start_run() as run:
            tuned = tuner.fit(vectors)
    finally:
        spark_em_mlflow.autolog(disable=True)
    assert tuned.bestModel.getK() == 3  # three well separated clusters
    assert "spark_em.estimator" not in mlflow.get_run(run.info.run_id).data.tags
    children = mlflow.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'", output_format="list"
    )
    assert children == []


def test_a_pipeline_model_logs_and_scores_a_wide_frame(spark, tracking, points):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler

    import spark_em.mlflow as spark_em_mlflow
    from spark_em.ml import GaussianMixture

    X, _frame = points
    df = spark.createDataFrame([tuple(map(float, x)) for x in X], ["x", "y"])
    assembler = VectorAssembler(inputCols=["x", "y"], outputCol="features")
    fitted = Pipeline(stages=[assembler, GaussianMixture(k=3, seed=2)]).fit(df)
    with mlflow.start_run():
        info = spark_em_mlflow.log_model(fitted, "pipeline")
    pyfunc = mlflow.pyfunc.load_model(info.model_uri)
    assert pyfunc.metadata.get_input_schema().input_names() == ["x", "y"]
    out = pyfunc.predict(pd.DataFrame(X, columns=["x", "y"]))
    gmm = fitted.stages[-1]
    post, row_ll = gmm_posterior(X, gmm.weights, gmm.means, gmm.covariances)
    assert out["prediction"].tolist() == post.argmax(axis=1).tolist()
    assert_allclose(out["logLikelihood"], row_ll, rtol=1e-9)
