"""Listing a source's data files: through Hadoop's file system where there is a SparkContext,
through Spark's ``binaryFile`` source where there is not (Spark Connect)."""

from __future__ import annotations

from spark_em.errors import InputError


def hadoop_files(sc, path: str) -> list[tuple[str, int]]:
    """The data files at ``path`` (a file, or a directory's visible files) with their sizes,
    through Hadoop's file system so that local paths, HDFS, S3 and DBFS all work."""
    jvm = sc._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(sc._jsc.hadoopConfiguration())
    if not fs.exists(hpath):
        raise InputError(f"{path}: no such file or directory")
    status = fs.getFileStatus(hpath)
    if not status.isDirectory():
        return [(status.getPath().toString(), status.getLen())]
    names = sorted(
        (s.getPath().toString(), s.getLen())
        for s in fs.listStatus(hpath)
        if s.isFile() and not s.getPath().getName().startswith(("_", "."))
    )
    if not names:
        raise InputError(f"{path}: the directory holds no data files")
    return names


def listed_files(spark, path: str) -> tuple[list[str], list[str]]:
    """The data files at ``path`` in name order, listed by Spark (no SparkContext needed): their
    paths, and the same as Spark's ``_metadata.file_path`` spells them (URL-encoded)."""
    try:
        rows = (
            spark.read.format("binaryFile")
            .load(path)
            .select("path", "_metadata.file_path")
            .collect()
        )
    except Exception as exc:  # an AnalysisException, classic or Connect
        if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
            raise InputError(f"{path}: no such file or directory") from None
        raise
    if not rows:  # an empty directory, or only empty files (which Spark does not list)
        raise InputError(f"{path}: no data rows (no file there holds any data)")
    rows = sorted(rows, key=lambda r: r.path)
    return [r.path for r in rows], [r.file_path for r in rows]
