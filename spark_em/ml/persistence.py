"""Saving and loading models through the session, to any URI Spark can write (a local path,
``file:``, HDFS, S3, GCS, ADLS, DBFS, UC volumes), from a classic session or a Spark Connect
client alike: everything is written by Spark's own writers, nothing by this process.

A model directory holds

- ``arrays/``: Parquet rows (name, part, dtype, shape, data), each array's bytes cut into
  parts of at most 16 MiB; numbers and fixed-width strings only, never pickles;
- one Parquet directory per DataFrame the model keeps (the recommender's ``ratings``);
- ``metadata/``: Spark ML's JSON metadata (class, params) with the model's own fields and
  each array's dtype, shape and SHA-256; written last, so it marks a finished save.

``save`` refuses an existing path, ``write().overwrite()`` removes it first (MLlib's rule,
through the server under Spark Connect). A save that stopped half-way has no metadata and
does not load; an array whose bytes differ from the metadata's checksum is refused.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pyarrow as pa
from pyspark.ml.util import (
    DefaultParamsReadable,
    DefaultParamsReader,
    DefaultParamsWritable,
    DefaultParamsWriter,
    MLReader,
    MLWriter,
)

from spark_em.engine.compat import frame_of_arrow
from spark_em.engine.fs import HadoopFS, first_line, prepare_target
from spark_em.engine.session import is_connect
from spark_em.engine.targets import clear_leftovers, staged, target_problem
from spark_em.errors import InputError

__all__ = ["ModelReader", "ModelWriter", "ParamsWritable", "DefaultParamsReadable"]

FORMAT = 2
ARRAYS = "arrays"
PART_BYTES = 16 << 20
# the arrays' rows: (name, Spark SQL type, Arrow type)
ARRAY_FIELDS = [
    ("name", "string", pa.string()),
    ("part", "int", pa.int32()),
    ("dtype", "string", pa.string()),
    ("shape", "array<long>", pa.list_(pa.int64())),
    ("data", "binary", pa.binary()),
]
ARRAY_SCHEMA = ", ".join(f"{name} {sql}" for name, sql, _ in ARRAY_FIELDS)
ARRAY_TYPES = [(name, arrow) for name, _, arrow in ARRAY_FIELDS]
# numbers, booleans and fixed-width text: what np.frombuffer rebuilds without pickle
ARRAY_KINDS = "biufcU"


def _frame_of(spark, rows: list[tuple], fields: list[tuple]):
    """``rows`` as a DataFrame made from an Arrow table (no Python task needed to write it)."""
    columns = list(zip(*rows)) if rows else [[] for _ in fields]
    table = pa.table(
        {name: pa.array(list(values), kind) for (name, kind), values in zip(fields, columns)}
    )
    return frame_of_arrow(spark, table)


def write_metadata(spark, path: str, metadata: str) -> None:
    """Spark ML's ``metadata/`` directory: one text file holding the JSON."""
    _frame_of(spark, [(metadata,)], [("value", pa.string())]).coalesce(1).write.text(
        _join(path, "metadata")
    )


def _join(path: str, name: str) -> str:
    return f"{path.rstrip('/')}/{name}"


class _TargetWriter(MLWriter):
    """A writer that never destroys what must stay, and whose save appears whole or not at
    all.

    Before anything is written: a path that is, holds or lies inside a root, a home
    directory, the working directory or the data the model reads (``_kept``) is refused; an
    existing path is refused (MLlib's rule) unless ``overwrite()``, and even then unless
    spark-em saved it (its metadata names a spark-em class). In a classic session the save
    goes to a staging directory beside the path, renamed into place (a killed save leaves the
    previous one whole, and its staging directory is cleared by the next save there); under
    Spark Connect, where this process cannot rename on the server, the path is replaced in
    place by the server (``handleOverwrite``).
    """

    def _handleOverwrite(self, path: str) -> None:
        prepare_target(self.sparkSession, path, overwrite=True)

    def save(self, path: str) -> None:
        if not isinstance(path, str) or not path:
            raise InputError(f"path: a directory or URI is needed, not {path!r}")
        spark = self.sparkSession
        problem = target_problem(spark, path, self._kept())
        if problem:
            raise InputError(f"{path} cannot be written: {problem}")
        if self.shouldOverwrite:
            self._check_replaceable(path)
        if is_connect(spark):
            prepare_target(spark, path, overwrite=self.shouldOverwrite)
            self.saveImpl(path)
            return
        fs = HadoopFS(spark, path)
        path = fs.qualified(path)  # as Spark's writers resolve it (relative to the JVM's cwd)
        clear_leftovers(spark, path)
        if fs.exists(path) and not self.shouldOverwrite:
            raise InputError(f"{path} already exists; write().overwrite().save(path) replaces it")
        with staged(spark, path, fs.delete) as staging:
            self.saveImpl(staging)

    def _kept(self) -> dict[str, str]:
        """What the saved object reads and a save must not destroy (nothing by default)."""
        return {}

    def _check_replaceable(self, path: str) -> None:
        """``path``, if it exists, is a spark-em save (its metadata names a spark-em class)."""
        found = saved_class(self.sparkSession, path)
        if found is not None and not found.startswith("spark_em."):
            raise InputError(
                f"{path} exists and spark-em did not save it ({found}): overwrite() replaces "
                "only a spark-em save; choose another path"
            )


def read_metadata(spark, path: str) -> dict:
    """The metadata a save at ``path`` holds, as ``DefaultParamsReader.loadMetadata`` reads it,
    through the session's text reader (PySpark 3.5's ``loadMetadata`` takes a SparkContext,
    which Spark Connect has not)."""
    rows = spark.read.text(_join(path, "metadata")).limit(1).collect()
    return DefaultParamsReader._parseMetaData(rows[0][0])


def saved_class(spark, path: str) -> str | None:
    """The class a saved model or estimator at ``path`` records: None when nothing is there,
    a description when something is there that is not a Spark ML save."""
    try:
        rows = spark.read.text(_join(path, "metadata")).limit(1).collect()
    except Exception as exc:  # nothing there, or not a directory of Spark ML's layout
        text = first_line(exc)
        if "PATH_NOT_FOUND" in text or "does not exist" in text:
            if is_connect(spark) or not HadoopFS(spark, path).exists(path):
                return None
        return "not a Spark ML save"
    try:
        return str(json.loads(rows[0][0])["class"])
    except (IndexError, KeyError, TypeError, ValueError):
        return "not a Spark ML save"


class _ParamsWriter(_TargetWriter, DefaultParamsWriter):
    """The estimators' writer: Spark ML's metadata, with the same rule for an existing path."""


class ParamsWritable(DefaultParamsWritable):
    def write(self) -> MLWriter:
        """A writer of this estimator's params (Spark ML's metadata): ``save(path)`` refuses
        an existing path unless ``overwrite()``, which replaces only a spark-em save.

        Returns
        -------
        MLWriter
            The estimator's writer.
        """
        return _ParamsWriter(self)


def array_rows(name: str, array) -> tuple[list[tuple], dict]:
    """``array`` as Parquet rows, and its entry in the metadata (dtype, shape, SHA-256)."""
    array = np.asarray(array, order="C")
    if array.dtype.kind not in ARRAY_KINDS:
        raise InputError(f"{name}: arrays of {array.dtype} cannot be saved (numbers or text only)")
    array = array.astype(array.dtype.newbyteorder("<"), copy=False)
    data = array.tobytes()
    shape = [int(n) for n in array.shape]
    parts = [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)] or [b""]
    rows = [(name, i, array.dtype.str, shape, part) for i, part in enumerate(parts)]
    return rows, {
        "dtype": array.dtype.str,
        "shape": shape,
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def arrays_from_rows(rows, entries: dict, path: str) -> dict:
    """The arrays the metadata lists, rebuilt from their rows and checked against it."""
    parts: dict[str, list] = {}
    for row in rows:
        parts.setdefault(row["name"], []).append((row["part"], bytes(row["data"])))
    arrays = {}
    for name, entry in entries.items():
        pieces = sorted(parts.get(name, []))
        data = b"".join(piece for _, piece in pieces)
        try:
            dtype = np.dtype(entry["dtype"])
            if (
                dtype.kind not in ARRAY_KINDS
                or [i for i, _ in pieces] != list(range(len(pieces)))
                or hashlib.sha256(data).hexdigest() != entry["sha256"]
            ):
                raise ValueError("its bytes do not match the metadata")
            arrays[name] = (
                np.frombuffer(data, dtype).reshape(entry["shape"]).astype(dtype.newbyteorder("="))
            )
        except (TypeError, KeyError, ValueError) as exc:
            raise InputError(
                f"{path}: the model's array {name!r} is missing or altered ({first_line(exc)})"
            ) from None
    return arrays


class ModelWriter(_TargetWriter):
    """A fitted model's writer: its arrays, its DataFrames, then its metadata."""

    def __init__(self, instance):
        super().__init__()
        self.instance = instance

    def _kept(self) -> dict[str, str]:
        """The directories of the files the model's DataFrames read (a loaded recommender's
        ratings): a save over them would delete them before they are read."""
        directories = {
            source.rstrip("/").rpartition("/")[0]
            for frame in self.instance._frames().values()
            for source in frame.inputFiles()
        }
        return {
            f"the model's data {i}" if len(directories) > 1 else "the model's data": d
            for i, d in enumerate(sorted(directories), 1)
        }

    def _check_replaceable(self, path: str) -> None:
        super()._check_replaceable(path)
        frames = self.instance._frames()
        if (
            frames
            and is_connect(self.sparkSession)
            and reads_under(self.sparkSession, path, frames)
        ):
            raise InputError(
                f"{path}: the model's ratings are read from this directory; save it to another path"
            )

    def saveImpl(self, path: str) -> None:
        spark = self.sparkSession
        rows, entries = [], {}
        for name, array in self.instance._arrays().items():
            array_part, entries[name] = array_rows(name, array)
            rows.extend(array_part)
        _frame_of(spark, rows, ARRAY_TYPES).coalesce(1).write.parquet(_join(path, ARRAYS))
        frames = self.instance._frames()
        for name, frame in frames.items():
            frame.write.parquet(_join(path, name))
        # Last: the metadata's presence marks a finished save. Spark ML's JSON and layout
        # (DefaultParamsWriter.saveMetadata's), built from Arrow so no Python task runs.
        metadata = DefaultParamsWriter._get_metadata_to_save(
            self.instance,
            spark,
            extraMetadata={
                "model": self.instance._metadata(),
                "persistence": {"format": FORMAT, "arrays": entries, "frames": sorted(frames)},
            },
        )
        write_metadata(spark, path, metadata)


def reads_under(spark, path: str, frames: dict) -> bool:
    """Under Spark Connect (where this process cannot resolve the server's paths): whether any
    of ``frames`` reads the files a model saved at ``path`` would be read from."""
    sources = {f for frame in frames.values() for f in frame.inputFiles()}
    for name in frames:
        try:
            saved = set(spark.read.parquet(_join(path, name)).inputFiles())
        except Exception:  # nothing readable there: nothing of ours to lose
            continue
        if saved & sources:
            return True
    return False


class ModelReader(MLReader):
    """A fitted model's reader: everything checked against the metadata."""

    def __init__(self, cls):
        super().__init__()
        self.cls = cls

    def load(self, path: str):
        spark = self.sparkSession
        try:
            metadata = read_metadata(spark, path)
        except Exception as exc:  # missing, half-written or altered: Spark, JSON or key errors
            raise InputError(
                f"{path}: not a saved model, or its save did not finish (the "
                f"metadata cannot be read: {first_line(exc)})"
            ) from None
        expected = f"{self.cls.__module__}.{self.cls.__name__}"
        if metadata.get("class") != expected:
            raise InputError(f"{path}: holds a {metadata.get('class')}, not a {expected}")
        saved = metadata.get("persistence")
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            found = saved.get("format") if isinstance(saved, dict) else None
            raise InputError(
                f"{path}: saved in format {found!r}; this version of spark-em reads format {FORMAT}"
            )
        try:
            rows = spark.read.schema(ARRAY_SCHEMA).parquet(_join(path, ARRAYS)).collect()
        except Exception as exc:
            raise InputError(
                f"{path}: the model's arrays cannot be read ({first_line(exc)})"
            ) from None
        arrays = arrays_from_rows(rows, saved["arrays"], path)
        model = restored(self.cls, arrays, metadata, path)
        names = saved.get("frames", [])
        if names:
            model._attach_frames({name: spark.read.parquet(_join(path, name)) for name in names})
        return model


def restored(cls, arrays: dict, metadata: dict, where: str):
    """The model of class ``cls`` that ``metadata`` (Spark ML's, with the model's own fields
    under ``model``) and ``arrays`` describe, with its uid and params; every problem one
    ``InputError`` naming ``where``."""
    try:
        model = cls._rebuilt(arrays, metadata["model"])
        model._resetUid(metadata["uid"])
        DefaultParamsReader.getAndSetParams(model, metadata)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{where}: the saved model cannot be used ({first_line(exc)})") from None
    return model
