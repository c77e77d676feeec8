"""``MixtureOfRegressions``: the estimator from a given start against textbook EM
(``mixreg_reference``), the outputs of ``transform`` against the model's parameters, the
planted regimes found from the default starts, and persistence."""

from __future__ import annotations

import numpy as np
import pytest

from spark_em.errors import InputError
from spark_em.ml import MixtureOfRegressions, MixtureOfRegressionsModel
from tests.helpers.mixreg_reference import (
    em,
    gate_weights,
    gated_em,
    gated_log_likelihood,
    gated_planted,
    gated_responsibilities,
    numerical_hessian,
    planted,
    responsibilities,
)


def frame(spark, values, w):
    rows = [(r[1:].tolist(), float(r[0]), float(v)) for r, v in zip(values, w)]
    return spark.createDataFrame(rows, "features array<double>, label double, w double")


@pytest.fixture(scope="module")
def data(spark):
    values, X, y, w, start = planted("separated", n=500, seed=7)
    return frame(spark, values, w), X, y, w, start


def test_a_given_start_reaches_the_textbook_fixed_point(data):
    df, X, y, w, start = data
    initial = {
        "weights": start.weights,
        "intercepts": start.coefficients[:, 0],
        "coefficients": start.coefficients[:, 1:],
        "sigmas": start.sigmas,
    }
    model = MixtureOfRegressions(weightCol="w", initialModel=initial, tol=0.0, maxIter=30).fit(df)
    n = model.summary.numIter
    (weights, beta, sigmas), ll = em(X, y, w, *start[:3], n)
    assert model.summary.logLikelihood == pytest.approx(ll, rel=1e-10)
    np.testing.assert_allclose(model.weights, weights, rtol=1e-8)
    np.testing.assert_allclose(model.intercepts, beta[:, 0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.coefficients, beta[:, 1:], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.sigmas, sigmas, rtol=1e-8)
    # BIC and AIC from the log-likelihood, counting 3·3 coefficients, 3 sigmas, 2 weights
    assert model.bic == pytest.approx(-2 * ll + 14 * np.log(w.sum()), rel=1e-12)
    assert model.aic == pytest.approx(-2 * ll + 28, rel=1e-12)

    out = model.transform(df).toPandas()
    each = X @ np.column_stack([model.intercepts, model.coefficients]).T
    np.testing.assert_allclose(np.stack(out["componentPredictions"]), each, rtol=1e-12)
    np.testing.assert_allclose(out["prediction"], each @ model.weights, rtol=1e-12)
    posterior, _ = responsibilities(
        X, y, model.weights, np.column_stack([model.intercepts, model.coefficients]), model.sigmas
    )
    np.testing.assert_allclose(np.stack(out["probability"]), posterior, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(out["component"], posterior.argmax(axis=1))
    assert model.predict(X[0, 1:]) == pytest.approx(out["prediction"][0], rel=1e-12)

    # standard errors: the inverse of minus the numerical Hessian of the log-likelihood
    theta = np.r_[np.column_stack([beta, sigmas]).ravel(), weights[:-1]]
    cov = np.linalg.inv(-numerical_hessian(theta, X, y, w, 3))
    per = np.sqrt(cov[:12, :12].diagonal().reshape(3, 4))
    summary = model.summary
    np.testing.assert_allclose(summary.interceptStandardErrors, per[:, 0], rtol=1e-3)
    np.testing.assert_allclose(summary.coefficientStandardErrors, per[:, 1:3], rtol=1e-3)
    np.testing.assert_allclose(summary.sigmaStandardErrors, per[:, 3], rtol=1e-3)
    last = np.sqrt(cov[12:, 12:].sum())
    np.testing.assert_allclose(
        summary.weightStandardErrors, [*np.sqrt(cov[12:, 12:].diagonal()), last], rtol=1e-3
    )
    intervals = summary.confidenceIntervals(alpha=0.1)  # intercept first, ± z(0.95)·error
    np.testing.assert_allclose(
        intervals[..., 1] - intervals[..., 0], 2 * 1.6448536 * per[:, :3], rtol=1e-3
    )
    np.testing.assert_allclose(intervals.mean(axis=-1)[:, 1:], model.coefficients, rtol=1e-12)
    assert "component 2: weight" in summary.table() and "intercept" in summary.table()


def test_the_default_starts_find_the_planted_regimes_in_a_pipeline_that_saves(data, tmp_path):
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.feature import VectorAssembler

    df, X, y, w, _ = data
    flat = df.selectExpr("features[0] AS x1", "features[1] AS x2", "label", "w")
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=["x1", "x2"], outputCol="xv"),
            MixtureOfRegressions(k=3, weightCol="w", seed=1, featuresCol="xv", initMode="kmeans"),
        ]
    )
    fitted = pipeline.fit(flat)
    model = fitted.stages[-1]
    planted_beta = np.array([[1.0, 2.0, -1.0], [-3.0, -1.0, 2.0], [6.0, 0.5, 0.5]])
    found = np.column_stack([model.intercepts, model.coefficients])
    order = np.argsort(found[:, 0])
    np.testing.assert_allclose(found[order], planted_beta[np.argsort(planted_beta[:, 0])], atol=0.2)
    fitted.write().overwrite().save(str(tmp_path / "pipe"))
    again = PipelineModel.load(str(tmp_path / "pipe"))
    loaded = again.stages[-1]
    assert isinstance(loaded, MixtureOfRegressionsModel)
    for name in ("weights", "intercepts", "coefficients", "sigmas"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
    columns = ["prediction", "componentPredictions", "probability", "component"]
    assert again.transform(flat).select(columns).collect() == (
        fitted.transform(flat).select(columns).collect()
    )
    unlabelled = flat.drop("label")
    out = again.transform(unlabelled)
    assert out.columns == [*unlabelled.columns, "xv", "prediction", "componentPredictions"]


def test_a_gate_reaches_the_textbook_fixed_point_and_scores_each_row_by_its_covariates(
    spark, tmp_path
):
    """Concomitant variables: textbook EM whose M-step fits the multinomial logit to
    convergence (``gated_em``) and the estimator's one Newton step an iteration reach the same
    fixed point; the outputs follow each row's π(z); the gate is saved and its standard
    errors are the inverse numerical Hessian's."""
    values, X, Z, y, w, start = gated_planted(n=300, seed=4)
    rows = [(r[1:3].tolist(), float(r[0]), float(r[3]), float(v)) for r, v in zip(values, w)]
    df = spark.createDataFrame(rows, "features array<double>, label double, z double, w double")
    initial = {
        "weights": start.weights,
        "intercepts": start.coefficients[:, 0],
        "coefficients": start.coefficients[:, 1:],
        "sigmas": start.sigmas,
    }
    model = MixtureOfRegressions(
        k=3, weightCol="w", gateCol="z", initialModel=initial, tol=1e-13, maxIter=200
    ).fit(df)
    assert model.summary.converged
    (gate, beta, sigmas), ll = gated_em(X, Z, y, w, start.gate, *start[1:3], 60)
    assert model.summary.logLikelihood == pytest.approx(ll, rel=1e-10)
    np.testing.assert_allclose(model.gateIntercepts, gate[:, 0], rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(model.gateCoefficients[:, 0], gate[:, 1], rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(model.intercepts, beta[:, 0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.coefficients, beta[:, 1:], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.sigmas, sigmas, rtol=1e-8)
    # 3·3 coefficients, 3 sigmas, 2·2 gate coefficients
    assert model.bic == pytest.approx(-2 * ll + 16 * np.log(w.sum()), rel=1e-10)

    out = model.transform(df).toPandas()  # against the model's own parameters
    fitted_gate = np.column_stack([model.gateIntercepts, model.gateCoefficients])
    fitted_beta = np.column_stack([model.intercepts, model.coefficients])
    each = X @ fitted_beta.T
    np.testing.assert_allclose(
        out["prediction"], (gate_weights(Z, fitted_gate) * each).sum(axis=1), rtol=1e-11
    )
    posterior, _ = gated_responsibilities(X, y, Z, fitted_gate, fitted_beta, model.sigmas)
    np.testing.assert_allclose(np.stack(out["probability"]), posterior, rtol=1e-9, atol=1e-12)
    row = 5
    assert model.predict(X[row, 1:], gate=[Z[row, 1]]) == pytest.approx(
        out["prediction"][row], rel=1e-12
    )
    with pytest.raises(InputError, match="gateCol"):
        model.transform(df.drop("z")).collect()
    with pytest.raises(InputError, match="gateCol: weights that depend on covariates need k >= 2"):
        MixtureOfRegressions(k=1, gateCol="z").fit(df)

    theta = np.r_[np.column_stack([beta, sigmas]).ravel(), gate[1:].ravel()]
    cov = np.linalg.inv(-numerical_hessian(theta, X, Z, y, w, 3, of=gated_log_likelihood))
    np.testing.assert_allclose(
        model.summary.gateStandardErrors[1:].ravel(), np.sqrt(cov.diagonal()[12:]), rtol=1e-3
    )
    table = model.summary.table()
    assert "gate of component 2 (log-odds against component 0)" in table and "\nz " in table

    model.write().overwrite().save(str(tmp_path / "gated"))
    back = MixtureOfRegressionsModel.load(str(tmp_path / "gated"))
    np.testing.assert_array_equal(back.gateCoefficients, model.gateCoefficients)
    assert back.predict(X[row, 1:], gate=[Z[row, 1]]) == pytest.approx(
        out["prediction"][row], rel=1e-12
    )


def test_a_feature_can_also_drive_the_gate(spark):
    """y ~ x | x (flexmix's notation): the regime's odds grow with x itself; the planted gate
    (log-odds 2x of the second line) is found within three of its standard errors."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, 1500)
    second = rng.random(1500) < 1 / (1 + np.exp(-2 * x))
    y = np.where(second, 1 + 2 * x, -1 - x) + rng.normal(0, 0.3, 1500)
    df = spark.createDataFrame(
        [(float(a), float(b)) for a, b in zip(x, y)], "x double, label double"
    )
    model = MixtureOfRegressions(k=2, featuresCol=["x"], gateCol=["x"], nInit=1).fit(df)
    second_line = int(np.argmax(model.coefficients[:, 0]))
    sign = 1 if second_line == 1 else -1  # the gate is against component 0
    errors = model.summary.gateStandardErrors[1]
    assert abs(sign * model.gateCoefficients[1, 0] - 2.0) < 3 * errors[1]
    assert abs(sign * model.gateIntercepts[1]) < 3 * errors[0]
    assert model.coefficients[second_line, 0] == pytest.approx(2.0, abs=0.05)
