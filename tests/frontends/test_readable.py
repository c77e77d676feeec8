"""Results a person can read: the least-squares table under the assembled columns' names
(against statsmodels), errors that name features, compact summaries, models' reprs, and the
warning of a fit stopped by maxIter."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from spark_em.errors import ConvergenceWarning, InputError


@pytest.fixture(scope="module")
def people(spark):
    rng = np.random.default_rng(11)
    n = 200
    age = rng.uniform(20, 60, n)
    income = rng.normal(50, 10, n)
    y = 3.0 + 0.5 * age - 0.2 * income + rng.normal(0, 1.0, n)
    w = rng.uniform(0.5, 2.0, n)
    rows = [tuple(float(v) for v in r) for r in zip(age, income, y, w)]
    return spark.createDataFrame(rows, ["age", "income", "y", "w"]), (age, income, y, w)


def test_the_least_squares_table_names_the_assembled_columns(people):
    import statsmodels.api as sm
    from pyspark.ml.feature import VectorAssembler

    from spark_em.ml import WeightedLinearRegression

    df, (age, income, y, w) = people
    assembled = VectorAssembler(inputCols=["age", "income"], outputCol="features").transform(df)
    model = WeightedLinearRegression(labelCol="y", weightCol="w").fit(assembled)
    table = model.summary.toPandas()
    assert list(table.index) == ["intercept", "age", "income"]
    assert list(table.columns) == ["coef", "std err", "t", "P>|t|", "[0.025", "0.975]"]
    ref = sm.WLS(y, sm.add_constant(np.column_stack([age, income])), weights=w).fit()
    np.testing.assert_allclose(table["coef"], ref.params, rtol=1e-10)
    np.testing.assert_allclose(table["std err"], ref.bse, rtol=1e-8)
    np.testing.assert_allclose(table["P>|t|"], ref.pvalues, rtol=1e-6, atol=1e-300)
    np.testing.assert_allclose(table[["[0.025", "0.975]"]], ref.conf_int(0.05), rtol=1e-8)
    text = str(model.summary)
    lines = text.splitlines()
    assert lines[0].startswith("Weighted least squares")
    assert [line.split()[0] for line in lines[2:5]] == ["intercept", "age", "income"]
    assert "R²" in text and "lossHistory" not in text
    assert "<table" in model.summary._repr_html_()
    assert repr(model).startswith("WeightedLinearRegressionModel(solver='qr', fitIntercept=True")


def test_collinearity_is_reported_by_feature_name(spark, people):
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    from spark_em.ml import WeightedLinearRegression

    df, _ = people
    doubled = df.withColumn("age2", 2 * F.col("age"))
    assembled = VectorAssembler(inputCols=["age", "income", "age2"], outputCol="x").transform(
        doubled
    )
    with pytest.raises(InputError, match=r"age.* and age2 are collinear"):
        WeightedLinearRegression(featuresCol="x", labelCol="y").fit(assembled)


def test_mixture_summaries_print_compactly_and_warn_when_stopped(spark):
    from pyspark.ml.linalg import Vectors

    from spark_em.ml import GaussianMixture, KMeans

    rng = np.random.default_rng(2)
    points = np.vstack([rng.normal(c, 0.5, (60, 2)) for c in ([0, 0], [5, 5])])
    df = spark.createDataFrame([(Vectors.dense(p),) for p in points], ["features"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = GaussianMixture(k=2, seed=0).fit(df)
    text = str(model.summary)
    assert "weights" in text and "bic" in text and "logLikelihoodHistory" not in text
    assert len(text.splitlines()) <= 10
    weights = [float(v) for v in text.split("weights")[1].split("\n")[0].strip(" []").split(",")]
    np.testing.assert_allclose(sorted(weights), [0.5, 0.5], atol=1e-3)
    assert "<table>" in model.summary._repr_html_()
    assert repr(model).startswith("GaussianMixtureModel(k=2, covarianceType='full', uid=")
    with pytest.warns(ConvergenceWarning, match=r"GaussianMixture: stopped at maxIter=1") as seen:
        GaussianMixture(k=2, seed=0, maxIter=1).fit(df)
    ours = [w for w in seen if issubclass(w.category, ConvergenceWarning)]
    assert ours[0].filename == __file__  # the user's line, not the library's
    with pytest.warns(ConvergenceWarning, match=r"KMeans: stopped at maxIter=1"):
        KMeans(k=3, seed=0, maxIter=1).fit(df)


def test_verbose_prints_one_line_per_iteration(spark, capsys, caplog):
    import logging

    from pyspark.ml.linalg import Vectors

    from spark_em.ml import GaussianMixture, KMeans

    rng = np.random.default_rng(3)
    points = np.vstack([rng.normal(c, 0.5, (40, 2)) for c in ([0, 0], [4, 4])])
    df = spark.createDataFrame([(Vectors.dense(p),) for p in points], ["features"])
    capsys.readouterr()
    model = GaussianMixture(k=2, seed=0, verbose=True).fit(df)
    lines = [line for line in capsys.readouterr().err.splitlines() if " iter " in line]
    history = model.summary.logLikelihoodHistory
    assert len(lines) == model.summary.numIter == len(history)
    assert lines[0].startswith("full k=2 seed=0 iter    1  log-likelihood ")
    shown = [float(line.split("log-likelihood")[1].split()[0]) for line in lines]
    np.testing.assert_allclose(shown, history, rtol=1e-9)

    GaussianMixture(k=2, seed=0).fit(df)  # quiet unless asked
    assert " iter " not in capsys.readouterr().err
    with caplog.at_level(logging.INFO, logger="spark_em"):  # or through logging
        fitted = KMeans(k=2, seed=0).fit(df)
    costs = [r.getMessage() for r in caplog.records if r.name == "spark_em"]
    assert len(costs) == fitted.summary.numIter and all(" cost " in c for c in costs)
    capsys.readouterr()
    shown_fit = KMeans(k=2, seed=0, verbose=True).fit(df)
    kmeans_lines = [line for line in capsys.readouterr().err.splitlines() if " cost " in line]
    assert len(kmeans_lines) == shown_fit.summary.numIter
