"""Paths through the session's file system: whatever URI Spark can write (a local path,
``file:``, HDFS, S3, GCS, ADLS, DBFS, UC volumes).

``prepare_target`` works in any session (under Spark Connect the server does it). The
others reach Hadoop's ``FileSystem`` in the driver's JVM, so they need a classic session.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spark_em.engine.session import is_connect
from spark_em.errors import InputError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def has_scheme(path: str) -> bool:
    """A URI (``s3a://b/x``, ``dbfs:/x``, ``file:///x``) rather than a plain path."""
    return bool(_SCHEME.match(path))


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (a Java exception's own, through py4j)."""
    java = getattr(exc, "java_exception", None)
    message = java.getMessage() if java is not None else None
    text = str(
        message if message is not None else (java.toString() if java is not None else exc)
    ).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def prepare_target(spark, path: str, overwrite: bool) -> None:
    """MLlib's rule for a save: an existing ``path`` is refused, or removed with
    ``overwrite``; through the session's file system (the server's under Spark Connect)."""
    try:
        if is_connect(spark):
            from pyspark.ml.util import ML_CONNECT_HELPER_ID
            from pyspark.ml.wrapper import JavaWrapper

            JavaWrapper(java_obj=ML_CONNECT_HELPER_ID)._call_java(
                "handleOverwrite", path, overwrite
            )
        else:
            jvm = spark.sparkContext._jvm
            jvm.org.apache.spark.ml.util.FileSystemOverwrite().handleOverwrite(
                path, overwrite, spark._jsparkSession
            )
    except Exception as exc:  # py4j or Connect errors: the message is what matters
        message = first_line(exc)
        if "already exists" in message:
            raise InputError(
                f"{path} already exists; write().overwrite().save(path) replaces it"
            ) from None
        raise InputError(f"{path}: cannot be written ({message})") from None


def path_exists(spark, path: str) -> bool | None:
    """Whether ``path`` exists, where this process can tell (a classic session, through
    Hadoop's ``FileSystem``); None under Spark Connect, where only the server can."""
    if is_connect(spark):
        return None
    return HadoopFS(spark, path).exists(path)


class HadoopFS:
    """Hadoop's ``FileSystem`` of a classic session, for the files Python writes itself."""

    def __init__(self, spark, what: str):
        if is_connect(spark):
            raise InputError(
                f"{what}: under Spark Connect this process cannot reach the "
                "server's file system; give a plain local path"
            )
        self._jvm = spark.sparkContext._jvm
        # the session's configuration: what its readers and writers see (fs.s3a.* set by
        # spark.conf.set included)
        self._conf = spark._jsparkSession.sessionState().newHadoopConf()

    def _path(self, path: str):
        return self._jvm.org.apache.hadoop.fs.Path(path)

    def _fs(self, path: str):
        return self._path(path).getFileSystem(self._conf)

    def qualified(self, path: str) -> str:
        return str(self._fs(path).makeQualified(self._path(path)).toString())

    def exists(self, path: str) -> bool:
        return bool(self._fs(path).exists(self._path(path)))

    def mkdirs(self, path: str) -> None:
        self._fs(path).mkdirs(self._path(path))

    def delete(self, path: str) -> None:
        self._fs(path).delete(self._path(path), True)

    def listed(self, directory: str) -> list[str]:
        """The paths of the entries of ``directory`` (none if it does not exist)."""
        path = self._path(directory)
        fs = self._fs(directory)
        if not fs.exists(path):
            return []
        return [str(status.getPath().toString()) for status in fs.listStatus(path)]

    def rename(self, source: str, target: str) -> None:
        if not self._fs(source).rename(self._path(source), self._path(target)):
            raise OSError(f"could not move {source} to {target}")

    def upload(self, local: Path, target: str) -> None:
        """Every file and directory in ``local`` into the directory ``target``."""
        for entry in sorted(local.iterdir()):
            self._fs(target).copyFromLocalFile(
                False,
                True,
                self._path(entry.resolve().as_uri()),
                self._path(f"{target}/{entry.name}"),
            )

    def download(self, source: str, local: Path) -> None:
        self._fs(source).copyToLocalFile(
            False, self._path(source), self._path(local.resolve().as_uri()), True
        )


@contextmanager
def local_copy(spark, path: str, what: str, names: list[str]) -> Iterator[Path]:
    """A local directory holding the files ``names`` of the directory ``path`` (those that
    exist): ``path`` itself when it is a plain path, else a temporary copy of just those
    files made through Hadoop's ``FileSystem``."""
    if not has_scheme(path):
        yield Path(path)
        return
    fs = HadoopFS(spark, what)
    if not fs.exists(path):
        raise InputError(f"{what}: {path} does not exist")
    work = Path(tempfile.mkdtemp(prefix="spark-em-"))
    try:
        for name in names:
            source = f"{path.rstrip('/')}/{name}"
            if fs.exists(source):
                fs.download(source, work / name)
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
