"""Missing values as users meet them: the estimator's ``missingValue`` and ``imputed`` column,
and ``fit_gmm.py --missing nan`` with ``--gold`` and ``--out``; the expected values come from
the per-row reference (``tests/helpers/missing_reference``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em import cli
from spark_em.cli import fit_gmm
from spark_em.ml import GaussianMixture, GaussianMixtureModel
from tests.helpers import missing_reference


@pytest.fixture(scope="module")
def complete():
    rng = np.random.default_rng(21)
    centres = np.array([[0.0, 0, 0], [5, 5, 0], [0, 6, 6]])
    return np.vstack([rng.normal(c, 1.0, size=(150, 3)) for c in centres])


@pytest.fixture(scope="module")
def holes(complete):
    X = complete.copy()
    X[np.random.default_rng(5).random(X.shape) < 0.25] = np.nan
    X[7] = np.nan
    return X


def test_estimator_fits_and_imputes(spark, holes, tmp_path):
    frame = spark.createDataFrame(
        [([None if np.isnan(v) else float(v) for v in row],) for row in holes],
        "features array<double>",
    )
    model = GaussianMixture(k=3, covarianceType="diag", seed=0, missingValue="nan").fit(frame)
    mixture = (model.weights, model.means, model.covariances, "diag")
    ll, resp, imputed, _ = missing_reference.estep(holes, *mixture[:4])
    rows = model.transform(frame).collect()
    assert_allclose(np.array([r.probability.toArray() for r in rows]), resp, rtol=1e-8, atol=1e-12)
    assert_allclose(np.array([r.imputed.toArray() for r in rows]), imputed, rtol=1e-10)
    observed_ll = np.array([r.logLikelihood for r in rows])
    assert observed_ll.sum() == pytest.approx(ll, rel=1e-9)
    model.save(str(tmp_path / "m"))
    loaded = GaussianMixtureModel.load(str(tmp_path / "m"))
    assert loaded.getMissingValue() == "nan"
    assert_allclose(
        np.array([r.imputed.toArray() for r in loaded.transform(frame).collect()]),
        imputed,
        rtol=1e-10,
    )


def test_zero_as_the_marker_and_nan_refused_without_one(spark, holes):
    zeros = np.nan_to_num(holes, nan=0.0)
    frame = spark.createDataFrame([(row.tolist(),) for row in zeros], "features array<double>")
    by_zero = GaussianMixture(k=3, seed=0, missingValue="zero").fit(frame)
    nan_frame = spark.createDataFrame([(row.tolist(),) for row in holes], "features array<double>")
    by_nan = GaussianMixture(k=3, seed=0, missingValue="nan").fit(nan_frame)
    assert_allclose(by_zero.means, by_nan.means, rtol=1e-10)
    with pytest.raises(Exception, match="is not a finite number"):
        GaussianMixture(k=3, seed=0).fit(nan_frame)
    with pytest.raises(Exception, match="fit with missingValue='nan'"):
        GaussianMixture(k=3, seed=0).fit(frame).transform(nan_frame).collect()


def test_job_writes_imputations_and_scores_them(spark, complete, holes, tmp_path, capsys):
    data, gold = tmp_path / "holes.csv", tmp_path / "complete.csv"
    data.write_text(
        "\n".join(",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in holes)
        + "\n"
    )
    np.savetxt(gold, complete, delimiter=",")
    out = tmp_path / "run"
    status = cli.main_wrapper(
        fit_gmm.main,
        [
            "--input",
            str(data),
            "--format",
            "csv",
            "--missing",
            "nan",
            "--covariance",
            "full",
            "--k",
            "2,3",
            "--init",
            "kmeans++",
            "--gold",
            str(gold),
            "--out",
            str(out),
        ],
    )
    assert status == 0
    metrics = json.loads((out / "metrics.json").read_text())
    n_with_values = int((~np.isnan(holes)).any(axis=1).sum())
    for candidate in metrics["candidates"]:
        k, d = candidate["k"], holes.shape[1]
        free = (k - 1) + k * d + k * d * (d + 1) // 2
        assert candidate["bic"] == pytest.approx(
            -2 * candidate["log_likelihood"] + free * np.log(n_with_values), rel=1e-12
        )
    assert metrics["k"] == min(metrics["candidates"], key=lambda c: c["bic"])["k"]
    assert metrics["n_missing_values"] == int(np.isnan(holes).sum())
    assert metrics["n_rows_all_missing"] == int(np.isnan(holes).all(axis=1).sum()) > 0
    model = json.loads((out / "model.json").read_text())
    mixture = (
        np.array(model["weights"]),
        np.array(model["means"]),
        np.array(model["covariances"]),
        "full",
    )
    ll, _, imputed, _ = missing_reference.estep(holes, *mixture[:4])
    assert metrics["log_likelihood"] == pytest.approx(ll, rel=1e-5)  # one M-step apart
    missing = np.isnan(holes)
    assert metrics["rmse_missing"] == pytest.approx(
        np.sqrt(np.mean((imputed[missing] - complete[missing]) ** 2)), rel=1e-8
    )
    rows = spark.read.parquet(str(out / "imputed")).orderBy("row").collect()
    assert_allclose(np.array([r.imputed for r in rows]), imputed, rtol=1e-8)
    status = cli.main_wrapper(
        fit_gmm.main,
        [
            "--input",
            str(data),
            "--format",
            "csv",
            "--missing",
            "nan",
            "--model",
            "kmeans",
            "--k",
            "3",
            "--out",
            str(tmp_path / "km"),
        ],
    )
    assert status == 2
    assert "K-means needs complete data" in capsys.readouterr().err
    assert not (tmp_path / "km").exists()


@pytest.mark.filterwarnings("ignore::spark_em.errors.ConvergenceWarning")  # six passes, tol 0
@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
def test_integer_weights_with_missing_values_equal_repeated_rows(spark, kind):
    """Rows with NaN and integer weights fit as the same rows repeated that many times: the
    same mixture after every pass from the same start, whatever the covariance type; the
    default k-means++ start draws weighted rows too."""
    rng = np.random.default_rng(8)
    X = np.vstack([rng.normal(c, 0.7, (25, 3)) for c in ([0, 0, 0], [4, 3, 1])])
    X[rng.random(X.shape) < 0.2] = np.nan
    X[3] = np.nan  # a row with nothing observed: no weight in any sum
    w = rng.integers(1, 4, len(X)).astype(float)
    weighted = spark.createDataFrame(
        [([float(v) for v in x], float(m)) for x, m in zip(X, w)], ["features", "w"]
    )
    repeated = spark.createDataFrame(
        [([float(v) for v in x],) for x, m in zip(X, w) for _ in range(int(m))], ["features"]
    )
    covariances = {
        "full": [np.eye(3).tolist()] * 2,
        "tied": np.eye(3).tolist(),
        "diag": [[1.0] * 3] * 2,
        "spherical": [1.0, 1.0],
    }[kind]
    start = {
        "weights": [0.5, 0.5],
        "means": [[0.5, 0.0, 0.2], [3.5, 3.0, 1.0]],
        "covariances": covariances,
        "covarianceType": kind,
    }
    options = dict(k=2, covarianceType=kind, missingValue="nan", maxIter=6, tol=0.0)
    by_weight = GaussianMixture(**options, weightCol="w", initialModel=start).fit(weighted)
    by_rows = GaussianMixture(**options, initialModel=start).fit(repeated)
    assert_allclose(by_weight.weights, by_rows.weights, rtol=1e-10)
    assert_allclose(by_weight.means, by_rows.means, rtol=1e-10, atol=1e-12)
    assert_allclose(by_weight.covariances, by_rows.covariances, rtol=1e-9, atol=1e-12)
    assert by_weight.summary.logLikelihood == pytest.approx(
        by_rows.summary.logLikelihood, rel=1e-11
    )
    assert by_weight.summary.numRows == pytest.approx(w.sum() - w[3])
    if kind == "diag":  # the default start on weighted rows with holes fits too
        seeded = GaussianMixture(k=2, missingValue="nan", weightCol="w", seed=1).fit(weighted)
        assert np.isfinite(seeded.summary.logLikelihood)
