"""The pyfunc's predict on a wide pandas frame of the columns VectorAssembler assembled (how
MLflow flavors are served), equal to the features-column form, kept across a save."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spark_em.errors import InputError


def test_a_model_scores_the_columns_it_was_assembled_from(spark, tmp_path):
    from pyspark.ml.feature import VectorAssembler

    from spark_em.ml import GaussianMixture, GaussianMixtureModel, WeightedLinearRegression
    from spark_em.mlflow.pyfunc import predict

    rng = np.random.default_rng(6)
    rows = np.vstack([rng.normal(c, 0.5, (40, 2)) for c in ([0, 0], [4, 3])])
    y = rows @ [1.5, -2.0] + 0.3
    df = spark.createDataFrame(
        [(float(a), float(b), float(t)) for (a, b), t in zip(rows, y)], ["height", "width", "y"]
    )
    assembled = VectorAssembler(inputCols=["height", "width"], outputCol="features").transform(df)
    wide = pd.DataFrame({"width": [0.1, 3.0, 2.0], "height": [0.2, 4.1, 1.0], "other": 1})
    narrow = pd.DataFrame({"features": wide[["height", "width"]].to_numpy().tolist()})
    for model in (
        GaussianMixture(k=2, seed=0).fit(assembled),
        WeightedLinearRegression(labelCol="y").fit(assembled),
    ):
        pd.testing.assert_frame_equal(predict(model, wide), predict(model, narrow))
        assert list(model._input_example().columns) == ["height", "width"]
    gm = GaussianMixture(k=2, seed=0).fit(assembled)
    gm.save(str(tmp_path / "gm"))
    again = GaussianMixtureModel.load(str(tmp_path / "gm"))
    pd.testing.assert_frame_equal(predict(again, wide), predict(gm, narrow))
    with pytest.raises(InputError, match=r"nor the columns it was assembled from \(height, wid"):
        predict(again, wide[["width"]])


def test_a_pipeline_of_an_assembler_and_a_model_scores_its_input_columns(spark):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    from spark_em.ml import KMeans
    from spark_em.mlflow.artifact import scoring_model
    from spark_em.mlflow.pyfunc import predict

    rng = np.random.default_rng(9)
    rows = np.vstack([rng.normal(c, 0.4, (30, 2)) for c in ([0, 0], [3, 3])])
    df = spark.createDataFrame([tuple(map(float, r)) for r in rows], ["a", "b"])
    assembler = VectorAssembler(inputCols=["a", "b"], outputCol="features")
    fitted = Pipeline(stages=[assembler, KMeans(k=2, seed=0)]).fit(df)
    expected = fitted.transform(df).select("prediction", "distance").toPandas()
    got = predict(scoring_model(fitted), pd.DataFrame(rows, columns=["a", "b"]))
    assert got["prediction"].tolist() == expected["prediction"].tolist()
    np.testing.assert_allclose(got["distance"], expected["distance"], rtol=1e-12)

    scaler = StandardScaler(inputCol="features", outputCol="scaled")
    scaled = Pipeline(stages=[assembler, scaler, KMeans(k=2, featuresCol="scaled")]).fit(df)
    with pytest.raises(InputError, match="VectorAssembler, StandardScalerModel before it"):
        scoring_model(scaled)
