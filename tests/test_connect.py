"""The DataFrame backend (spark_em.frames): the masked model fitted on a DataFrame of blocks,
in this classic session and in a Spark Connect session, equals the RDD backend's fit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em import frames, readers
from spark_em import matrix_completion as mc

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rdd_fit(sc, netflix_dir):
    X = readers.read_text(sc, str(netflix_dir / "netflix_incomplete.txt"))
    run = mc.fit(X, 12, 1)
    X.unpersist()
    return run


def test_frame_backend_in_a_classic_session(spark, netflix_dir, rdd_fit):
    frame = frames.from_array(spark, np.loadtxt(netflix_dir / "netflix_incomplete.txt"), 2, 500)
    assert frames.is_frame(frame) and frame.rdd.getNumPartitions() == 2
    run = mc.fit(frame, 12, 1)
    assert run.n_iter == rdd_fit.n_iter
    assert run.log_likelihood == pytest.approx(rdd_fit.log_likelihood, rel=1e-10)
    for name in ("mu", "var", "p"):
        assert_allclose(getattr(run.mixture, name), getattr(rdd_fit.mixture, name), rtol=1e-10, atol=1e-10)
    frame.unpersist()


def test_masked_fit_under_spark_connect(netflix_dir, rdd_fit):
    script = textwrap.dedent(f"""
        import json
        import numpy as np
        from pyspark.sql import SparkSession
        from spark_em import frames, matrix_completion as mc
        spark = SparkSession.builder.remote("local[2]").getOrCreate()
        X = np.loadtxt({str(netflix_dir / "netflix_incomplete.txt")!r})
        run = mc.fit(frames.from_array(spark, X, 2, 500), 12, 1)
        print("RESULT " + json.dumps({{"ll": run.log_likelihood, "n_iter": run.n_iter,
                                      "mu": run.mixture.mu.tolist(), "var": run.mixture.var.tolist(),
                                      "p": run.mixture.p.tolist(),
                                      "session": type(spark).__module__}}))
        spark.stop()
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYSPARK_PYTHON=sys.executable), timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(lines[0][len("RESULT "):])
    assert "connect" in result["session"]
    assert result["n_iter"] == rdd_fit.n_iter
    assert result["ll"] == pytest.approx(rdd_fit.log_likelihood, rel=1e-10)
    for name in ("mu", "var", "p"):
        assert_allclose(result[name], getattr(rdd_fit.mixture, name), rtol=1e-10, atol=1e-10)
