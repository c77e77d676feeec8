"""``StreamingMixtureRecommender`` on a file-source stream of ratings (one Parquet file a
micro-batch, ``availableNow``): the first micro-batch is a batch fit, every later one a
``partialFit`` (held to one EM iteration written from the equations in
``test_masked_partial_fit``); a restart from the checkpoint and a replayed batch end with the
model of one uninterrupted run."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from spark_em.errors import ConvergenceWarning, InputError
from spark_em.ml import MixtureRecommender, StreamingMixtureRecommender

SCHEMA = "u long, i long, r double"
PARAMS = dict(userCol="u", itemCol="i", ratingCol="r", k=3, nInit=1, maxIter=5, seed=3)


def ratings_of(batch: int) -> list[tuple[int, int, float]]:
    """Batch 0: users 0–49 rate items 0–11; batch 1: more ratings of users 0–9 (items 12–13,
    new) and users 50–54 (new); batch 2: users 55–59 (new) and more of users 10–19."""
    rng = np.random.default_rng(batch)
    types = np.random.default_rng(0).integers(1, 6, size=(3, 14)).astype(float)
    users, items = {
        0: (range(50), range(12)),
        1: ([*range(10), *range(50, 55)], range(12, 14)),
        2: ([*range(55, 60), *range(10, 20)], range(12, 14)),
    }[batch]
    out = [
        (u, i, float(np.clip(types[u % 3, i] + rng.normal(scale=0.4), 1, 5)))
        for u in users
        for i in items
        if rng.random() < 0.6 or (batch == 0 and i == u % 12)
    ]
    if batch:  # the new users also rate some old items
        out += [(u, i, float(types[u % 3, i])) for u in users if u >= 50 for i in range(0, 12, 3)]
    return out


def write(spark, directory, batch: int) -> None:
    frame = spark.createDataFrame(ratings_of(batch), SCHEMA).coalesce(1)
    frame.write.parquet(str(directory / f"b{batch}"))
    (part,) = (directory / f"b{batch}").glob("part-*.parquet")
    part.rename(directory / "in" / f"{batch:03d}.parquet")


def train(spark, directory) -> StreamingMixtureRecommender:
    trainer = StreamingMixtureRecommender(**PARAMS, modelPath=str(directory / "models"))
    stream = spark.readStream.schema(SCHEMA).option("maxFilesPerTrigger", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        query = trainer.trainOn(
            stream.parquet(str(directory / "in")),
            str(directory / "checkpoint"),
            trigger={"availableNow": True},
        )
        query.awaitTermination()
    assert query.exception() is None
    return trainer


def expected(spark, batches: int) -> list:
    """The model after each of the first ``batches`` batches: a fit, then partialFits."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        models = [MixtureRecommender(**PARAMS).fit(spark.createDataFrame(ratings_of(0), SCHEMA))]
    for batch in range(1, batches):
        models.append(models[-1].partialFit(spark.createDataFrame(ratings_of(batch), SCHEMA)))
    return models


def assert_same(model, want, rtol=1e-10):
    np.testing.assert_array_equal(model.items, want.items)
    for got, ref in ((model.weights, want.weights), (model.means, want.means)):
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(model.variances, want.variances, rtol=rtol)


def test_a_stream_of_ratings_fits_then_updates_exactly_once(spark, tmp_path):
    (tmp_path / "in").mkdir()
    for batch in (0, 1):
        write(spark, tmp_path, batch)
    trainer = train(spark, tmp_path)
    want = expected(spark, 3)
    assert_same(trainer.latestModel(), want[1])

    # stopped; a file arrives; restarted from the checkpoint: only the new batch is learnt
    write(spark, tmp_path, 2)
    trainer = train(spark, tmp_path)
    restarted = trainer.latestModel()
    assert_same(restarted, want[2])
    assert restarted.summary.numUsers == 60 and len(restarted.items) == 14

    # the last update saved, the query killed before its commit: replayed, not redone
    commits = sorted(
        (tmp_path / "checkpoint" / "commits").glob("[0-9]*"), key=lambda p: int(p.name)
    )
    commits[-1].unlink()
    (commits[-1].parent / f".{commits[-1].name}.crc").unlink(missing_ok=True)
    replayed = train(spark, tmp_path).latestModel()
    assert_same(replayed, restarted, rtol=0)
    pairs = spark.createDataFrame([(57, 13), (3, 12)], "u long, i long")
    assert trainer.predictOn(pairs).toPandas()["prediction"].notna().all()

    with pytest.raises(InputError, match="k=4 differs"):
        StreamingMixtureRecommender(**{**PARAMS, "k": 4})._settings_on(restarted)
