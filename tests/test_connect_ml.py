"""The spark.ml-style estimators under Spark Connect and on either backend: fit, transform
(with null and sparse rows), save and load give the same numbers as the RDD backend in a
classic session."""

from __future__ import annotations


import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em import gaussian, masked
from spark_em import ml as sml



def _frames(spark):
    """The data: a vector/array column for the mixture, ratings with zeros for the masked
    mixture, label/weight/features for least squares; and rows to transform with a null and a
    sparse vector among them."""
    from pyspark.ml.linalg import Vectors, VectorUDT
    from pyspark.sql.types import (ArrayType, DoubleType, IntegerType, LongType, StructField,
                                   StructType)

    rng = np.random.default_rng(5)
    points = np.vstack([rng.normal(c, 0.8, size=(50, 2)) for c in ([0, 0], [4, 0], [0, 4])])
    profiles = np.array([[5, 4, 1, 1, 2, 5], [1, 2, 5, 4, 1, 2], [3, 3, 3, 5, 5, 1]])
    ratings = np.clip(np.rint(profiles[rng.integers(0, 3, 80)] + rng.normal(0, 0.5, (80, 6))), 1, 5)
    ratings[rng.random(ratings.shape) < 0.3] = 0.0
    x = rng.uniform(-3, 3, size=(300, 2))
    label = x @ [1.5, -2.0] + 0.7 + rng.normal(0, 0.3, 300)
    weight = rng.uniform(0.2, 2.0, 300)

    vec = StructType([StructField("id", LongType()), StructField("features", VectorUDT()),
                      StructField("arr", ArrayType(DoubleType()))])
    points_df = spark.createDataFrame(
        [(i, Vectors.dense(p), p.tolist()) for i, p in enumerate(points)], vec)
    ratings_df = spark.createDataFrame(
        [(i, Vectors.dense(r), r.tolist()) for i, r in enumerate(ratings)], vec)
    wols_df = spark.createDataFrame(
        [(i, float(y), float(w), Vectors.dense(f)) for i, (y, w, f) in enumerate(zip(label, weight, x))],
        StructType([StructField("id", LongType()), StructField("label", DoubleType()),
                    StructField("weight", DoubleType()), StructField("features", VectorUDT())]))
    odd = spark.createDataFrame(
        [(0, Vectors.dense([1.0, 2.0]), [1, 2]), (1, None, None),
         (2, Vectors.sparse(2, [1], [3.0]), [0, 3]), (3, Vectors.sparse(2, [], []), [0, 0])],
        StructType([StructField("id", LongType()), StructField("features", VectorUDT()),
                    StructField("arr", ArrayType(IntegerType()))]))
    return points_df, ratings_df, wols_df, odd


def _rows(df, columns):
    """``columns`` of ``df`` by id, vectors as lists, nulls as None."""
    out = {c: [] for c in columns}
    for row in df.orderBy("id").collect():
        for c in columns:
            v = row[c]
            out[c].append(v.toArray().tolist() if hasattr(v, "toArray") else v)
    return out


def ml_results(spark, backend: str, directory: str) -> dict:
    """Fit the three estimators with ``backend``, transform, save, load and transform again
    with the loaded models: everything to compare across sessions and backends."""
    points_df, ratings_df, wols_df, odd = _frames(spark)
    out = {"session": type(spark).__module__}

    gm = sml.GaussianMixture(k=3, covarianceType="full", seed=1, backend=backend).fit(points_df)
    gm.write().overwrite().save(f"{directory}/gm")
    gm_loaded = sml.GaussianMixtureModel.load(f"{directory}/gm")
    gm_columns = ["prediction", "probability", "logLikelihood"]
    out["gm"] = {
        "weights": gm.weights.tolist(), "means": gm.means.tolist(),
        "covariances": gm.covariances.tolist(), "ll": gm.summary.logLikelihood,
        "n_iter": gm.summary.numIter, "loaded_means": gm_loaded.means.tolist(),
        "loaded_summary_ll": gm_loaded.summary.logLikelihood,
        "schema": gm.transform(points_df).schema.simpleString(),
        "points": _rows(gm.transform(points_df), gm_columns),
        "loaded_points": _rows(gm_loaded.transform(points_df), gm_columns),
        "odd": _rows(gm.transform(odd), gm_columns),
        "odd_arr": _rows(gm.transform(odd, {gm.featuresCol: "arr"}), gm_columns)}

    mgm = sml.MaskedGaussianMixture(k=3, seed=0, maxIter=100, backend=backend).fit(ratings_df)
    mgm.save(f"{directory}/mgm")
    mgm_loaded = sml.MaskedGaussianMixtureModel.load(f"{directory}/mgm")
    out["mgm"] = {
        "mu": mgm.mu.tolist(), "var": mgm.var.tolist(), "p": mgm.p.tolist(),
        "ll": mgm.summary["logLikelihood"], "n_iter": mgm.summary["numIter"],
        "loaded_var": mgm_loaded.var.tolist(),
        "schema": mgm.transform(ratings_df).schema.simpleString(),
        "completed": _rows(mgm.transform(ratings_df, {mgm.featuresCol: "arr"}), ["completed"]),
        "loaded_completed": _rows(mgm_loaded.transform(ratings_df), ["completed"])}

    wlr = sml.WeightedLinearRegression(backend=backend).fit(wols_df)
    wlr.save(f"{directory}/wlr")
    wlr_loaded = sml.WeightedLinearRegressionModel.load(f"{directory}/wlr")
    out["wlr"] = {
        "coefficients": wlr.coefficients.toArray().tolist(), "intercept": wlr.intercept,
        "loss": wlr.summary["loss"], "n_iter": wlr.summary["numIter"],
        "loaded": [wlr_loaded.intercept, *wlr_loaded.coefficients.toArray().tolist()],
        "schema": wlr.transform(wols_df).schema.simpleString(),
        "predictions": _rows(wlr.transform(wols_df), ["prediction"]),
        "loaded_predictions": _rows(wlr_loaded.transform(wols_df), ["prediction"]),
        "odd": _rows(wlr.transform(odd), ["prediction"])}

    estimator = sml.WeightedLinearRegression(solver="gd", backend=backend)
    estimator.write().overwrite().save(f"{directory}/estimator")
    estimator.write().overwrite().save(f"{directory}/estimator")
    again = sml.WeightedLinearRegression.load(f"{directory}/estimator")
    out["estimator"] = [again.getSolver(), again.getBackend()]
    return out


def _close(a, b):
    """Equal structure, and numbers to 1e-10 relative (None where None)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _close(a[key], b[key])
    elif isinstance(a, list) and any(v is None for v in a):
        assert [v is None for v in a] == [v is None for v in b]
        _close([v for v in a if v is not None], [v for v in b if v is not None])
    elif isinstance(a, str):
        assert a == b
    elif isinstance(a, int) and not isinstance(a, bool):
        assert a == b
    else:
        assert_allclose(np.asarray(b, dtype=float), np.asarray(a, dtype=float), rtol=1e-10, atol=1e-13)


def _same_fit(a: dict, b: dict):
    """Two ``ml_results`` agree; a loaded model gives exactly what the one saved gave."""
    skip = ("session", "estimator")
    _close({k: v for k, v in a.items() if k not in skip}, {k: v for k, v in b.items() if k not in skip})
    for r in (a, b):
        assert r["gm"]["loaded_points"] == r["gm"]["points"]
        assert r["gm"]["loaded_means"] == r["gm"]["means"]
        assert r["mgm"]["loaded_completed"] == r["mgm"]["completed"]
        assert r["mgm"]["loaded_var"] == r["mgm"]["var"]
        assert r["wlr"]["loaded_predictions"] == r["wlr"]["predictions"]
        assert r["wlr"]["loaded"] == [r["wlr"]["intercept"], *r["wlr"]["coefficients"]]


@pytest.fixture(scope="module")
def rdd_results(spark, tmp_path_factory):
    return ml_results(spark, "rdd", str(tmp_path_factory.mktemp("rdd")))


def test_backend_param():
    gm = sml.GaussianMixture(k=2)
    assert gm.getBackend() == "auto"
    assert gm.setBackend("dataframe").getBackend() == "dataframe"
    assert sml.MaskedGaussianMixture(backend="rdd").getBackend() == "rdd"
    assert sml.WeightedLinearRegression().setParams(backend="dataframe").getBackend() == "dataframe"
    with pytest.raises(TypeError, match="backend must be one of"):
        sml.WeightedLinearRegression(backend="gpu")


def test_transform_against_the_driver(spark, rdd_results, monkeypatch):
    """Transform output equals the kernels run on the driver, on null, sparse and integer-array
    rows too, and does not depend on how a partition's rows are cut into blocks."""
    points_df, ratings_df, _, odd = _frames(spark)
    r = rdd_results["gm"]
    mixture = gaussian.GaussianMixture(np.array(r["weights"]), np.array(r["means"]),
                                       np.array(r["covariances"]), "full")
    X = np.array([[1.0, 2.0], [0.0, 3.0], [0.0, 0.0]])
    resp, row_ll = gaussian.posterior(X, gaussian.prepare(mixture))
    for got in (r["odd"], r["odd_arr"]):
        assert got["prediction"] == [resp[0].argmax(), None, resp[1].argmax(), resp[2].argmax()]
        assert_allclose([got["probability"][i] for i in (0, 2, 3)], resp, rtol=1e-12)
        assert got["probability"][1] is None and got["logLikelihood"][1] is None
        assert_allclose([got["logLikelihood"][i] for i in (0, 2, 3)], row_ll, rtol=1e-12)
    w = rdd_results["wlr"]
    assert w["odd"]["prediction"][1] is None
    assert_allclose([w["odd"]["prediction"][i] for i in (0, 2, 3)],
                    X @ w["coefficients"] + w["intercept"], rtol=1e-12)
    m = rdd_results["mgm"]
    ratings = np.array([row.arr for row in ratings_df.orderBy("id").collect()])
    expected = masked.complete(ratings, masked.Mixture(np.array(m["mu"]), np.array(m["var"]),
                                                        np.array(m["p"])))
    assert_allclose(m["completed"]["completed"], expected, rtol=1e-12)

    model = sml.GaussianMixtureModel(mixture)
    whole = _rows(model.transform(points_df), ["prediction", "probability", "logLikelihood"])
    monkeypatch.setattr(sml, "TRANSFORM_BLOCK_ROWS", 7)
    _close(_rows(model.transform(points_df), ["prediction", "probability", "logLikelihood"]), whole)


def test_backend_param_reaches_the_fit(spark, rdd_results, monkeypatch):
    """backend="dataframe" in a classic session fits on the DataFrame backend, to the same
    mixture as the RDD backend."""
    from spark_em import frames

    loaded = []
    read = sml.read_dataframe

    def watched(*args, **kwargs):
        blocks = read(*args, **kwargs)
        loaded.append(frames.is_frame(blocks))
        return blocks

    monkeypatch.setattr(sml, "read_dataframe", watched)
    points_df = _frames(spark)[0]
    model = sml.GaussianMixture(k=3, covarianceType="full", seed=1, backend="dataframe").fit(points_df)
    assert loaded == [True]
    _close(model.means.tolist(), rdd_results["gm"]["means"])
    _close(model.covariances.tolist(), rdd_results["gm"]["covariances"])


def test_estimators_under_spark_connect(rdd_results, under_connect):
    result = dict(under_connect["ml"])
    assert "connect" in result.pop("session") and "no RDDs" in under_connect["rdd_error"]
    assert result["estimator"] == ["gd", "auto"]
    _same_fit(rdd_results, result)
