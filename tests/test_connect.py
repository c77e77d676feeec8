"""The DataFrame backend (spark_em.frames): the masked model fitted on a DataFrame of blocks,
in this classic session and in a Spark Connect session, equals the RDD backend's fit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em import frames, readers



def test_masked_fit_under_spark_connect(under_connect, netflix_k12):
    result = under_connect
    assert "connect" in result["session"]
    assert result["n_iter"] == netflix_k12.n_iter
    assert result["ll"] == pytest.approx(netflix_k12.log_likelihood, rel=1e-10)
    assert_allclose(result["rmse"], netflix_k12.rmse, rtol=1e-10)
    for name in ("mu", "var", "p"):
        assert_allclose(result[name], getattr(netflix_k12.mixture, name), rtol=1e-10, atol=1e-10)


def other_families(spark, frame_of):
    """A full-covariance mixture (k-means++ and random starts) and a weighted least-squares
    fit on blocks made by ``frame_of(array)``: the numbers to compare across backends."""
    from spark_em import mixture, regression

    rng = np.random.default_rng(7)
    points = np.vstack([rng.normal(c, 1.0, size=(400, 3)) for c in ([0, 0, 0], [5, 5, 0], [0, 6, 4])])
    x = rng.uniform(-4, 4, 20000)
    table = np.column_stack([x - 4 + rng.normal(0, 0.5, x.size), np.abs(1 / x), x])
    out = {}
    for init in ("kmeans++", "random"):
        run = mixture.fit(frame_of(points), 3, seed=0, init=init, covariance_type="full")
        out[init] = {"ll": run.objective, "n_iter": run.n_iter, "means": run.mixture.means.tolist(),
                     "covariances": np.asarray(run.mixture.covariances).tolist()}
    wols = regression.fit(regression.RegressionData(frame_of(table), ["x"], len(table)), "newton")
    out["wols"] = [wols.intercept, *wols.coefficients.tolist()]
    return out


def assert_same_families(a, b):
    for init in ("kmeans++", "random"):
        assert a[init]["n_iter"] == b[init]["n_iter"]
        assert a[init]["ll"] == pytest.approx(b[init]["ll"], rel=1e-10)
        for name in ("means", "covariances"):
            assert_allclose(a[init][name], b[init][name], rtol=1e-10, atol=1e-10)
    assert_allclose(a["wols"], b["wols"], rtol=1e-10)


@pytest.fixture(scope="module")
def rdd_families(spark, sc):
    from spark_em import blocks as blk

    return other_families(spark, lambda X: blk.from_array(sc, X, 2, 500))


def test_mixtures_and_wols_on_frames_in_a_classic_session(spark, rdd_families):
    assert_same_families(other_families(spark, lambda X: frames.from_array(spark, X, 2, 500)),
                         rdd_families)


def test_mixtures_and_wols_under_spark_connect(under_connect, rdd_families):
    assert_same_families(under_connect["families"], rdd_families)


def test_the_job_under_spark_connect(sc, netflix_dir, under_connect):
    """fit_gmm.py --remote sc://...: the data are read and fitted on the DataFrame backend,
    with the RDD backend's results."""
    from spark_em import mixture

    job = under_connect["job"]
    assert job["exit"] == 0, job["stderr"]
    model = json.loads((Path(job["out"]) / "model.json").read_text())
    toy = str(netflix_dir / "toy_data.txt")
    expected = mixture.fit(readers.read_text(sc, toy, ratings=False), 3, 0, init="reference")
    assert model["n_iter"] == expected.n_iter
    assert model["objective"] == pytest.approx(expected.objective, rel=1e-10)
    assert_allclose(model["means"], expected.mixture.means, rtol=1e-10)
    assert_allclose(model["covariances"], expected.mixture.covariances, rtol=1e-10, atol=1e-12)
