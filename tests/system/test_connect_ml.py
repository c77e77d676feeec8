"""The spark.ml-style estimators under Spark Connect and on either backend: fit, transform
(with null and sparse rows), save and load give the same numbers as the RDD backend in a
classic session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em.engine import ops
from spark_em.kernels import gaussian, masked
from spark_em.ml import GaussianMixture, GaussianMixtureModel, columns
from spark_em.ml import gaussian as ml_gaussian
from tests.helpers.connect import run_client
from tests.helpers.estimators import close, frames, ml_results, rows, same_fit

pytestmark = pytest.mark.connect


@pytest.fixture(scope="module")
def under_connect(connect_server, tmp_path_factory) -> dict:
    """The estimators fitted, saved and loaded by one client of the server; the client runs
    in a directory that is not the server's and also saves by a path relative to the
    server's working directory (``elsewhere``)."""
    from tests.helpers.connect import ROOT

    saved = tmp_path_factory.mktemp("connect-models")
    client_dir = tmp_path_factory.mktemp("connect-client")
    streams = tmp_path_factory.mktemp("connect-stream")
    relative = os.path.relpath(saved / "relative" / "gm", ROOT)
    out = run_client(
        connect_server.url,
        f"""
        import json
        from spark_em.cli.outputs import check_out_dir
        from spark_em.errors import InputError
        from spark_em.ml import GaussianMixture, GaussianMixtureModel
        from tests.helpers.estimators import frames, ml_results, rows
        out = {{"ml": ml_results(spark, "auto", {str(saved)!r})}}
        try:
            GaussianMixture(k=3, backend="rdd").fit(frames(spark)[0])
        except ValueError as exc:
            out["rdd_error"] = str(exc)
        points = frames(spark)[0]
        model = GaussianMixture(k=3, covarianceType="full", seed=1).fit(points)
        model.save({relative!r})
        try:
            model.save({relative!r})
            refusal = None
        except InputError as exc:
            refusal = str(exc)
        model.write().overwrite().save({relative!r})
        loaded = GaussianMixtureModel.load({relative!r})
        try:
            check_out_dir("file:///tmp/anywhere", False, spark)
            job_out = None
        except InputError as exc:
            job_out = str(exc)
        columns = ["prediction", "probability", "logLikelihood"]
        out["elsewhere"] = {{
            "means": model.means.tolist(), "loaded_means": loaded.means.tolist(),
            "points": rows(model.transform(points), columns),
            "loaded_points": rows(loaded.transform(points), columns), "refusal": refusal,
            "job_out": job_out}}
        from pathlib import Path
        from tests.helpers.streams import train, trainer, write
        streams = Path({str(streams)!r})
        (streams / "in").mkdir()
        for seed in (1, 2):
            write(spark, streams, seed)
        train(spark, streams, streams / "models", streams / "checkpoint")
        streamed = trainer(streams / "models").latestModel()
        out["stream"] = {{
            "mixture": [a.tolist() for a in streamed._mixture[:3]],
            "numUpdates": streamed.numUpdates}}
        print("RESULT " + json.dumps(out))
        spark.stop()
    """,
        cwd=client_dir,
    )
    return dict(out, saved=str(saved / "relative" / "gm"), client_dir=str(client_dir))


@pytest.fixture(scope="module")
def rdd_results(spark, tmp_path_factory):
    return ml_results(spark, "rdd", str(tmp_path_factory.mktemp("rdd")))


def test_transform_against_the_driver(spark, rdd_results, monkeypatch):
    """Transform output equals the kernels run on the driver, on null, sparse and integer-array
    rows too, and does not depend on how a partition's rows are cut into blocks."""
    points_df, ratings_df, _, odd = frames(spark)
    r = rdd_results["gm"]
    mixture = gaussian.Mixture(
        np.array(r["weights"]), np.array(r["means"]), np.array(r["covariances"]), "full"
    )
    X = np.array([[1.0, 2.0], [0.0, 3.0], [0.0, 0.0]])
    resp, row_ll = gaussian.posterior(X, gaussian.prepare(mixture))
    for got in (r["odd"], r["odd_arr"]):
        assert got["prediction"] == [resp[0].argmax(), None, resp[1].argmax(), resp[2].argmax()]
        assert_allclose([got["probability"][i] for i in (0, 2, 3)], resp, rtol=1e-12)
        assert got["probability"][1] is None and got["logLikelihood"][1] is None
        assert_allclose([got["logLikelihood"][i] for i in (0, 2, 3)], row_ll, rtol=1e-12)
    w = rdd_results["wlr"]
    assert w["odd"]["prediction"][1] is None
    assert_allclose(
        [w["odd"]["prediction"][i] for i in (0, 2, 3)],
        X @ w["coefficients"] + w["intercept"],
        rtol=1e-12,
    )
    r = rdd_results["mr"]  # the two regimes, each component's line and the mixture's mean
    assert_allclose(sorted(r["intercepts"]), [0.7, 3.3], atol=0.2)
    each = np.array(r["intercepts"]) + X @ np.array(r["coefficients"]).T
    assert r["odd"]["prediction"][1] is None and r["odd"]["componentPredictions"][1] is None
    assert_allclose([r["odd"]["prediction"][i] for i in (0, 2, 3)], each @ r["weights"], rtol=1e-12)
    assert_allclose([r["odd"]["componentPredictions"][i] for i in (0, 2, 3)], each, rtol=1e-12)
    m = rdd_results["mgm"]
    ratings = np.array([row.arr for row in ratings_df.orderBy("id").collect()])
    expected = masked.complete(
        ratings,
        masked.SphericalMixture(
            **{name: np.array(m[name]) for name in ("weights", "means", "variances")}
        ),
    )
    assert_allclose(m["completed"]["completed"], expected, rtol=1e-12)

    model = GaussianMixtureModel(mixture)
    whole = rows(model.transform(points_df), ["prediction", "probability", "logLikelihood"])
    monkeypatch.setattr(columns, "TRANSFORM_BLOCK_ROWS", 7)
    close(rows(model.transform(points_df), ["prediction", "probability", "logLikelihood"]), whole)


def test_backend_param_reaches_the_fit(spark, rdd_results, monkeypatch):
    """backend="dataframe" in a classic session fits on the DataFrame backend, to the same
    mixture as the RDD backend."""
    loaded = []
    read = ml_gaussian.read_dataframe

    def watched(*args, **kwargs):
        blocks = read(*args, **kwargs)
        loaded.append(ops.backend_name(blocks))
        return blocks

    monkeypatch.setattr(ml_gaussian, "read_dataframe", watched)
    points_df = frames(spark)[0]
    model = GaussianMixture(k=3, covarianceType="full", seed=1, backend="dataframe").fit(points_df)
    assert loaded == ["dataframe"]
    close(model.means.tolist(), rdd_results["gm"]["means"])
    close(model.covariances.tolist(), rdd_results["gm"]["covariances"])


def test_estimators_under_spark_connect(rdd_results, under_connect):
    result = dict(under_connect["ml"])
    assert "connect" in result.pop("session") and "no RDDs" in under_connect["rdd_error"]
    assert result["estimator"] == ["gd", "auto"]
    same_fit(rdd_results, result)


def test_a_stream_learnt_under_spark_connect(under_connect):
    """The micro-batches run in the server's foreachBatch; the model is read back from
    modelPath by the client: the same updates as the equations give."""
    from tests.helpers.streams import expected_after

    got = under_connect["stream"]
    assert got["numUpdates"] == 2
    want = expected_after([1, 2])
    for a, b in zip(got["mixture"], want[:3]):
        assert_allclose(np.asarray(a), b, rtol=1e-9, atol=1e-9 * np.abs(b).max())


def test_save_from_a_client_elsewhere(spark, under_connect):
    """A client whose working directory is not the server's saves by a path relative to the
    server's: every file lands there (written by the server), none beside the client; the
    client loads it back, overwrites it, and is refused an existing path without overwrite;
    this process (another session, the client gone) loads what it saved."""
    got, saved = under_connect["elsewhere"], Path(under_connect["saved"])
    assert (saved / "metadata").is_dir() and (saved / "arrays").is_dir()
    assert not any(Path(under_connect["client_dir"]).iterdir())
    assert got["loaded_means"] == got["means"] and got["loaded_points"] == got["points"]
    assert "already exists" in got["refusal"]
    assert "under Spark Connect this process cannot reach" in got["job_out"]
    loaded_here = GaussianMixtureModel.load(str(saved))
    assert loaded_here.means.tolist() == got["means"]
    points = frames(spark)[0]
    close(
        rows(loaded_here.transform(points), ["prediction", "logLikelihood"]),
        {k: got["points"][k] for k in ("prediction", "logLikelihood")},
    )
