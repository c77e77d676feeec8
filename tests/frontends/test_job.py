"""jobs/fit_gmm.py as a user runs it: outputs, refusals, errors and the built-in default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em import cli
from spark_em.cli import fit_gmm
from spark_em.errors import InputError
from tests.helpers import reference
from tests.helpers.course import course_bic, course_em

ROOT = Path(__file__).resolve().parents[2]


def run_job(*args):
    return cli.main_wrapper(fit_gmm.main, [str(a) for a in args])


def test_course_example_outputs(spark, netflix_dir, tmp_path, capsys):
    ref = reference.load(netflix_dir / "test_solutions.txt")
    out = tmp_path / "run"
    status = run_job(
        "--input",
        netflix_dir / "test_incomplete.txt",
        "--k",
        "4",
        "--seeds",
        "0",
        "--gold",
        netflix_dir / "test_complete.txt",
        "--out",
        out,
        "--output-format",
        "text",
    )
    assert status == 0
    captured = capsys.readouterr()
    assert "k=4 seed=0 iter    1  log-likelihood -152.163192262" in captured.err
    assert json.loads(captured.out)["log_likelihood"] == pytest.approx(ref["run"]["ll"], rel=1e-8)
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["k"], metrics["seed"], metrics["converged"]) == (4, 0, True)
    assert metrics["log_likelihood"] == pytest.approx(ref["run"]["ll"], rel=1e-8)
    assert metrics["rmse"] == pytest.approx(ref["rmse"], rel=1e-8)
    gold = np.loadtxt(netflix_dir / "test_complete.txt")
    missing = np.loadtxt(netflix_dir / "test_incomplete.txt") == 0
    assert metrics["rmse_missing"] == pytest.approx(
        np.sqrt(((ref["X_pred"] - gold)[missing] ** 2).mean()), rel=1e-7
    )
    assert [r["seed"] for r in metrics["runs"]] == [0]
    model = json.loads((out / "model.json").read_text())
    assert_allclose(model["means"], ref["run"]["mu"], atol=1e-8)
    assert_allclose(model["variances"], ref["run"]["var"], atol=1e-8)
    assert_allclose(np.load(out / "completed.npy"), ref["X_pred"], atol=1e-8)
    assert_allclose(np.loadtxt(out / "completed.txt"), ref["X_pred"], atol=1e-8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary left behind


def test_several_k_and_seeds_reported(spark, netflix_dir, tmp_path, capsys):
    status = run_job(
        "--input",
        netflix_dir / "test_incomplete.txt",
        "--k",
        "1,3-4",
        "--seeds",
        "0-2",
        "--out",
        tmp_path / "o",
    )
    assert status == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert [(r["k"], r["seed"]) for r in metrics["runs"]] == [
        (k, s) for k in (1, 3, 4) for s in (0, 1, 2)
    ]
    best = max(metrics["runs"], key=lambda r: r["log_likelihood"])
    assert (metrics["k"], metrics["seed"]) == (best["k"], best["seed"])
    assert set(metrics["best_by_k"]) == {"1", "3", "4"}


def test_existing_output_refused_then_overwritten(spark, netflix_dir, tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["--input", netflix_dir / "test_incomplete.txt", "--k", "2", "--out", out]
    assert run_job(*args) == 2
    assert "exists" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    assert run_job(*args, "--overwrite") == 2  # not a spark-em output: kept
    assert "a spark-em job did not write it" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    (out / "keep.txt").unlink()
    out.rmdir()
    assert run_job(*args) == 0
    (out / "completed.npy").write_bytes(b"stale")  # shows the overwrite replaced the output
    assert run_job(*args, "--overwrite") == 0  # an earlier output of the job: replaced
    assert sorted(p.name for p in out.iterdir()) == [
        "_SPARK_EM_OUTPUT",
        "completed.npy",
        "metrics.json",
        "model.json",
    ]
    assert np.load(out / "completed.npy").shape == (20, 5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--k", "0-"], "--k: '0-' is not a number"),
        (["--seeds", "a"], "--seeds: 'a' is not a number"),
        (["--k", "30"], "--k 30 is larger than the number of rows (20)"),
        (["--max-iter", "0"], "--max-iter must be >= 1"),
        (["--k", "4,0"], "--k values must be >= 1"),
        (["--seeds", "4294967296"], "--seeds must be in 0..4294967295"),
        (["--tol", "nan"], "--tol must be a number >= 0"),
        (["--factors", "2"], "--factors goes with --covariance factor"),
    ],
)
def test_bad_options_leave_nothing(spark, netflix_dir, tmp_path, capsys, args, message):
    out = tmp_path / "o"
    assert run_job("--input", netflix_dir / "test_incomplete.txt", *args, "--out", out) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_the_job_says_which_model_it_fits(spark, tmp_path, capsys):
    """A complete CSV is never fitted as ratings by default: refused in one line with the fix;
    --model gaussian (or the older --missing none) fits it; contradicting flags are refused."""
    rng = np.random.default_rng(4)
    path = tmp_path / "complete.csv"
    np.savetxt(path, rng.uniform(1.0, 5.0, size=(40, 13)), delimiter=",")  # all observed
    out = tmp_path / "o"
    assert run_job("--input", path, "--k", "2", "--out", out) == 2
    err = capsys.readouterr().err
    assert "has no missing entry (no 0)" in err and "--model gaussian" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
    assert run_job("--input", path, "--k", "2", "--missing", "zero") == 2  # explicit: the same
    assert "has no missing entry" in capsys.readouterr().err
    for flags in (["--model", "gaussian"], ["--missing", "none"]):
        assert run_job("--input", path, "--k", "2", *flags) == 0
        metrics = json.loads(capsys.readouterr().out)
        assert metrics["model"] == "gmm" and "bic" in metrics
    for flags, message in [
        (["--model", "ratings", "--missing", "none"], "goes with --missing zero"),
        (["--model", "kmeans", "--missing", "zero"], "takes --missing none or nan"),
        (["--model", "ratings", "--init", "random"], "ratings take reference or kmeans++"),
        (["--model", "gaussian", "--prior-strength", "1"], "is for --model ratings"),
    ]:
        assert run_job("--input", path, *flags) == 2
        assert message in capsys.readouterr().err


def test_ratings_from_the_sparse_start_with_a_prior(spark, netflix_dir, tmp_path, capsys):
    """--init kmeans++ --prior-strength 1, the recommender's defaults, in the job: every mean
    within the ratings' range, every component populated, no warning, and the reported
    log-likelihood the data's under the written model (not the objective with the prior)."""
    from scipy.special import logsumexp

    X = np.loadtxt(netflix_dir / "netflix_incomplete.txt")
    out = tmp_path / "o"
    args = ["--input", netflix_dir / "netflix_incomplete.txt", "--k", "6", "--max-iter", "20"]
    assert run_job(*args, "--init", "kmeans++", "--prior-strength", "1", "--out", out) == 0
    captured = capsys.readouterr()
    metrics = json.loads(captured.out)
    assert metrics["warnings"] == [] and "warning:" not in captured.err
    model = json.loads((out / "model.json").read_text())
    means, var, p = (np.array(model[k]) for k in ("means", "variances", "weights"))
    # weighted averages of ratings in [1, 5] (to rounding: a sum may land an ulp outside)
    assert 1 - 1e-12 <= means.min() and means.max() <= 5 + 1e-12
    assert (p * X.shape[0] >= 1).all()
    observed = X > 0
    log = np.log(p)[None, :] + np.stack(
        [
            (observed * (-0.5 * np.log(2 * np.pi * v) - (X - m) ** 2 / (2 * v))).sum(axis=1)
            for m, v in zip(means, var)
        ],
        axis=1,
    )
    assert metrics["log_likelihood"] == pytest.approx(logsumexp(log, axis=1).sum(), rel=1e-9)


def test_a_matrix_with_nothing_observed(spark, tmp_path, capsys):
    path = tmp_path / "zeros.txt"
    path.write_text("0 0 0\n0 0 0\n")
    assert run_job("--input", path, "--k", "1", "--out", tmp_path / "o") == 2
    assert "no observed (non-zero) entries" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_int_lists():
    assert cli.int_list("3", "--k") == [3]
    assert cli.int_list("1,12", "--k") == [1, 12]
    assert cli.int_list("0-4", "--k") == [0, 1, 2, 3, 4]
    assert cli.int_list("1, 3-5", "--k") == [1, 3, 4, 5]
    for bad in ["", "4-2", "1,,2", "x", "1-2-3"]:
        with pytest.raises(InputError):
            cli.int_list(bad, "--k")


def test_builtin_default_is_scored_against_the_planted_truth(spark, capsys):
    assert run_job("--max-iter", "50") == 0
    metrics = json.loads(capsys.readouterr().out)
    assert (metrics["n_rows"], metrics["n_cols"], metrics["k"]) == (1200, 1200, 12)
    # The planted ratings are integers; a completion this far off would be no better than
    # guessing the middle rating.
    assert 0 < metrics["rmse_missing"] < 1.2
    assert metrics["rmse"] < metrics["rmse_missing"]


def submit(*args, cwd=ROOT):
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "spark-submit"),
            "--properties-file",
            str(ROOT / "spark-defaults.conf"),
            "--master",
            "local[2]",
            "--driver-java-options",
            f"-Dlog4j2.configurationFile=file:{ROOT / 'spark_em/conf/log4j2.properties'}",
            str(ROOT / "jobs" / "fit_gmm.py"),
            *map(str, args),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


def test_spark_submit_success_and_bad_input(netflix_dir, tmp_path):
    ok = submit(
        "--input",
        netflix_dir / "test_incomplete.txt",
        "--k",
        "4",
        "--seeds",
        "0",
        "--out",
        tmp_path / "ok",
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads((tmp_path / "ok" / "metrics.json").read_text())["n_iter"] > 1

    bad = tmp_path / "bad.txt"
    bad.write_text("1 2 3\n4 5\n")
    failed = submit("--input", bad, "--k", "1", "--out", tmp_path / "never")
    assert failed.returncode == 2
    console = failed.stdout + failed.stderr  # spark-submit merges the driver's stderr into stdout
    assert f"error: {bad} line 2: 2 values, expected 3" in console
    assert "Traceback" not in console and "at org.apache" not in console
    assert not (tmp_path / "never").exists()


def test_complete_data_selects_k_by_bic(spark, netflix_dir, tmp_path, capsys):
    X = np.loadtxt(netflix_dir / "toy_data.txt")
    out = tmp_path / "toy"
    status = run_job(
        "--input",
        netflix_dir / "toy_data.txt",
        "--missing",
        "none",
        "--covariance",
        "spherical",
        "--reg-covar",
        "0",
        "--k",
        "1-4",
        "--seeds",
        "0-4",
        "--select",
        "bic",
        "--out",
        out,
    )
    assert status == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert [c["k"] for c in metrics["candidates"]] == [1, 2, 3, 4]
    assert len(metrics["runs"]) == 20
    n, d = X.shape
    bics = {
        k: max(course_bic(course_em(X, k, s)[0], k, d, n) for s in range(5)) for k in range(1, 5)
    }
    assert metrics["k"] == max(bics, key=bics.get)
    for candidate in metrics["candidates"]:
        assert candidate["course_bic"] == pytest.approx(bics[candidate["k"]], rel=1e-9)
        assert candidate["bic"] == pytest.approx(-2 * bics[candidate["k"]], rel=1e-9)
    model = json.loads((out / "model.json").read_text())
    assert model["covariance_type"] == "spherical" and len(model["means"]) == metrics["k"]
    assert (out / "fit.png").stat().st_size > 10_000
    assert "log-likelihood" in capsys.readouterr().err


def test_demo_blobs_recovers_the_three_centres(spark, tmp_path, capsys):
    out = tmp_path / "demo"
    assert run_job("--demo", "blobs", "--init", "kmeans++", "--out", out) == 0
    model = json.loads((out / "model.json").read_text())
    means = np.array(sorted(model["means"]))
    assert_allclose(means, [[0, 4], [4, 0], [6, 6]], atol=0.15)
    assert_allclose(sorted(model["weights"]), [1 / 3] * 3, atol=0.02)
    assert (out / "fit.png").stat().st_size > 10_000


def test_factor_mixtures_compared_by_bic_in_the_job(spark, tmp_path, capsys):
    """The blobs have identity covariances: no factor beats one, and with none the mixture of
    factor analysers is the diagonal one."""
    factor_out, diag_out = tmp_path / "factor", tmp_path / "diag"
    common = ["--demo", "blobs", "--init", "kmeans++", "--max-iter", "30", "--tol", "0"]
    assert run_job(*common, "--covariance", "factor", "--factors", "0-1", "--out", factor_out) == 0
    assert run_job(*common, "--covariance", "diag", "--out", diag_out) == 0
    metrics = json.loads((factor_out / "metrics.json").read_text())
    diag = json.loads((diag_out / "metrics.json").read_text())
    assert [(c["k"], c["n_factors"]) for c in metrics["candidates"]] == [(3, 0), (3, 1)]
    assert metrics["n_factors"] == 0 and metrics["covariance_type"] == "factor"
    assert_allclose(metrics["log_likelihood"], diag["log_likelihood"], rtol=1e-10)
    assert metrics["bic"] < metrics["candidates"][1]["bic"]
    model = json.loads((factor_out / "model.json").read_text())
    assert np.shape(model["loadings"]) == (3, 2, 0) and model["n_factors"] == 0


def test_triples_with_string_ids_predict_and_recommend(spark, tmp_path, capsys):
    import pandas as pd

    from spark_em.kernels import masked

    rng = np.random.default_rng(4)
    X = rng.integers(1, 6, size=(40, 12)).astype(float)
    X[rng.random(X.shape) < 0.5] = 0
    X[:, 0] = np.where(X[:, 0] == 0, 2.0, X[:, 0])
    users = np.array([f"u{i:02d}" for i in range(40)])
    items = np.array([f"m{j:02d}" for j in range(12)])
    r, c = np.nonzero(X)
    pd.DataFrame({"who": users[r], "what": items[c], "stars": X[r, c]}).to_csv(
        tmp_path / "ratings.csv", index=False
    )
    pd.DataFrame({"who": ["u03", "nobody"], "what": ["m05", "m01"]}).to_csv(
        tmp_path / "pairs.csv", index=False
    )
    out = tmp_path / "o"  # as a URI: through Hadoop's FileSystem, as s3a:// or dbfs:/ would be
    status = run_job(
        "--input",
        tmp_path / "ratings.csv",
        "--format",
        "triples",
        "--user-col",
        "who",
        "--item-col",
        "what",
        "--rating-col",
        "stars",
        "--k",
        "2",
        "--predict",
        tmp_path / "pairs.csv",
        "--recommend",
        "3",
        "--block-rows",
        "8",
        "--output-format",
        "text",
        "--out",
        out.as_uri(),
    )
    assert status == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["n_rows"], metrics["n_cols"], metrics["n_ratings"]) == (40, 12, len(r))
    model = json.loads((out / "model.json").read_text())
    mix = masked.SphericalMixture(
        **{name: np.array(model[name]) for name in ("weights", "means", "variances")}
    )
    assert list(np.load(out / "users.npy")) == list(users)
    full = masked.complete(X, mix)  # ids sort like the rows here
    assert_allclose(np.load(out / "completed.npy"), full, rtol=1e-12)
    assert_allclose(np.loadtxt(out / "completed.txt"), full, rtol=1e-9)  # 5 blocks, any order
    predictions = pd.read_parquet(out / "predictions").set_index("who")
    assert predictions.loc["u03", "prediction"] == pytest.approx(
        float(masked.posterior(X[3:4], mix)[0][0] @ mix.means[:, 5]), rel=1e-12
    )
    assert predictions.loc["nobody", "prediction"] == pytest.approx(
        float(mix.weights @ mix.means[:, 1]), rel=1e-12
    )
    recs = pd.read_parquet(out / "recommendations").set_index("user")
    row = np.where(X[7] == 0, full[7], -np.inf)
    expected = [items[j] for j in np.argsort(-row, kind="stable")[:3] if np.isfinite(row[j])]
    assert [e["item"] for e in recs.loc["u07", "recommendations"]] == expected

    again = tmp_path / "again"  # the saved model, no fit: the same outputs
    again.mkdir()
    (again / "old.txt").write_text("replaced")
    saved = [
        "--input",
        tmp_path / "ratings.csv",
        "--format",
        "triples",
        "--user-col",
        "who",
        "--item-col",
        "what",
        "--rating-col",
        "stars",
        "--from-model",
        f"file:{out}",
        "--recommend",
        "3",
        "--out",
        again.as_uri(),
    ]
    assert run_job(*saved) == 2
    assert "exists; choose another directory or add --overwrite" in capsys.readouterr().err
    assert run_job(*saved, "--overwrite") == 2  # it holds a file no job wrote
    assert "a spark-em job did not write it" in capsys.readouterr().err
    (again / "old.txt").unlink()
    again.rmdir()
    assert run_job(*saved) == 0
    assert run_job(*saved, "--overwrite") == 0
    assert not (again / "old.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "o", "pairs.csv", "ratings.csv"]
    assert json.loads((again / "metrics.json").read_text())["n_iter"] == 0
    assert_allclose(
        np.load(again / "completed.npy"), np.load(out / "completed.npy"), rtol=0, atol=0
    )
    assert (
        pd.read_parquet(again / "recommendations")
        .set_index("user")
        .loc["u07", "recommendations"]
        .tolist()
        == recs.loc["u07", "recommendations"].tolist()
    )


def test_triples_bad_record_exits_2_with_one_line(spark, tmp_path, capsys):
    (tmp_path / "r.csv").write_text("user,item,rating\n1,1,4\n2,1,3\n1,1,5\n")
    status = run_job(
        "--input", tmp_path / "r.csv", "--format", "triples", "--k", "1", "--out", tmp_path / "o"
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1
    assert "user 1 item 1 is rated more than once (4 and 5)" in err[0]
    assert not (tmp_path / "o").exists()


def test_weight_column_in_csv_and_parquet(spark, tmp_path, capsys):
    """--weight from CSV and from Parquet: integer weights reach the optimum of the rows
    repeated (the reference: the same job on a CSV with the rows repeated; the seeding draws
    differ, the optimum does not)."""
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(c, 1.0, size=(60, 2)) for c in ([0, 0], [6, 6], [0, 7])])
    w = rng.integers(1, 4, size=len(X))
    weighted, repeated = tmp_path / "w.csv", tmp_path / "r.csv"
    weighted.write_text("x,y,w\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(X.tolist(), w)))
    repeated.write_text("x,y\n" + "".join(f"{a},{b}\n" for a, b in np.repeat(X, w, 0).tolist()))
    spark.createDataFrame(
        [(float(a), float(b), float(c)) for (a, b), c in zip(X, w)], ["x", "y", "w"]
    ).write.parquet(str(tmp_path / "w.parquet"))
    results = []
    for args in (
        [weighted, "--weight", "w", "--header"],
        [tmp_path / "w.parquet", "--weight", "w"],
        [repeated, "--header", "--format", "csv"],
    ):
        status = run_job(
            "--input", *args, "--missing", "none", "--k", "3", "--init", "kmeans++", "--seeds", "1"
        )
        assert status == 0
        results.append(json.loads(capsys.readouterr().out))
    by_csv, by_parquet, plain = results
    assert by_csv["weight_sum"] == by_parquet["weight_sum"] == w.sum() == plain["n_rows"]
    assert by_csv["log_likelihood"] == pytest.approx(by_parquet["log_likelihood"], rel=1e-12)
    # different draws, the same optimum
    assert by_csv["log_likelihood"] == pytest.approx(plain["log_likelihood"], rel=1e-6)
    assert by_csv["bic"] == pytest.approx(plain["bic"], rel=1e-6)
    status = run_job("--input", weighted, "--weight", "nope", "--header", "--missing", "none")
    assert status == 2 and "no weight column 'nope'" in capsys.readouterr().err
    status = run_job("--input", weighted, "--weight", "w", "--missing", "none")
    assert status == 2 and "with CSV input need --header" in capsys.readouterr().err
    status = run_job(
        "--input",
        weighted,
        "--header",
        "--features",
        "y",
        "--weight",
        "w",
        "--missing",
        "none",
        "--k",
        "2",
        "--max-iter",
        "3",
    )
    assert status == 0 and json.loads(capsys.readouterr().out)["n_cols"] == 1
    status = run_job(
        "--input", weighted, "--header", "--features", "y,w", "--weight", "w", "--missing", "none"
    )
    assert status == 2 and "the weight column 'w' cannot be a feature" in capsys.readouterr().err
