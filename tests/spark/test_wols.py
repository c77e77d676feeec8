"""Weighted least squares: kernels, solvers, loading, the job and the estimator."""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em import cli
from spark_em.cli import fit_wols
from spark_em.engine import ops as blk
from spark_em.errors import InputError
from spark_em.io import synthetic, table
from spark_em.kernels import wols
from spark_em.models import wols as regression


def make_values(n=3000, p=3, seed=0, scales=(1.0, 10.0, 0.1)):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * np.asarray(scales[:p])
    y = 2.0 + X @ np.arange(1.0, p + 1) + rng.normal(0, 0.3, n)
    w = rng.uniform(0.1, 5.0, n)
    return np.column_stack([y, w, X])


def parts(values):
    """The tests' rows [label, weight, features] as a block holds them: [label, features],
    and the weights apart."""
    return np.delete(values, 1, axis=1), values[:, 1]


def as_data(sc, values, partitions=2):
    rows, weights = parts(values)
    blocks = blk.from_array(sc, rows, num_partitions=partitions, block_rows=500, weights=weights)
    return table.RegressionData(blocks, [f"x{i}" for i in range(values.shape[1] - 2)], len(values))


def reference(values):
    """numpy's least squares on the √w-scaled rows (rcond 0: nothing truncated)."""
    X = np.column_stack([np.ones(len(values)), values[:, 2:]])
    root = np.sqrt(values[:, 1])
    return np.linalg.lstsq(X * root[:, None], values[:, 0] * root, rcond=0)[0]


def test_gradient_and_hessian_match_finite_differences():
    rows, w = parts(make_values(200))
    W = np.array([0.5, -1.0, 0.3, 2.0])
    stats = wols.normal_stats(rows, W, w)
    h = 1e-2  # f is quadratic: central differences are exact but for rounding
    for i in range(len(W)):
        e = np.zeros_like(W)
        e[i] = h
        up, down = wols.gradient_stats(rows, W + e, w), wols.gradient_stats(rows, W - e, w)
        assert (up.loss - down.loss) / (2 * h) == pytest.approx(stats.gradient[i], rel=1e-6)
        assert_allclose((up.gradient - down.gradient) / (2 * h), stats.hessian[i], rtol=1e-6)
    assert_allclose(wols.gradient_stats(rows, W, w).gradient, stats.gradient)
    # no weights: every row weighs 1
    assert_allclose(
        wols.normal_stats(rows, W).hessian, wols.normal_stats(rows, W, np.ones(len(w))).hessian
    )


@pytest.mark.parametrize("solver", ["qr", "newton", "normal"])
@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_exact_solvers_match_numpy(sc, solver, partitions):
    values = make_values()
    result = regression.fit(as_data(sc, values, partitions), solver)
    want = reference(values)
    assert result.intercept == pytest.approx(want[0], rel=1e-9)
    assert_allclose(result.coefficients, want[1:], rtol=1e-9)
    assert result.passes == (2 if solver == "newton" else 1)
    assert (
        result.gradient_norm
        < 1e-6
        * np.abs(wols.normal_stats(parts(values)[0], np.zeros(4), parts(values)[1]).gradient).max()
    )


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_qr_inference_and_robust_errors_match_statsmodels(sc, partitions):
    import statsmodels.api as sm

    values = make_values(1500)
    X = np.column_stack([np.ones(len(values)), values[:, 2:]])
    ref = sm.WLS(values[:, 0], X, weights=values[:, 1]).fit(cov_type="HC3", use_t=True)
    result = regression.fit(as_data(sc, values, partitions), "qr", cov_type="HC3")
    assert result.passes == 2  # the robust covariance's pass over the residuals
    out = result.inference
    assert_allclose(np.r_[result.intercept, result.coefficients], ref.params, rtol=1e-10)
    assert_allclose(out["standard_errors"], ref.bse, rtol=1e-8)
    assert_allclose(out["p_values"], ref.pvalues, rtol=1e-8, atol=1e-300)
    assert out["r2"] == pytest.approx(ref.rsquared, rel=1e-10)
    assert out["names"] == ["intercept", "x0", "x1", "x2"] and out["cov_type"] == "HC3"
    values[:, 3] = 7.0
    with pytest.raises(InputError, match=r"x1 is constant \(collinear with the intercept\)"):
        regression.fit(as_data(sc, values, partitions), "qr")


def test_gradient_descent_with_the_automatic_step(sc):
    values = make_values(2000, p=2, scales=(1.0, 1.0))  # well conditioned: few iterations
    want = reference(values)
    result = regression.fit(as_data(sc, values), "gd", step="auto", tol=1e-12, max_iter=500)
    assert result.converged and result.relative_gradient <= 1e-12
    assert_allclose(np.r_[result.intercept, result.coefficients], want, rtol=1e-8)
    assert all(b <= a * (1 + 1e-12) for a, b in zip(result.loss_history, result.loss_history[1:]))
    fixed = regression.fit(as_data(sc, values), "gd", step=0.05, stop="classic", max_iter=50)
    assert fixed.step == 0.05 and fixed.n_iter <= 50


def test_a_fixed_rate_with_the_classic_rule_is_the_classic_method(sc):
    """Plain gradient descent on f/Σw, W ← W − 0.05·∇f/Σw from 0, and the classic rule."""
    values = make_values(800, p=2, scales=(1.0, 1.0))
    X = np.column_stack([np.ones(len(values)), values[:, 2:]])
    y, w = values[:, 0], values[:, 1]
    W, iterations = np.zeros(3), 0
    while True:
        iterations += 1
        new = W - 0.05 * X.T @ (w * (X @ W - y)) / w.sum()
        moved = float((new - W) @ (new - W))
        W = new
        if moved < 1e-5:
            break
    result = regression.fit(as_data(sc, values), "gd", step=0.05, stop="classic", tol=1e-5)
    assert result.n_iter == iterations
    assert_allclose(np.r_[result.intercept, result.coefficients], W, rtol=1e-12)


def badly_scaled(n=200_000, seed=4):
    """Weighted rows whose three features have scales 1, 5 and 0.2, and a mean far from 0."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 5.0, 0.2] + [3.0, -2.0, 1.0]
    y = 1.0 + X @ [2.0, -1.0, 4.0] + rng.normal(0, 0.5, n)
    return np.column_stack([y, rng.uniform(0.2, 3.0, n), X])


def test_preconditioned_gd_reaches_the_optimum_and_never_claims_otherwise(sc):
    values = badly_scaled()
    want = reference(values)
    data = as_data(sc, values, 2)
    default = regression.fit(data, "gd", max_iter=1000)
    assert default.converged and default.stop == "gradient"
    assert_allclose(np.r_[default.intercept, default.coefficients], want, rtol=1e-6)
    # the classic rule stops where progress is slow; the run must not call that convergence
    classic = regression.fit(data, "gd", step=0.005, stop="classic", max_iter=300)
    assert abs(classic.coefficients[2] - want[3]) > 0.1
    assert not classic.converged and classic.relative_gradient > regression.SMALL_GRADIENT
    data.blocks.unpersist()


def test_equal_to_mllib_normal_solver_and_its_summary(spark):
    from pyspark.ml.linalg import Vectors
    from pyspark.ml.regression import LinearRegression

    values = make_values(2000)
    df = spark.createDataFrame(
        [(float(r[0]), float(r[1]), Vectors.dense(r[2:])) for r in values],
        ["label", "weight", "features"],
    )
    mllib = LinearRegression(weightCol="weight", solver="normal", regParam=0.0).fit(df)
    from spark_em.ml import WeightedLinearRegression

    ours = WeightedLinearRegression(weightCol="weight").fit(df)  # qr, the default
    assert ours.intercept == pytest.approx(mllib.intercept, rel=1e-8)
    assert_allclose(ours.coefficients.toArray(), mllib.coefficients.toArray(), rtol=1e-8)
    theirs, summary = mllib.summary, ours.summary
    for name in ("coefficientStandardErrors", "tValues", "pValues"):
        assert_allclose(
            getattr(summary, name), getattr(theirs, name), rtol=1e-6, atol=1e-12, err_msg=name
        )
    for name in (
        "rootMeanSquaredError",
        "meanSquaredError",
        "meanAbsoluteError",
        "explainedVariance",
    ):
        assert getattr(summary, name) == pytest.approx(getattr(theirs, name), rel=1e-8), name
    # R² around the weighted mean (statsmodels'); MLlib's weighted r2 scales its total sum of
    # squares by a variance's bias correction, so it is left out of the comparison
    y, w = values[:, 0], values[:, 1]
    residual = y - mllib.intercept - values[:, 2:] @ mllib.coefficients.toArray()
    tss = w @ (y - np.average(y, weights=w)) ** 2
    assert summary.r2 == pytest.approx(1 - w @ residual**2 / tss, rel=1e-10)
    assert summary.degreesOfFreedom == theirs.degreesOfFreedom == 1996
    residuals = [r.residuals for r in summary.residuals.collect()]
    assert_allclose(
        sorted(residuals),
        sorted(r.residuals for r in theirs.residuals.collect()),
        rtol=1e-7,
        atol=1e-9,
    )
    low, high = np.array(summary.confidenceIntervals(0.1)).T
    import scipy.stats

    half = scipy.stats.t.ppf(0.95, 1996) * np.array(theirs.coefficientStandardErrors)
    estimates = [*mllib.coefficients.toArray(), mllib.intercept]
    assert_allclose(low, estimates - half, rtol=1e-7)
    assert_allclose(high, estimates + half, rtol=1e-7)
    held_out = ours.evaluate(df.limit(500))
    assert held_out.numInstances == 500
    assert held_out.rootMeanSquaredError == pytest.approx(
        mllib.evaluate(df.limit(500)).rootMeanSquaredError, rel=1e-8
    )


def test_classic_data_same_for_any_partitioning(sc):
    a = synthetic.wols_experiment(sc, 250_000, num_partitions=1)
    b = synthetic.wols_experiment(sc, 250_000, num_partitions=3)
    assert_allclose(blk.to_local(a.blocks), blk.to_local(b.blocks), rtol=0)
    assert_allclose(blk.local_weights(a.blocks), blk.local_weights(b.blocks), rtol=0)
    x = blk.to_local(a.blocks)[:, 1]
    assert -4 <= x.min() and x.max() <= 4 and np.all(x != 0)
    assert_allclose(blk.local_weights(a.blocks), np.abs(1 / x))
    fa, fb = regression.fit(a), regression.fit(b)
    assert fa.intercept == pytest.approx(fb.intercept, rel=1e-12)
    a.blocks.unpersist()
    b.blocks.unpersist()


def write_csv(path, rows, header="y,w,x1,x2"):
    path.write_text(header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return str(path)


@pytest.mark.parametrize(
    "bad, message",
    [
        ("inf", "weight inf is not a finite number >= 0"),
        ("-1", "weight -1.0 is not a finite number >= 0"),
        ("nan", "weight nan is not a finite number >= 0"),
    ],
)
def test_bad_weights_stop_or_are_dropped(spark, tmp_path, bad, message):
    rows = [[1, 1, 0.5, 2], [2, 1, 1.5, 1], [3, bad, 2.5, 0], [4, 2, 3.5, 5], [5, 1, 0.1, 3]]
    path = write_csv(tmp_path / "d.csv", rows)
    with pytest.raises(InputError, match=rf"d\.csv row 3: {message}"):
        table.read_table(spark, path, "y", "w", ["x1", "x2"])
    data = table.read_table(spark, path, "y", "w", ["x1", "x2"], drop_bad_weights=True)
    assert (data.n_rows, data.dropped) == (4, 1)


def test_other_bad_input(spark, sc, tmp_path):
    path = write_csv(tmp_path / "t.csv", [[1, 1, 0.5, 2], [2, 1, "abc", 1]])
    with pytest.raises(InputError, match=r"t\.csv row 2: column 'x1': 'abc' is not a number"):
        table.read_table(spark, path, "y", "w", ["x1", "x2"])
    path = write_csv(tmp_path / "m.csv", [[1, 1, 0.5, 2]])
    with pytest.raises(InputError, match="no column 'x3'"):
        table.read_table(spark, path, "y", "w", ["x1", "x3"])
    values = make_values(100, p=2)
    values[:, 3] = 7.0  # a constant feature: collinear with the intercept
    with pytest.raises(
        InputError, match=r"singular: x1 is constant \(collinear with the intercept\)"
    ):
        regression.fit(as_data(sc, values), "normal")
    with pytest.raises(InputError, match="no such file"):
        table.read_table(spark, str(tmp_path / "none.csv"), "y", "w", ["x1"])


def test_parquet_input(spark, tmp_path):
    values = make_values(500, p=2)
    df = spark.createDataFrame([tuple(map(float, r)) for r in values], ["y", "w", "a", "b"])
    df.write.parquet(str(tmp_path / "d.parquet"))
    data = table.read_table(spark, str(tmp_path / "d.parquet"), "y", "w", ["a", "b"])
    result = regression.fit(data, "normal")
    assert_allclose(np.r_[result.intercept, result.coefficients], reference(values), rtol=1e-9)


def test_job_on_the_classic_data(spark, tmp_path, capsys):
    out = tmp_path / "wols"
    assert (
        cli.main_wrapper(fit_wols.main, ["--rows", "200000", "--solver", "gd", "--out", str(out)])
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["solver"] == "gd" and metrics["n_rows"] == 200000 and metrics["step"] > 0
    assert abs(metrics["coefficients"][0] - 1.0) < 0.05
    assert metrics["sample_fit"]["rows"] == pytest.approx(2000, rel=0.15)
    assert {p.name for p in out.iterdir()} == {
        "metrics.json",
        "model.json",
        "fit.png",
        "loss.png",
        "_SPARK_EM_OUTPUT",
    }
    assert "gd iter    1  loss" in capsys.readouterr().err
    model = json.loads((out / "model.json").read_text())
    assert model["coefficients"] == metrics["coefficients"]


def test_job_on_a_users_file(spark, tmp_path, capsys):
    values = make_values(400, p=2)
    path = write_csv(tmp_path / "u.csv", values.tolist())
    status = cli.main_wrapper(
        fit_wols.main,
        [
            "--input",
            path,
            "--label",
            "y",
            "--weight",
            "w",
            "--features",
            "x1,x2",
            "--solver",
            "normal",
        ],
    )
    assert status == 0
    metrics = json.loads(capsys.readouterr().out)
    assert_allclose([metrics["intercept"], *metrics["coefficients"]], reference(values), rtol=1e-9)
    assert cli.main_wrapper(fit_wols.main, ["--input", path, "--features", "x1,nope"]) == 2


def test_job_reports_the_inference_as_statsmodels(spark, tmp_path, capsys):
    import statsmodels.api as sm

    values = make_values(400, p=2)
    path = write_csv(tmp_path / "s.csv", values.tolist())
    out = tmp_path / "fit"
    status = cli.main_wrapper(
        fit_wols.main,
        [
            "--input",
            path,
            "--features",
            "x1,x2",
            "--no-intercept",
            "--cov-type",
            "HC1",
            "--out",
            str(out),
        ],
    )
    assert status == 0
    captured = capsys.readouterr()
    metrics = json.loads(captured.out)
    assert metrics == json.loads((out / "metrics.json").read_text())
    ref = sm.OLS(values[:, 0], values[:, 2:]).fit(cov_type="HC1", use_t=True)  # no --weight: 1
    assert metrics["intercept"] == 0.0 and metrics["cov_type"] == "HC1"
    assert_allclose(metrics["coefficients"], ref.params, rtol=1e-10)
    for ours, theirs in (
        ("standard_errors", ref.bse),
        ("t_values", ref.tvalues),
        ("p_values", ref.pvalues),
        ("confidence_intervals", ref.conf_int()),
        ("r2", ref.rsquared),
        ("r2_adj", ref.rsquared_adj),
        ("f_statistic", ref.fvalue),
        ("condition_number", ref.condition_number),
        ("residual_standard_error", np.sqrt(ref.scale)),
    ):
        assert_allclose(metrics[ours], theirs, rtol=1e-8, atol=1e-300, err_msg=ours)
    assert metrics["degrees_of_freedom"] == 398
    note, header, first = captured.err.splitlines()[:3]
    assert note.startswith("note: no --weight given, so every row weighs 1")
    assert header.split()[:4] == ["coef", "std", "err", "t"] and first.split()[0] == "x1"
    assert (
        cli.main_wrapper(
            fit_wols.main,
            ["--input", path, "--features", "x1", "--solver", "normal", "--cov-type", "HC0"],
        )
        == 2
    )
    assert "--cov-type HC0 (standard errors) needs the qr solver" in capsys.readouterr().err


def test_vectors_of_another_width_are_refused_naming_the_row(spark):
    from pyspark.ml.linalg import Vectors, VectorUDT
    from pyspark.sql.types import DoubleType, StructField, StructType

    schema = StructType([StructField("label", DoubleType()), StructField("features", VectorUDT())])
    rows = [
        (1.0, Vectors.dense([1.0, 2.0])),
        (2.0, Vectors.dense([2.0, 1.0])),
        (3.0, Vectors.dense([1.0, 0.0, 5.0])),
        (4.0, Vectors.dense([0.5, 3.0])),
    ]
    df = spark.createDataFrame(rows, schema).coalesce(1)
    with pytest.raises(
        InputError, match="row 3: column 'features': 3 values, expected 2 as on the rows before"
    ):
        table.from_dataframe(df, "label", None, ["features"])
    nulls = spark.createDataFrame([(1.0, None), (2.0, None)], schema)
    with pytest.raises(InputError, match="row 1: column 'features' is empty"):
        table.from_dataframe(nulls, "label", None, ["features"])
    empty = spark.createDataFrame([(1.0, Vectors.dense([])), (2.0, Vectors.dense([]))], schema)
    with pytest.raises(InputError, match="column 'features' holds no features"):
        table.from_dataframe(empty, "label", None, ["features"])


def test_estimator_round_trip(spark, tmp_path):
    from pyspark.ml.linalg import Vectors

    from spark_em.ml import WeightedLinearRegression, WeightedLinearRegressionModel

    values = make_values(600, p=2, scales=(1.0, 1.0))
    df = spark.createDataFrame(
        [(i, float(r[0]), float(r[1]), Vectors.dense(r[2:])) for i, r in enumerate(values)],
        ["id", "y", "w", "features"],
    )
    est = WeightedLinearRegression(labelCol="y", weightCol="w", solver="gd", maxIter=500)
    assert (est.getSolver(), est.getStepSize(), est.getLabelCol()) == ("gd", 0.0, "y")
    model = est.fit(df)
    assert_allclose(
        np.r_[model.intercept, model.coefficients.toArray()], reference(values), rtol=1e-6
    )
    assert model.summary.passes >= model.summary.numIter and model.summary.converged
    model.save(str(tmp_path / "m"))
    loaded = WeightedLinearRegressionModel.load(str(tmp_path / "m"))
    assert loaded.summary == model.summary
    a = [r.prediction for r in model.transform(df).orderBy("id").collect()]
    b = [r.prediction for r in loaded.transform(df).orderBy("id").collect()]
    assert a == b
    assert_allclose(a, model.intercept + values[:, 2:] @ model.coefficients.toArray(), rtol=1e-12)


@pytest.mark.parametrize("backend", ["rdd", "dataframe"])
def test_the_estimators_one_pass_fit_is_statsmodels_for_any_partitioning(spark, backend):
    """The default fit (qr, model-based errors) reads the DataFrame once, nothing cached: the
    same fit and errors as statsmodels' WLS whatever the partitions, and a bad row named by
    its place in the whole DataFrame."""
    import statsmodels.api as sm
    from pyspark.ml.feature import VectorAssembler

    from spark_em.ml import WeightedLinearRegression

    values = make_values(1200)
    X = np.column_stack([np.ones(len(values)), values[:, 2:]])
    ref = sm.WLS(values[:, 0], X, weights=values[:, 1]).fit()
    names = ["y", "w", "a", "b", "c"]
    assembler = VectorAssembler(inputCols=["a", "b", "c"], outputCol="features")

    def frame(rows):  # two partitions, in the rows' order
        return assembler.transform(
            spark.createDataFrame([tuple(map(float, r)) for r in rows], names)
        )

    estimator = WeightedLinearRegression(labelCol="y", weightCol="w", backend=backend)
    df = frame(values)
    for partitions in (1, 3, 8):
        model = estimator.fit(df.repartition(partitions))
        assert_allclose(
            np.r_[model.intercept, model.coefficients.toArray()], ref.params, rtol=1e-10
        )
        # MLlib's order: the intercept's last
        assert_allclose(
            model.summary.coefficientStandardErrors, np.r_[ref.bse[1:], ref.bse[0]], rtol=1e-8
        )
        assert model.summary.numInstances == len(values)
    bad = values.copy()
    bad[700, 3] = np.inf  # feature 'b' of row 701, in the second partition
    with pytest.raises(InputError, match=r"row 701: column 'b': "):
        estimator.fit(frame(bad))
