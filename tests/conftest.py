"""What every test shares: one local[2] SparkSession for each test process (``make test``
runs two, pytest-xdist giving each a whole test file), the course data from ../shared, and a
marker for each test's directory.

The directories: ``unit`` (no JVM: kernels, layers, params; seconds), ``spark`` (the library
on a local session), ``frontends`` (the estimators and the jobs as users run them) and
``system`` (a Spark Connect server, a standalone cluster, the notebooks). ``make test-fast``
runs the unit tests; ``make test`` runs everything, as CI does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SPARK_EM_DATA", ROOT.parent / "shared" / "data")) / "netflix"
DIRECTORIES = ("unit", "spark", "frontends", "system")


def pytest_collection_modifyitems(items):
    for item in items:
        directory = Path(item.fspath).parent.name
        if directory in DIRECTORIES:
            item.add_marker(getattr(pytest.mark, directory))


def spark_defaults() -> dict[str, str]:
    """The project's spark-defaults.conf, as the jobs get it."""
    conf = {}
    for line in (ROOT / "spark-defaults.conf").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, value = line.split(None, 1)
            conf[key] = value
    return conf


def worker_options() -> dict[str, str]:
    """On PyPI's PySpark 3.5, workers forked from a daemon without Spark's core jar on their
    path (tests/helpers/worker_daemon.py says why); nothing on newer PySpark."""
    import pyspark

    from spark_em.engine.compat import version_of

    if version_of(pyspark.__version__)[:1] >= (4,):
        return {}
    return {
        "spark.python.daemon.module": "tests.helpers.worker_daemon",
        "spark.executorEnv.PYTHONPATH": str(ROOT),
    }


@pytest.fixture(scope="session")
def spark():
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("spark-em tests")
    for key, value in spark_defaults().items():
        builder = builder.config(key, value)
    for key, value in worker_options().items():
        builder = builder.config(key, value)
    session = (
        builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sc(spark):
    return spark.sparkContext


@pytest.fixture(scope="session")
def netflix_dir() -> Path:
    """The course data; missing data fails the test under CI and skips it elsewhere."""
    needed = [
        "netflix_incomplete.txt",
        "netflix_complete.txt",
        "test_incomplete.txt",
        "test_complete.txt",
        "test_solutions.txt",
    ]
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
    from spark_em.io.matrix import read_text
    from spark_em.models import masked

    X = read_text(sc, str(netflix_dir / "netflix_incomplete.txt"))
    gold = read_text(sc, str(netflix_dir / "netflix_complete.txt"))
    run = masked.fit(X, 12, 1)
    run.rmse = masked.rmse(X, run.mixture, gold)
    X.unpersist()
    gold.unpersist()
    return run
