"""The DataFrame backend (spark_em.engine.frame): the masked model fitted on a DataFrame of
blocks, in this classic session and as a client of a Spark Connect server, equals the RDD
backend's fit; so do the other families and the job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em.engine import ops
from spark_em.io.matrix import read_text
from spark_em.models import gaussian
from tests.helpers.connect import ROOT, run_client
from tests.helpers.families import assert_same_families, other_families

pytestmark = pytest.mark.connect


@pytest.fixture(scope="module")
def under_connect(connect_server, netflix_dir) -> dict:
    """The course's K=12 seed 1 fit read from its files, and the other families, computed by
    one client of the server."""
    return run_client(
        connect_server.url,
        f"""
        import json
        from spark_em.engine import ops
        from spark_em.engine.backend import backend_for
        from spark_em.io.matrix import read_text
        from spark_em.models import masked
        from tests.helpers.families import other_families
        X = read_text(spark, {str(netflix_dir / "netflix_incomplete.txt")!r})
        gold = read_text(spark, {str(netflix_dir / "netflix_complete.txt")!r})
        assert ops.backend_name(X) == "dataframe" and backend_for(spark).name == "dataframe"
        run = masked.fit(X, 12, 1)
        out = {{"ll": run.log_likelihood, "n_iter": run.n_iter,
               "means": run.mixture.means.tolist(), "variances": run.mixture.variances.tolist(),
               "weights": run.mixture.weights.tolist(),
               "rmse": masked.rmse(X, run.mixture, gold), "session": type(spark).__module__,
               "families": other_families(
                   spark, lambda X, w=None: ops.from_array(spark, X, 2, 500, weights=w))}}
        print("RESULT " + json.dumps(out))
        spark.stop()
    """,
    )


def test_masked_fit_under_spark_connect(under_connect, netflix_k12):
    result = under_connect
    assert "connect" in result["session"]
    assert result["n_iter"] == netflix_k12.n_iter
    assert result["ll"] == pytest.approx(netflix_k12.log_likelihood, rel=1e-10)
    assert_allclose(result["rmse"], netflix_k12.rmse, rtol=1e-10)
    for name in ("weights", "means", "variances"):
        assert_allclose(result[name], getattr(netflix_k12.mixture, name), rtol=1e-10, atol=1e-10)


@pytest.fixture(scope="module")
def rdd_families(spark, sc):
    return other_families(spark, lambda X, w=None: ops.from_array(sc, X, 2, 500, weights=w))


def test_mixtures_and_wols_on_frames_in_a_classic_session(spark, rdd_families):
    frame_of = lambda X, w=None: ops.from_array(  # noqa: E731
        spark, X, 2, 500, backend="dataframe", weights=w
    )
    assert_same_families(other_families(spark, frame_of), rdd_families)


def test_mixtures_and_wols_under_spark_connect(under_connect, rdd_families):
    assert_same_families(under_connect["families"], rdd_families)


def test_the_job_under_spark_connect(sc, netflix_dir, connect_server, tmp_path):
    """fit_gmm.py --remote sc://...: the data are read and fitted on the DataFrame backend,
    with the RDD backend's results."""
    out = tmp_path / "job"
    toy = str(netflix_dir / "toy_data.txt")
    job = subprocess.run(
        [
            sys.executable,
            "jobs/fit_gmm.py",
            "--remote",
            connect_server.url,
            "--input",
            toy,
            "--missing",
            "none",
            "--k",
            "3",
            "--seeds",
            "0",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYSPARK_PYTHON=sys.executable),
        timeout=900,
    )
    assert job.returncode == 0, job.stderr[-3000:]
    model = json.loads((Path(out) / "model.json").read_text())
    expected = gaussian.fit(read_text(sc, toy, ratings=False), 3, 0, init="reference")
    assert model["n_iter"] == expected.n_iter
    assert model["objective"] == pytest.approx(expected.objective, rel=1e-10)
    assert_allclose(model["means"], expected.mixture.means, rtol=1e-10)
    assert_allclose(model["covariances"], expected.mixture.covariances, rtol=1e-10, atol=1e-12)
    assert np.asarray(model["weights"]).sum() == pytest.approx(1.0, rel=1e-12)
