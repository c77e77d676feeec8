"""One local[2] SparkSession for the whole suite, and the course data from ../shared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SPARK_EM_DATA", ROOT.parent / "shared" / "data")) / "netflix"


def spark_defaults() -> dict[str, str]:
    """The project's spark-defaults.conf, as the jobs get it."""
    conf = {}
    for line in (ROOT / "spark-defaults.conf").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, value = line.split(None, 1)
            conf[key] = value
    return conf


@pytest.fixture(scope="session")
def spark():
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("spark-em tests")
    for key, value in spark_defaults().items():
        builder = builder.config(key, value)
    session = (builder.master("local[2]").config("spark.ui.enabled", "false")
               .config("spark.driver.memory", "2g").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sc(spark):
    return spark.sparkContext


@pytest.fixture(scope="session")
def netflix_dir() -> Path:
    """The course data; missing data fails the test under CI and skips it elsewhere."""
    needed = ["netflix_incomplete.txt", "netflix_complete.txt", "test_incomplete.txt",
              "test_complete.txt", "test_solutions.txt"]
    missing = [name for name in needed if not (DATA / name).is_file()]
    if missing:
        message = f"course data missing in {DATA}: {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return DATA


@pytest.fixture(scope="session")
def netflix_k12(sc, netflix_dir):
    """K=12 seed 1 on the course netflix matrix on the RDD backend, with its RMSE against the
    complete matrix: what other backends and layouts are checked against."""
    from spark_em import matrix_completion as mc
    from spark_em import readers

    X = readers.read_text(sc, str(netflix_dir / "netflix_incomplete.txt"))
    gold = readers.read_text(sc, str(netflix_dir / "netflix_complete.txt"))
    run = mc.fit(X, 12, 1)
    run.rmse = mc.rmse(X, run.mixture, gold)
    X.unpersist()
    gold.unpersist()
    return run


@pytest.fixture(scope="session")
def under_connect(netflix_dir, tmp_path_factory) -> dict:
    """What one local Spark Connect session computes (a session costs ~15 s to start): the
    masked model on the course data read from its files, the other families of
    ``tests.test_connect``, the estimators of ``tests.test_connect_ml``, and ``fit_gmm.py`` run
    as another client of the same server."""
    saved = tmp_path_factory.mktemp("connect-models")
    return run_connect(f"""
        import json, subprocess, sys
        from pyspark.sql import SparkSession
        from spark_em import frames, ml, readers, matrix_completion as mc
        from tests.test_connect import other_families
        from tests.test_connect_ml import _frames, ml_results
        spark = SparkSession.builder.remote("local[2]").getOrCreate()
        X = readers.read_text(spark, {str(netflix_dir / "netflix_incomplete.txt")!r})
        gold = readers.read_text(spark, {str(netflix_dir / "netflix_complete.txt")!r})
        assert frames.is_frame(X) and frames.backend_for(spark) == "dataframe"
        run = mc.fit(X, 12, 1)
        out = {{"ll": run.log_likelihood, "n_iter": run.n_iter, "mu": run.mixture.mu.tolist(),
               "var": run.mixture.var.tolist(), "p": run.mixture.p.tolist(),
               "rmse": mc.rmse(X, run.mixture, gold), "session": type(spark).__module__,
               "families": other_families(spark, lambda X: frames.from_array(spark, X, 2, 500)),
               "ml": ml_results(spark, "auto", {str(saved)!r})}}
        try:
            ml.GaussianMixture(k=3, backend="rdd").fit(_frames(spark)[0])
        except ValueError as exc:
            out["rdd_error"] = str(exc)
        # The job, as a client of this session's server (sc://host:port, as on a cluster).
        port = spark.conf.get("spark.connect.grpc.binding.port", "15002")
        job = subprocess.run([sys.executable, "jobs/fit_gmm.py", "--remote", f"sc://localhost:{{port}}",
                              "--input", {str(netflix_dir / "toy_data.txt")!r}, "--missing", "none",
                              "--k", "3", "--seeds", "0", "--out", {str(saved / "job")!r}],
                             capture_output=True, text=True)
        out["job"] = {{"exit": job.returncode, "stderr": job.stderr[-3000:],
                      "out": {str(saved / "job")!r}}}
        print("RESULT " + json.dumps(out))
        spark.stop()
    """)


def run_connect(script: str, *args: str) -> dict:
    """Run ``script`` in a fresh Python with a local Spark Connect session; its "RESULT {json}"
    line, parsed."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], cwd=ROOT,
                          capture_output=True, text=True,
                          env=dict(os.environ, PYSPARK_PYTHON=sys.executable), timeout=900)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads(lines[0][len("RESULT "):])
