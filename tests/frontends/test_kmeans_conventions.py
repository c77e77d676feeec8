"""spark_em.ml.KMeans under pyspark.ml.clustering.KMeans's conventions: k-means|| seeding and
the cosine distance against MLlib's KMeans on the same data (or on the rows repeated, for
integer weights), the cosine cost against numpy, the summary's fields, persistence of
distanceMeasure, and the job's --init k-means|| and --distance-measure."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em import cli
from spark_em.cli import fit_gmm
from spark_em.errors import InputError
from spark_em.ml import KMeans, KMeansModel

K = 3


@pytest.fixture(scope="module")
def data():
    """Three clusters apart in direction and in place, the rows scaled at random (which the
    cosine distance does not see), with integer weights 1-3."""
    rng = np.random.default_rng(27)
    axes = 6.0 * np.eye(3)
    X = np.vstack([rng.normal(c, 0.6, size=(60, 3)) for c in axes])
    X *= rng.uniform(0.5, 2.0, size=(len(X), 1))
    w = rng.integers(1, 4, size=len(X)).astype(float)
    return X, w


def frame(spark, X, w=None):
    from pyspark.ml.linalg import Vectors

    weights = np.ones(len(X)) if w is None else w
    rows = [(Vectors.dense(x), float(v)) for x, v in zip(X, weights)]
    return spark.createDataFrame(rows, ["features", "w"])


def mllib_fit(df, measure):
    from pyspark.ml.clustering import KMeans as MLlibKMeans

    return MLlibKMeans(k=K, seed=5, distanceMeasure=measure, maxIter=50, tol=1e-12).fit(df)


def cosine_costs(X, centres):
    """n×K: 1 − cos(x, c), in numpy."""
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    return 1.0 - unit @ (centres / np.linalg.norm(centres, axis=1, keepdims=True)).T


def one_to_one(ours, theirs) -> dict:
    """Our labels to theirs, asserting the two partitions are the same up to the labels."""
    pairs = set(zip(ours, theirs))
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs}) == K
    return dict(pairs)


@pytest.fixture(scope="module")
def cosine(spark, data):
    """Our cosine fit (k-means|| start, the default) and MLlib's, on the same DataFrame."""
    X, _ = data
    df = frame(spark, X)
    return df, KMeans(k=K, seed=5, distanceMeasure="cosine").fit(df), mllib_fit(df, "cosine")


def test_cosine_as_mllib_and_numpy(cosine, data):
    X, _ = data
    df, ours, theirs = cosine
    assert ours.getInitMode() == "k-means||"
    assert ours.summary.trainingCost == pytest.approx(theirs.summary.trainingCost, rel=1e-6)
    rows = ours.transform(df).select("prediction", "distance").collect()
    labels = [r.prediction for r in rows]
    mllib_labels = [r.prediction for r in theirs.transform(df).select("prediction").collect()]
    to_theirs = one_to_one(labels, mllib_labels)
    centres = np.array(ours.clusterCenters())
    mllib_centres = np.array(theirs.clusterCenters())
    assert_allclose(centres, mllib_centres[[to_theirs[j] for j in range(K)]], atol=1e-9)
    # numpy: Σ (1 − cos) to the nearest of our centres, which are unit vectors
    d = cosine_costs(X, centres)
    assert ours.summary.trainingCost == pytest.approx(d.min(axis=1).sum(), rel=1e-10)
    assert_allclose(np.linalg.norm(centres, axis=1), 1.0, rtol=1e-12)
    assert labels == d.argmin(axis=1).tolist()
    assert_allclose([r.distance for r in rows], d.min(axis=1), rtol=1e-9, atol=1e-15)
    assert ours.predict(X[7] * 100) == int(d[7].argmin())


def test_integer_weights_as_mllib_on_the_repeated_rows(spark, data):
    """k-means|| with integer weights, both measures, against MLlib fitted to each row
    repeated its weight's times."""
    X, w = data
    weighted = frame(spark, X, w)
    repeated = frame(spark, np.repeat(X, w.astype(int), axis=0))
    for measure in ("euclidean", "cosine"):
        ours = KMeans(k=K, seed=2, weightCol="w", initMode="k-means||", distanceMeasure=measure)
        ours = ours.fit(weighted)
        theirs = mllib_fit(repeated, measure)
        assert ours.summary.trainingCost == pytest.approx(theirs.summary.trainingCost, rel=1e-6)
        assert sorted(ours.summary.clusterSizes) == sorted(theirs.summary.clusterSizes)


def test_kmeans_parallel_draws_do_not_depend_on_the_partitioning(spark, data):
    from spark_em.engine import ops
    from spark_em.models import seeding

    X, w = data
    drawn = []
    for partitions, block_rows in [(1, 1000), (3, 17)]:
        blocks = ops.from_array(spark, X, partitions, block_rows=block_rows, weights=w)
        drawn.append(seeding.parallel(blocks, [(3, 0), (5, 1)]))  # two starts, the same passes
        ops.release(blocks)
    for one, other in zip(*drawn):
        assert_allclose(one, other, rtol=0)


def test_a_zero_length_row_is_refused_under_cosine(spark, data, cosine):
    X, _ = data
    Z = X[:10].copy()
    Z[3] = 0.0
    with pytest.raises(InputError, match=r"row 4 is a zero-length vector: the cosine distance"):
        KMeans(k=2, distanceMeasure="cosine").fit(frame(spark, Z))
    with pytest.raises(InputError, match="zero-length vector"):
        cosine[1].predict([0.0, 0.0, 0.0])
    with pytest.raises(TypeError, match="distanceMeasure must be one of euclidean, cosine"):
        KMeans(distanceMeasure="manhattan")


def test_summary_has_mllibs_fields(cosine, data):
    from pyspark.ml.clustering import ClusteringSummary
    from pyspark.ml.clustering import KMeansSummary as MLlibSummary

    X, _ = data
    _, ours, _ = cosine
    summary = ours.summary
    mllib_names = {
        name
        for cls in (ClusteringSummary, MLlibSummary)
        for name, value in vars(cls).items()
        if isinstance(value, property)
    }
    assert mllib_names <= set(dir(summary))
    assert (summary.featuresCol, summary.predictionCol, summary.k) == ("features", "prediction", K)
    assert summary.predictions.count() == len(X)
    assert summary.cluster.columns == ["prediction"]
    sizes = np.bincount(cosine_costs(X, np.array(ours.clusterCenters())).argmin(axis=1))
    assert summary.clusterSizes == sizes.tolist()
    assert summary.numIter == len(summary.costHistory) >= 1


def test_save_and_load_keep_the_measure(cosine, data, tmp_path):
    X, _ = data
    _, ours, _ = cosine
    path = tmp_path / "cosine"
    ours.save(str(path))
    loaded = KMeansModel.load(str(path))
    assert loaded.getDistanceMeasure() == "cosine"
    assert loaded.predict(X[100]) == int(
        cosine_costs(X, np.array(ours.clusterCenters()))[100].argmin()
    )
    assert loaded.summary.featuresCol == "features"
    with pytest.raises(InputError, match="use model.transform"):
        _ = loaded.summary.predictions
    # a save from before distanceMeasure: no such param, no summary columns
    older = tmp_path / "older"
    shutil.copytree(path, older, ignore=shutil.ignore_patterns("*.crc"))
    meta = next((older / "metadata").glob("part-*"))
    saved = json.loads(meta.read_text())
    for params in (saved["paramMap"], saved["defaultParamMap"]):
        params.pop("distanceMeasure")
    for name in ("featuresCol", "predictionCol"):
        saved["model"]["summary"].pop(name)
    meta.write_text(json.dumps(saved))
    old = KMeansModel.load(str(older))
    assert old.getDistanceMeasure() == "euclidean"
    assert old.summary.featuresCol is None
    d2 = ((X[:, None, :] - np.array(ours.clusterCenters())[None]) ** 2).sum(axis=2)
    assert old.predict(X[100]) == int(d2[100].argmin())


def test_the_job_takes_kmeans_parallel_and_cosine(spark, data, tmp_path, capsys):
    X, _ = data
    path = tmp_path / "x.csv"
    np.savetxt(path, X, delimiter=",")
    out = tmp_path / "run"
    flags = ["--input", path, "--model", "kmeans", "--k", K, "--init", "k-means||", "--out", out]
    status = cli.main_wrapper(
        fit_gmm.main, [str(f) for f in [*flags, "--distance-measure", "cosine"]]
    )
    assert status == 0
    model = json.loads((out / "model.json").read_text())
    assert (model["init"], model["distance_measure"]) == ("k-means||", "cosine")
    metrics = json.loads((out / "metrics.json").read_text())
    d = cosine_costs(X, np.array(model["means"]))
    assert metrics["cost"] == pytest.approx(d.min(axis=1).sum(), rel=1e-9)
    capsys.readouterr()
    for flags, message in [
        (["--model", "gaussian", "--distance-measure", "cosine"], "--distance-measure is for"),
        (["--model", "gaussian", "--init", "k-means||"], "--init k-means|| is for --model kmeans"),
    ]:
        with pytest.raises(InputError, match=message):
            fit_gmm.parse_args(["--input", str(path), *flags])
