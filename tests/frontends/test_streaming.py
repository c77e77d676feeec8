"""``StreamingGaussianMixture`` on a file-source stream (one Parquet file a micro-batch,
``availableNow``): each micro-batch is the stepwise update written from the equations
(``stepwise_reference``) with the step (t + 2)^(−α); a query stopped and restarted from its
checkpoint, and a batch replayed after a failure, end with the same model."""

from __future__ import annotations

import numpy as np
import pytest

from spark_em.errors import InputError
from spark_em.ml import GaussianMixture, StreamingGaussianMixture
from tests.helpers.streams import (
    assert_mixture,
    batch,
    expected_after,
    stream_of,
    train,
    trainer,
    write,
)


def test_stop_restart_and_replay_equal_one_uninterrupted_run(spark, tmp_path):
    (tmp_path / "in").mkdir()
    for seed in (1, 2):
        write(spark, tmp_path, seed)
    models, checkpoint = tmp_path / "models", tmp_path / "checkpoint"
    train(spark, tmp_path, models, checkpoint)
    first = trainer(models).latestModel()
    assert first.numUpdates == 2
    assert_mixture(first, expected_after([1, 2]))

    # stopped; a file arrives; restarted from the checkpoint: only the new batch is learnt
    write(spark, tmp_path, 3)
    train(spark, tmp_path, models, checkpoint)
    restarted = trainer(models).latestModel()
    assert restarted.numUpdates == 3 and restarted.rowsSeen == pytest.approx(
        sum(batch(s)[1].sum() for s in (1, 2, 3))
    )
    assert_mixture(restarted, expected_after([1, 2, 3]))

    # the last batch's update saved, the query killed before its commit: replayed, not redone
    commits = sorted((checkpoint / "commits").glob("[0-9]*"), key=lambda p: int(p.name))
    commits[-1].unlink()
    (commits[-1].parent / f".{commits[-1].name}.crc").unlink(missing_ok=True)
    train(spark, tmp_path, models, checkpoint)
    replayed = trainer(models).latestModel()
    assert replayed.numUpdates == 3
    assert_mixture(replayed, restarted._mixture, rtol=0)
    # only the newest versions stay
    assert sorted(p.name for p in models.iterdir() if p.name.startswith("batch-")) == [
        "batch-000000000001",
        "batch-000000000002",
    ]

    # a batch older than the newest version: another writer, or a new checkpoint
    from spark_em.ml.streaming import _BatchUpdate

    with pytest.raises(InputError, match="holds the model of batch 2, later than this"):
        _BatchUpdate(trainer(models))(stream_of(spark, tmp_path).sparkSession.range(1), 1)
    # a restart takes the trainer's settings as they are then; another K is refused
    restarted_trainer = trainer(models).setHalfLife(240.0).setRegCovar(1e-4)
    resumed = restarted_trainer._settings_on(replayed)
    assert (resumed.getHalfLife(), resumed.getRegCovar()) == (240.0, 1e-4)
    assert replayed.getHalfLife() is None
    with pytest.raises(InputError, match="k=4 differs from the model at modelPath"):
        trainer(models).setK(4)._settings_on(replayed)

    # the latest model scores a stream as it scores a static frame
    predicted = trainer(models).predictOn(stream_of(spark, tmp_path))
    query = (
        predicted.writeStream.format("memory")
        .queryName("spark_em_predicted")
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    got = spark.table("spark_em_predicted").toPandas()
    X = np.vstack([batch(s)[0] for s in (1, 2, 3)])
    want = replayed.transform(spark.createDataFrame([(x.tolist(),) for x in X], ["features"]))
    assert sorted(got["prediction"].tolist()) == sorted(
        r.prediction for r in want.select("prediction").collect()
    )
    query.stop()


def test_a_stream_without_a_start_draws_one_and_learns(spark, tmp_path):
    (tmp_path / "in").mkdir()
    seeds = (11, 12, 13, 14)
    for seed in seeds:
        write(spark, tmp_path, seed)
    learner = StreamingGaussianMixture(k=3, modelPath=str(tmp_path / "m"), seed=3)
    query = learner.trainOn(stream_of(spark, tmp_path), str(tmp_path / "c"), {"availableNow": True})
    query.awaitTermination()
    model = learner.latestModel()
    assert (model.numUpdates, model.getK(), model.getCovarianceType()) == (4, 3, "full")
    # as good as a batch fit on the same rows, per row, up to the stream's few updates
    rows = np.vstack([batch(s)[0] for s in seeds])
    frame = spark.createDataFrame([(x.tolist(),) for x in rows], ["features"])
    batch_fit = GaussianMixture(k=3, seed=0).fit(frame)
    assert model.score(frame) > batch_fit.score(frame) - 0.05


def test_bad_settings_are_refused(spark, tmp_path):
    (tmp_path / "in").mkdir()
    stream = stream_of(spark, tmp_path)
    with pytest.raises(InputError, match="modelPath must be set"):
        StreamingGaussianMixture().trainOn(stream, str(tmp_path / "c"))
    with pytest.raises(InputError, match="streaming DataFrame"):
        trainer(tmp_path / "m").trainOn(spark.range(3), str(tmp_path / "c"))
    with pytest.raises(InputError, match="k=4 differs from the initial model's 3"):
        trainer(tmp_path / "m").setK(4).trainOn(stream, str(tmp_path / "c"))
    with pytest.raises(InputError, match="modelPath must lie outside checkpointLocation"):
        trainer(tmp_path / "c" / "m").trainOn(stream, str(tmp_path / "c"))
    with pytest.raises(InputError, match="holds no model yet"):
        trainer(tmp_path / "empty").latestModel()
    with pytest.raises(TypeError, match="stepDecay must be in"):
        StreamingGaussianMixture(stepDecay=0.4)
