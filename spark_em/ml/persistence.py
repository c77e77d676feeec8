"""Saving and loading models: params as Spark ML metadata (written through the session), arrays
as ``.npy`` files (never pickles), and ``overwrite()`` that works under Spark Connect too.

Fitted models are saved to a directory on the driver's file system; a path with another
scheme than ``file:`` is refused. A model that keeps DataFrames (the recommender's training
ratings) writes them beside its arrays as Parquet, through the session. Under Spark Connect the metadata is written by the server
and the arrays by this process, so the two must share that file system (as with a
``local[...]`` server).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from pyspark.ml.util import (DefaultParamsReadable, DefaultParamsReader, DefaultParamsWritable,
                             DefaultParamsWriter, MLReadable, MLReader, MLWritable, MLWriter)

from spark_em.engine.session import is_connect
from spark_em.errors import InputError

__all__ = ["ArrayModelPersistence", "ParamsWritable", "DefaultParamsReadable"]


def _local_dir(path: str) -> Path:
    if "://" in path and not path.startswith("file://"):
        raise InputError(f"{path}: models are saved to the driver's file system, not to a URL")
    return Path(path[len("file://"):] if path.startswith("file://") else path)


class _ConnectOverwrite:
    """``overwrite()`` without the JVM under Spark Connect: the path (on the driver's file
    system) is removed from Python; a classic session keeps Spark's own handling."""

    def _handleOverwrite(self, path: str) -> None:
        if not is_connect(self.sparkSession):
            return super()._handleOverwrite(path)
        target = _local_dir(path)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()


class _ParamsWriter(_ConnectOverwrite, DefaultParamsWriter):
    """The estimators' writer: Spark's, with an ``overwrite()`` that works under Connect."""


class ParamsWritable(DefaultParamsWritable):
    def write(self) -> MLWriter:
        return _ParamsWriter(self)


class _ArrayModelWriter(_ConnectOverwrite, MLWriter):
    def __init__(self, instance):
        super().__init__()
        self.instance = instance

    def _handleOverwrite(self, path: str) -> None:
        """Overwrite, unless the model's own DataFrames are read from under ``path`` (a
        loaded model saved back where it came from would delete them before writing them)."""
        target = _local_dir(path).resolve()
        for frame in getattr(self.instance, "_frames", dict)().values():
            for source in frame.inputFiles():
                local = Path(source[len("file:"):] if source.startswith("file:") else source)
                if target == local or target in local.parents:
                    raise InputError(f"{path}: the model's ratings are read from this directory; "
                                     "save it to another path")
        return super()._handleOverwrite(path)

    def saveImpl(self, path: str) -> None:
        data = _local_dir(path) / "data"
        # The session, not its SparkContext: a Spark Connect session has none.
        DefaultParamsWriter.saveMetadata(self.instance, path, self.sparkSession,
                                         extraMetadata={"model": self.instance._extra()})
        data.mkdir(parents=True, exist_ok=True)
        for name, array in self.instance._arrays().items():
            np.save(data / f"{name}.npy", np.asarray(array), allow_pickle=False)
        for name, frame in getattr(self.instance, "_frames", dict)().items():
            frame.write.parquet(f"{path.rstrip('/')}/{name}")


class _ArrayModelReader(MLReader):
    def __init__(self, cls):
        super().__init__()
        self.cls = cls

    def load(self, path: str):
        try:
            metadata = DefaultParamsReader.loadMetadata(path, self.sparkSession)
            metadata["model"]
        except Exception as exc:  # a missing, truncated or altered file: Spark, JSON or key errors
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{path}: the model's metadata cannot be read ({first})") from None
        data = _local_dir(path) / "data"
        try:
            arrays = {f.stem: np.load(f, allow_pickle=False) for f in sorted(data.glob("*.npy"))}
        except ValueError as exc:
            raise InputError(f"{path}: a model array cannot be read ({exc})") from None
        model = self.cls._from_saved(arrays, metadata["model"])
        if hasattr(model, "_attach_frames"):
            model._attach_frames({name: self.sparkSession.read.parquet(f"{path.rstrip('/')}/{name}")
                                  for name in model._frames()})
        DefaultParamsReader.getAndSetParams(model, metadata)
        return model


class ArrayModelPersistence(MLWritable, MLReadable):
    def write(self) -> MLWriter:
        return _ArrayModelWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return _ArrayModelReader(cls)
