"""The estimators fitted, transformed, saved and loaded on one backend: the numbers to
compare across backends and sessions."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose

from spark_em import ml


def frames(spark):
    """The data: a vector/array column for the mixture, ratings with zeros for the masked
    mixture, label/weight/features for least squares; and rows to transform with a null and a
    sparse vector among them."""
    from pyspark.ml.linalg import Vectors, VectorUDT
    from pyspark.sql.types import (
        ArrayType,
        DoubleType,
        IntegerType,
        LongType,
        StructField,
        StructType,
    )

    rng = np.random.default_rng(5)
    points = np.vstack([rng.normal(c, 0.8, size=(50, 2)) for c in ([0, 0], [4, 0], [0, 4])])
    profiles = np.array([[5, 4, 1, 1, 2, 5], [1, 2, 5, 4, 1, 2], [3, 3, 3, 5, 5, 1]])
    ratings = np.clip(np.rint(profiles[rng.integers(0, 3, 80)] + rng.normal(0, 0.5, (80, 6))), 1, 5)
    ratings[rng.random(ratings.shape) < 0.3] = 0.0
    x = rng.uniform(-3, 3, size=(300, 2))
    label = x @ [1.5, -2.0] + 0.7 + rng.normal(0, 0.3, 300)
    weight = rng.uniform(0.2, 2.0, 300)

    vec = StructType(
        [
            StructField("id", LongType()),
            StructField("features", VectorUDT()),
            StructField("arr", ArrayType(DoubleType())),
        ]
    )
    points_df = spark.createDataFrame(
        [(i, Vectors.dense(p), p.tolist()) for i, p in enumerate(points)], vec
    )
    ratings_df = spark.createDataFrame(
        [(i, Vectors.dense(r), r.tolist()) for i, r in enumerate(ratings)], vec
    )
    wols_df = spark.createDataFrame(
        [
            (i, float(y), float(w), Vectors.dense(f))
            for i, (y, w, f) in enumerate(zip(label, weight, x))
        ],
        StructType(
            [
                StructField("id", LongType()),
                StructField("label", DoubleType()),
                StructField("weight", DoubleType()),
                StructField("features", VectorUDT()),
            ]
        ),
    )
    odd = spark.createDataFrame(
        [
            (0, Vectors.dense([1.0, 2.0]), [1, 2]),
            (1, None, None),
            (2, Vectors.sparse(2, [1], [3.0]), [0, 3]),
            (3, Vectors.sparse(2, [], []), [0, 0]),
        ],
        StructType(
            [
                StructField("id", LongType()),
                StructField("features", VectorUDT()),
                StructField("arr", ArrayType(IntegerType())),
            ]
        ),
    )
    return points_df, ratings_df, wols_df, odd


def rows(df, columns):
    """``columns`` of ``df`` by id, vectors as lists, nulls as None."""
    out = {c: [] for c in columns}
    for row in df.orderBy("id").collect():
        for c in columns:
            v = row[c]
            out[c].append(v.toArray().tolist() if hasattr(v, "toArray") else v)
    return out


def ml_results(spark, backend: str, directory: str) -> dict:
    """Fit the estimators with ``backend``, transform, save, load and transform again
    with the loaded models: everything to compare across sessions and backends."""
    points_df, ratings_df, wols_df, odd = frames(spark)
    out = {"session": type(spark).__module__}

    gm = ml.GaussianMixture(k=3, covarianceType="full", seed=1, backend=backend).fit(points_df)
    gm.write().overwrite().save(f"{directory}/gm")
    gm_loaded = ml.GaussianMixtureModel.load(f"{directory}/gm")
    gm_columns = ["prediction", "probability", "logLikelihood"]
    out["gm"] = {
        "weights": gm.weights.tolist(),
        "means": gm.means.tolist(),
        "covariances": gm.covariances.tolist(),
        "ll": gm.summary.logLikelihood,
        "n_iter": gm.summary.numIter,
        "loaded_means": gm_loaded.means.tolist(),
        "loaded_summary_ll": gm_loaded.summary.logLikelihood,
        "schema": gm.transform(points_df).schema.simpleString(),
        "points": rows(gm.transform(points_df), gm_columns),
        "loaded_points": rows(gm_loaded.transform(points_df), gm_columns),
        "odd": rows(gm.transform(odd), gm_columns),
        "odd_arr": rows(gm.transform(odd, {gm.featuresCol: "arr"}), gm_columns),
    }

    mfa = ml.GaussianMixture(
        k=3, covarianceType="factor", nFactors=1, seed=1, maxIter=4, tol=0.0, backend=backend
    ).fit(points_df)
    mfa.write().overwrite().save(f"{directory}/mfa")
    mfa_loaded = ml.GaussianMixtureModel.load(f"{directory}/mfa")
    out["mfa"] = {
        "loadings": mfa.loadings.tolist(),
        "noise": mfa.noiseVariances.tolist(),
        "ll": mfa.summary.logLikelihood,
        "loaded_loadings": mfa_loaded.loadings.tolist(),
        "points": rows(mfa.transform(points_df), gm_columns),
        "loaded_points": rows(mfa_loaded.transform(points_df), gm_columns),
    }

    holes = points_df.selectExpr(
        "id", "transform(arr, (v, i) -> IF((id * 7 + i * 3) % 5 = 0, NULL, v)) AS arr"
    )
    gm_nan = ml.GaussianMixture(
        k=3, covarianceType="tied", seed=1, missingValue="nan", featuresCol="arr", backend=backend
    ).fit(holes)
    out["gm_nan"] = {
        "means": gm_nan.means.tolist(),
        "covariances": gm_nan.covariances.tolist(),
        "ll": gm_nan.summary.logLikelihood,
        "n_iter": gm_nan.summary.numIter,
        "imputed": rows(gm_nan.transform(holes), ["imputed", "logLikelihood"]),
    }

    mgm = ml.MaskedGaussianMixture(k=3, seed=0, nInit=1, maxIter=100, backend=backend).fit(
        ratings_df
    )
    mgm.save(f"{directory}/mgm")
    mgm_loaded = ml.MaskedGaussianMixtureModel.load(f"{directory}/mgm")
    out["mgm"] = {
        "means": mgm.means.tolist(),
        "variances": mgm.variances.tolist(),
        "weights": mgm.weights.tolist(),
        "ll": mgm.summary.logLikelihood,
        "n_iter": mgm.summary.numIter,
        "loaded_variances": mgm_loaded.variances.tolist(),
        "schema": mgm.transform(ratings_df).schema.simpleString(),
        "completed": rows(mgm.transform(ratings_df, {mgm.featuresCol: "arr"}), ["completed"]),
        "loaded_completed": rows(mgm_loaded.transform(ratings_df), ["completed"]),
    }

    wlr = ml.WeightedLinearRegression(weightCol="weight", covType="HC2", backend=backend).fit(
        wols_df
    )
    wlr.save(f"{directory}/wlr")
    wlr_loaded = ml.WeightedLinearRegressionModel.load(f"{directory}/wlr")
    out["wlr"] = {
        "coefficients": wlr.coefficients.toArray().tolist(),
        "intercept": wlr.intercept,
        "loss": wlr.summary.loss,
        "n_iter": wlr.summary.numIter,
        "standard_errors": wlr.summary.coefficientStandardErrors,
        "mae": wlr.evaluate(wols_df).meanAbsoluteError,
        "loaded": [wlr_loaded.intercept, *wlr_loaded.coefficients.toArray().tolist()],
        "schema": wlr.transform(wols_df).schema.simpleString(),
        "predictions": rows(wlr.transform(wols_df), ["prediction"]),
        "loaded_predictions": rows(wlr_loaded.transform(wols_df), ["prediction"]),
        "odd": rows(wlr.transform(odd), ["prediction"]),
    }

    # two regimes: a third of the labels reflected about 2
    regimes = wols_df.selectExpr(
        "id", "IF(id % 3 = 0, 4.0 - label, label) AS label", "weight", "features"
    )
    mr = ml.MixtureOfRegressions(k=2, weightCol="weight", seed=0, nInit=2, backend=backend).fit(
        regimes
    )
    mr.save(f"{directory}/mr")
    mr_loaded = ml.MixtureOfRegressionsModel.load(f"{directory}/mr")
    mr_columns = ["prediction", "componentPredictions", "probability", "component"]
    out["mr"] = {
        "coefficients": mr.coefficients.tolist(),
        "intercepts": mr.intercepts.tolist(),
        "sigmas": mr.sigmas.tolist(),
        "weights": mr.weights.tolist(),
        "ll": mr.summary.logLikelihood,
        "n_iter": mr.summary.numIter,
        "errors": mr.summary.coefficientStandardErrors.tolist(),
        "loaded": mr_loaded.coefficients.tolist(),
        "schema": mr.transform(regimes).schema.simpleString(),
        "points": rows(mr.transform(regimes), mr_columns),
        "loaded_points": rows(mr_loaded.transform(regimes), mr_columns),
        "odd": rows(mr.transform(odd), mr_columns[:2]),
    }

    estimator = ml.WeightedLinearRegression(solver="gd", backend=backend)
    estimator.write().overwrite().save(f"{directory}/estimator")
    estimator.write().overwrite().save(f"{directory}/estimator")
    again = ml.WeightedLinearRegression.load(f"{directory}/estimator")
    out["estimator"] = [again.getSolver(), again.getBackend()]
    return out


def close(a, b):
    """Equal structure, and numbers to 1e-10 relative (None where None)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            close(a[key], b[key])
    elif isinstance(a, list) and any(v is None for v in a):
        assert [v is None for v in a] == [v is None for v in b]
        close([v for v in a if v is not None], [v for v in b if v is not None])
    elif isinstance(a, str):
        assert a == b
    elif isinstance(a, int) and not isinstance(a, bool):
        assert a == b
    else:
        assert_allclose(
            np.asarray(b, dtype=float), np.asarray(a, dtype=float), rtol=1e-10, atol=1e-13
        )


def same_fit(a: dict, b: dict):
    """Two ``ml_results`` agree; a loaded model gives exactly what the one saved gave."""
    skip = ("session", "estimator")
    close(
        {k: v for k, v in a.items() if k not in skip}, {k: v for k, v in b.items() if k not in skip}
    )
    for r in (a, b):
        assert r["gm"]["loaded_points"] == r["gm"]["points"]
        assert r["gm"]["loaded_means"] == r["gm"]["means"]
        assert r["mfa"]["loaded_points"] == r["mfa"]["points"]
        assert r["mfa"]["loaded_loadings"] == r["mfa"]["loadings"]
        assert r["mgm"]["loaded_completed"] == r["mgm"]["completed"]
        assert r["mgm"]["loaded_variances"] == r["mgm"]["variances"]
        assert r["wlr"]["loaded_predictions"] == r["wlr"]["predictions"]
        assert r["wlr"]["loaded"] == [r["wlr"]["intercept"], *r["wlr"]["coefficients"]]
        assert r["mr"]["loaded_points"] == r["mr"]["points"]
        assert r["mr"]["loaded"] == r["mr"]["coefficients"]
