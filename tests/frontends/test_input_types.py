"""Every estimator takes its features in the same three forms, through the one Arrow load: a
``pyspark.ml`` vector column (dense or sparse), an ``array<double>`` column, or a list of
numeric columns; each form fits the same model, and anything else is refused in one line
naming the column and its type."""

from __future__ import annotations

import numpy as np
import pytest

from spark_em.errors import InputError

NAMES = ["a", "b", "c"]


def sparse_vector(row: np.ndarray):
    from pyspark.ml.linalg import Vectors

    kept = np.flatnonzero(row)
    return Vectors.sparse(len(row), kept.tolist(), row[kept].tolist())


@pytest.fixture(scope="module")
def forms(spark):
    """{form: (DataFrame, featuresCol)} of the same 90 rows, and the rows with their label."""
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, StructField, StructType

    rng = np.random.default_rng(12)
    X = np.vstack([rng.normal(c, 0.4, (30, 3)) for c in ([0, 0, 0], [3, 0, 2], [0, 4, 0])])
    X[::7, 1] = 0.0  # zeros the sparse vectors leave out
    y = X @ [1.0, -2.0, 0.5] + 0.25 + rng.normal(0, 0.1, len(X))
    df = spark.createDataFrame(
        [(*map(float, row), float(t)) for row, t in zip(X, y)], [*NAMES, "label"]
    )
    vectors = VectorAssembler(inputCols=NAMES, outputCol="features").transform(df)
    arrays = vectors.select(vector_to_array("features").alias("features"), *NAMES, "label")
    schema = StructType([StructField("features", VectorUDT()), StructField("label", DoubleType())])
    sparse = df.sparkSession.createDataFrame(
        [(sparse_vector(row), float(t)) for row, t in zip(X, y)], schema
    )
    out = {
        "vector": (vectors, "features"),
        "sparse": (sparse, "features"),
        "array": (arrays, "features"),
        "columns": (df, NAMES),
    }
    assert sparse.select(F.col("features")).first()[0].numNonzeros() < 3  # truly sparse
    return out, X, y


def test_least_squares_from_every_form_equals_numpy(forms):
    from spark_em.ml import WeightedLinearRegression

    data, X, y = forms
    design = np.column_stack([np.ones(len(X)), X])
    want = np.linalg.lstsq(design, y, rcond=None)[0]
    for form, (df, features) in data.items():
        model = WeightedLinearRegression(featuresCol=features).fit(df)
        got = np.concatenate([[model.intercept], model.coefficients.toArray()])
        np.testing.assert_allclose(got, want, rtol=1e-9, err_msg=form)
        if form == "columns":  # the table is named by the columns
            assert model.summary.featureNames == NAMES
            predicted = model.transform(df).select("prediction").toPandas()["prediction"]
            assert len(predicted) == len(X)


def test_mixtures_and_kmeans_fit_the_same_model_from_every_form(forms):
    from spark_em.ml import GaussianMixture, KMeans

    data, X, _ = forms
    fitted = {}
    for form, (df, features) in data.items():
        gm = GaussianMixture(k=3, seed=1, featuresCol=features).fit(df)
        km = KMeans(k=3, seed=1, featuresCol=features).fit(df)
        fitted[form] = (gm, km)
    gm, km = fitted["vector"]
    # the same data whatever the form: the k-means cost equals numpy's under its centres
    centres = np.asarray(km.clusterCenters())
    cost = ((X[:, None, :] - centres[None]) ** 2).sum(axis=2).min(axis=1).sum()
    np.testing.assert_allclose(km.summary.trainingCost, cost, rtol=1e-9)
    for form, (other_gm, other_km) in fitted.items():
        np.testing.assert_allclose(other_gm.means, gm.means, rtol=1e-8, err_msg=form)
        np.testing.assert_allclose(other_gm.weights, gm.weights, rtol=1e-8, err_msg=form)
        np.testing.assert_allclose(
            other_km.clusterCenters(), km.clusterCenters(), rtol=1e-9, err_msg=form
        )
    df, features = data["columns"]
    by_columns = fitted["columns"][0].transform(df).select(*NAMES, "prediction").toPandas()
    vectors, _ = data["vector"]
    by_vector = gm.transform(vectors).select(*NAMES, "prediction").toPandas()
    merged = by_columns.merge(by_vector, on=NAMES, suffixes=("_columns", "_vector"))
    assert len(merged) == len(X)
    assert (merged["prediction_columns"] == merged["prediction_vector"]).all()


def test_anything_else_is_refused_naming_the_column_and_its_type(spark):
    from spark_em.ml import GaussianMixture, KMeans, WeightedLinearRegression

    df = spark.createDataFrame([("x", 1.0, [1.0], 2.0)], ["s", "n", "arr", "label"])
    for estimator in (GaussianMixture(k=1), KMeans(k=1), WeightedLinearRegression()):
        with pytest.raises(InputError, match=r"^featuresCol 's' is string: it must hold numbers"):
            estimator.setFeaturesCol("s").fit(df)
        with pytest.raises(InputError, match=r"^featuresCol 'arr' is array<double>: a list of"):
            estimator.setFeaturesCol(["n", "arr"]).fit(df)
    with pytest.raises(TypeError, match="featuresCol must be a column name or a non-empty list"):
        GaussianMixture(featuresCol=[])
