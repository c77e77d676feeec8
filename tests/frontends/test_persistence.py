"""Models saved through the session: any spelling of a path, MLlib's rule for an existing
path, and saves that stopped half-way or were altered afterwards refused in one line. (A
model saved by one process and loaded by another: tests/system/test_connect_ml.py.)"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from numpy.testing import assert_allclose

from spark_em.errors import InputError
from spark_em.ml import GaussianMixture, GaussianMixtureModel, KMeansModel


@pytest.fixture(scope="module")
def frame(spark):
    rng = np.random.default_rng(11)
    points = np.vstack([rng.normal(c, 0.6, (40, 2)) for c in ([0, 0], [4, 1], [1, 5])])
    return spark.createDataFrame(
        [(i, p.tolist()) for i, p in enumerate(points)], "id long, features array<double>"
    )


@pytest.fixture(scope="module")
def model(frame):
    return GaussianMixture(k=3, seed=4, covarianceType="diag").fit(frame)


def outputs(model, frame) -> list[tuple]:
    return [
        tuple(r)
        for r in model.transform(frame)
        .orderBy("id")
        .select("prediction", "logLikelihood")
        .collect()
    ]


def refused(path: str, match: str) -> str:
    with pytest.raises(InputError, match=match) as caught:
        GaussianMixtureModel.load(path)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_no_file_is_written_by_python(model, tmp_path):
    """Everything in the directory comes from Spark's writers: metadata as text, arrays and
    nothing else as Parquet; no .npy, no pickle."""
    model.save(str(tmp_path / "m"))
    files = {p.relative_to(tmp_path / "m").parts[0] for p in (tmp_path / "m").rglob("part-*")}
    assert files == {"metadata", "arrays"}
    suffixes = {p.suffix for p in (tmp_path / "m").rglob("part-*")}
    assert suffixes == {".txt", ".parquet"}
    table = pq.read_table(tmp_path / "m" / "arrays")
    assert sorted(table.column("name").to_pylist()) == ["covariances", "means", "weights"]
    stored = {
        r["name"]: np.frombuffer(r["data"], r["dtype"]).reshape(r["shape"])
        for r in table.to_pylist()
    }
    assert_allclose(stored["means"], model.means, rtol=0)


def test_every_spelling_of_a_local_path(spark, model, frame, tmp_path):
    """An absolute path, ``file:`` URIs and a path relative to the driver's working directory
    (the JVM's, which resolves every path the writers and readers see) name one directory."""
    driver_cwd = spark.sparkContext._jvm.System.getProperty("user.dir")
    for name in ("a", "b", "c", "d"):
        target = tmp_path / name
        spellings = [
            str(target),
            f"file:{target}",
            target.as_uri(),
            os.path.relpath(target, driver_cwd),
        ]
        save_as, load_as = spellings[ord(name) - ord("a")], spellings[ord(name) - ord("a") - 1]
        model.save(save_as)
        assert (target / "metadata").is_dir() and (target / "arrays").is_dir()
        loaded = GaussianMixtureModel.load(load_as)
        assert_allclose(loaded.covariances, model.covariances, rtol=0)
        assert_allclose(loaded.weights, model.weights, rtol=0)
    assert outputs(loaded, frame) == outputs(model, frame)


def test_existing_path_refused_unless_overwrite(model, frame, tmp_path):
    path = str(tmp_path / "m")
    GaussianMixture(k=2, seed=0).fit(frame).save(path)
    with pytest.raises(InputError, match="already exists; write\\(\\).overwrite\\(\\)"):
        model.save(path)
    (tmp_path / "m" / "stale").mkdir()
    model.write().overwrite().save(path)
    assert not (tmp_path / "m" / "stale").exists()
    assert GaussianMixtureModel.load(path).getK() == 3
    with pytest.raises(InputError, match="holds a spark_em.ml.gaussian.GaussianMixtureModel"):
        KMeansModel.load(path)


def test_half_written_and_altered_saves_are_refused(model, tmp_path):
    good = tmp_path / "good"
    model.save(str(good))

    def copy(name: str) -> Path:
        """A copy without Hadoop's local .crc files, as on an object store."""
        shutil.copytree(good, tmp_path / name, ignore=shutil.ignore_patterns("*.crc"))
        return tmp_path / name

    # Stopped before the metadata (written last): not a model.
    stopped = copy("stopped")
    shutil.rmtree(stopped / "metadata")
    refused(str(stopped), "save did not finish")
    # Metadata cut short.
    cut = copy("cut")
    meta = next((cut / "metadata").glob("part-*"))
    meta.write_text(meta.read_text()[:40])
    refused(str(cut), "save did not finish")
    # Arrays gone.
    gone = copy("gone")
    shutil.rmtree(gone / "arrays")
    refused(str(gone), "arrays cannot be read")
    # One number changed in the stored bytes.
    altered = copy("altered")
    part = next((altered / "arrays").glob("*.parquet"))
    rows = pq.read_table(part).to_pylist()
    for row in rows:
        if row["name"] == "weights":
            w = np.frombuffer(row["data"], row["dtype"]).copy()
            w[0] += 1e-9
            row["data"] = w.tobytes()
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(part)), part)
    refused(str(altered), "'weights' is missing or altered")
    # The metadata edited to ask for objects: refused without unpickling anything.
    objects = copy("objects")
    meta = next((objects / "metadata").glob("part-*"))
    saved = json.loads(meta.read_text())
    saved["persistence"]["arrays"]["weights"]["dtype"] = "|O"
    meta.write_text(json.dumps(saved))
    refused(str(objects), "'weights' is missing or altered")
    # The checksums removed with the metadata's persistence record: nothing loads unchecked.
    unchecked = copy("unchecked")
    meta = next((unchecked / "metadata").glob("part-*"))
    saved = json.loads(meta.read_text())
    del saved["persistence"]
    meta.write_text(json.dumps(saved))
    refused(str(unchecked), "saved in format None")


def test_a_save_that_stops_before_its_metadata_leaves_nothing(model, tmp_path, monkeypatch):
    """A save that fails on its last step (the metadata) leaves no directory at the path and
    nothing beside it: it was staged, and the staging directory is removed; the path stays
    free for the next save."""
    from spark_em.ml import persistence

    def fail(*args, **kwargs):
        raise OSError("the disk filled up")

    monkeypatch.setattr(persistence, "write_metadata", fail)
    with pytest.raises(OSError, match="filled up"):
        model.save(str(tmp_path / "m"))
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    refused(str(tmp_path / "m"), "not a saved model")
    model.save(str(tmp_path / "m"))
    assert (tmp_path / "m" / "metadata").is_dir() and (tmp_path / "m" / "arrays").is_dir()
