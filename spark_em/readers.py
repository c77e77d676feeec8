"""Load a numeric matrix onto Spark as cached blocks, checking every value on the way in.

Formats: whitespace-separated text (the course's ``netflix_incomplete.txt``), CSV, ``.npy``
and a DataFrame column of arrays or vectors. Text is read and parsed on the executors. Each
partition parses its rows into blocks and reports a small summary (rows, width, the first
problem found); the driver checks the summaries, raises one ``InputError`` naming the file and
line of the earliest problem, or gives every block its global row offset and caches the result.
"""

from __future__ import annotations

import os
from typing import Iterable, Iterator

import numpy as np

from spark_em import frames
from spark_em.blocks import DEFAULT_BLOCK_ROWS, compact, with_offsets
from spark_em.errors import InputError

FORMATS = ("text", "csv", "npy")
# Below this much input per partition, a pass costs more in task overhead than it gains from
# parallel work; larger inputs get at least one partition per core.
BYTES_PER_PARTITION = 4 * 1024 * 1024


def default_partitions(parallelism: int, n_bytes: int) -> int:
    return max(1, min(parallelism, -(-n_bytes // BYTES_PER_PARTITION)))


def check_values(values: np.ndarray, ratings: bool) -> tuple[int, int, str] | None:
    """The first bad entry of a block as (row, column, problem), or None if all are fine."""
    bad = ~np.isfinite(values)
    if ratings:
        bad |= values < 0
    if not bad.any():
        return None
    row, col = (int(i) for i in np.argwhere(bad)[0])
    value = values[row, col]
    problem = f"{value} is not a finite number" if not np.isfinite(value) else (
        f"negative value {value:g} (ratings must be >= 0; 0 marks a missing entry)")
    return row, col, problem


class _PartitionParser:
    """Collects one partition's rows into blocks; stops at the first problem, or with ``drop``
    leaves out every row that has one and counts them."""

    def __init__(self, partition: int, block_rows: int, ratings: bool, drop: bool = False,
                 width: int | None = None):
        self.partition = partition
        self.block_rows = block_rows
        self.ratings = ratings
        self.drop = drop
        self.dropped = 0
        self.rows: list[np.ndarray] = []
        self.places: list[int] = []  # where each pending row came from (local line or row)
        self.n_rows = 0
        self.width: int | None = width  # None: the first row's
        self.first_place: int | None = None
        self.error: tuple[int, str] | None = None

    def _pending_problem(self) -> tuple[int, str] | None:
        """The first bad value among the rows not yet in a block, as (place, message)."""
        if not self.rows:
            return None
        problem = check_values(np.vstack(self.rows), self.ratings)
        if problem is None:
            return None
        row, col, what = problem
        return self.places[row], f"column {col + 1}: {what}"

    def fail(self, place: int, message: str) -> None:
        """Record a problem at ``place`` unless a pending row before it has one already (with
        ``drop``: count the row as dropped)."""
        if self.drop:
            self.dropped += 1
            return
        self.error = self._pending_problem() or (place, message)

    def _drop_bad_values(self) -> None:
        values = np.vstack(self.rows)
        bad = ~np.isfinite(values)
        if self.ratings:
            bad |= values < 0
        keep = ~bad.any(axis=1)
        if not keep.all():
            self.dropped += int((~keep).sum())
            self.rows = [r for r, k in zip(self.rows, keep) if k]
            self.places = [p for p, k in zip(self.places, keep) if k]

    def add(self, row: np.ndarray, place: int) -> Iterator[tuple]:
        if self.width is None:
            self.width, self.first_place = row.size, place
        elif row.size != self.width:
            self.fail(place, f"{row.size} values, expected {self.width} as on the rows before")
            return
        self.rows.append(row)
        self.places.append(place)
        if len(self.rows) == self.block_rows:
            yield from self.flush()

    def flush(self) -> Iterator[tuple]:
        if not self.rows or self.error:
            return
        if self.drop:
            self._drop_bad_values()
            if not self.rows:
                return
        self.error = self._pending_problem()
        if self.error:
            return
        values = np.vstack(self.rows)
        yield ("block", (self.partition, self.n_rows, compact(values)))
        self.n_rows += values.shape[0]
        self.rows, self.places = [], []

    def summary(self, **extra) -> tuple:
        return ("meta", dict(partition=self.partition, n_rows=self.n_rows, width=self.width,
                             first_place=self.first_place, error=self.error,
                             dropped=self.dropped, **extra))


def _parse_text(delimiter: str | None, skip_header: bool, block_rows: int, ratings: bool,
                partition_base: int, drop: bool, width: int | None = None):
    def parse(local_partition: int, lines: Iterable[str]) -> Iterator[tuple]:
        parser = _PartitionParser(partition_base + local_partition, block_rows, ratings, drop, width)
        n_lines = 0
        for n_lines, line in enumerate(lines, start=1):
            if parser.error:
                continue  # keep counting lines so later partitions get their line numbers
            if skip_header and local_partition == 0 and n_lines == 1:
                continue
            text = line.strip().lstrip("\ufeff") if n_lines == 1 else line.strip()
            if not text:
                continue
            tokens = text.split(delimiter)
            try:
                row = np.array(tokens, dtype=np.float64)
            except ValueError:
                col, token = next((i, t) for i, t in enumerate(tokens) if not _is_number(t))
                parser.fail(n_lines, f"column {col + 1}: {token.strip()!r} is not a number")
                continue
            yield from parser.add(row, n_lines)
        yield from parser.flush()
        yield parser.summary(n_lines=n_lines)

    return parse


def _width_counts(lines: Iterable[str], delimiter: str | None):
    from collections import Counter

    return Counter(len(t.split(delimiter)) for t in (line.strip() for line in lines) if t)


def _most_common_width(counts: Iterable) -> int | None:
    """The number of values most lines have, from the partitions' width counts: with bad rows
    dropped, the rows of any other width are the bad ones, wherever the first row falls."""
    from collections import Counter

    total = sum(counts, Counter())
    return max(total, key=lambda w: (total[w], -w)) if total else None


def _is_number(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


def _hadoop_files(sc, path: str) -> list[tuple[str, int]]:
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
        (s.getPath().toString(), s.getLen()) for s in fs.listStatus(hpath)
        if s.isFile() and not s.getPath().getName().startswith(("_", "."))
    )
    if not names:
        raise InputError(f"{path}: the directory holds no data files")
    return names


def _local_name(uri: str) -> str:
    return uri[len("file:"):] if uri.startswith("file:") else uri


def _checked_rows(metas: list[dict], describe, report: dict | None) -> dict[int, int]:
    """Each partition's row count, after raising the earliest problem the summaries report."""
    if not any(m["n_rows"] or m["error"] for m in metas):
        raise InputError(describe(None, metas))
    first = next((m for m in metas if m["width"] is not None), None)
    problems = []
    for meta in metas:  # in partition order, so the first problem is the earliest
        if first and meta["width"] not in (None, first["width"]):
            width_error = (meta["first_place"],
                           f"{meta['width']} values, expected {first['width']} as on the rows before")
            if not meta["error"] or meta["error"][0] > width_error[0]:
                meta = dict(meta, error=width_error)
        if meta["error"]:
            problems.append(meta)
    if problems:
        raise InputError(describe(problems[0], metas))
    if report is not None:
        report["dropped"] = sum(m.get("dropped", 0) for m in metas)
    return {m["partition"]: m["n_rows"] for m in metas}


def _assemble(parsed, describe, with_metas: bool = False, report: dict | None = None):
    """Check the partitions' summaries and return the cached blocks with global offsets (and
    the summaries, with ``with_metas``).

    ``parsed`` (an RDD, or a DataFrame from ``frames.parse_pieces``) yields ("block",
    (partition, local_start, values)) and one ("meta", dict) per partition; ``describe(meta,
    metas)`` turns a partition's error into the message to raise. ``report``, if given,
    receives ``dropped``: the rows left out as bad.
    """
    is_frame = frames.is_frame(parsed)
    parsed = parsed.cache() if is_frame else parsed.persist()
    try:
        metas = frames.parsed_metas(parsed) if is_frame else sorted(
            (r[1] for r in parsed.filter(lambda r: r[0] == "meta").collect()),
            key=lambda m: m["partition"])
        rows = _checked_rows(metas, describe, report)
        if is_frame:
            starts = np.concatenate([[0], np.cumsum(list(rows.values()))[:-1]]).astype(int)
            blocks = frames.placed(parsed, dict(zip(rows, starts.tolist())))
        else:
            counts = [0] * (max(rows) + 1)
            for partition, n in rows.items():
                counts[partition] = n
            local = parsed.filter(lambda r: r[0] == "block").map(lambda r: r[1])
            blocks = with_offsets(local, counts).cache()
            blocks.count()
        return (blocks, metas) if with_metas else blocks
    finally:
        parsed.unpersist()


def read_text(spark, path: str, delimiter: str | None = None, header: bool = False,
              ratings: bool = True, num_partitions: int | None = None,
              block_rows: int = DEFAULT_BLOCK_ROWS, on_bad_rows: str = "error",
              report: dict | None = None, backend: str | None = None):
    """A text matrix (whitespace-separated, or ``delimiter``-separated such as CSV) as blocks.

    ``spark`` is a SparkSession (classic or Connect) or a SparkContext; ``backend`` is as for
    ``frames.backend_for``. ``path`` is a file or a directory of files (read in name order).
    Blank lines are skipped; with ``header`` the first line of each file is. ``ratings`` also
    refuses negative values. ``on_bad_rows="drop"`` leaves out rows with a problem (a wrong
    number of values, a token that is not a number, NaN or Inf, a negative rating) and puts
    their count in ``report``.
    """
    if on_bad_rows not in ("error", "drop"):
        raise InputError(f"on_bad_rows must be 'error' or 'drop', not {on_bad_rows!r}")
    options = (delimiter, header, block_rows, ratings, on_bad_rows == "drop")
    on_frames = frames.backend_for(spark, backend) == "dataframe"
    files, parsed, file_of = (_text_frame(spark, path, *options) if on_frames else
                              _text_rdd(frames.context_of(spark), path, num_partitions, *options))

    def describe(meta, metas):
        if meta is None:
            return f"{path}: no data rows"
        file_index = file_of(meta["partition"])
        lines_before = sum(m["n_lines"] for m in metas
                           if file_of(m["partition"]) == file_index and m["partition"] < meta["partition"])
        line, what = meta["error"]
        return f"{_local_name(files[file_index])} line {lines_before + line}: {what}"

    blocks = _assemble(parsed, describe, report=report)
    return frames.repartitioned(blocks, num_partitions) if on_frames and num_partitions else blocks


def _text_rdd(sc, path, num_partitions, delimiter, header, block_rows, ratings, drop):
    listed = _hadoop_files(sc, path)
    files = [name for name, _ in listed]
    wanted = num_partitions or default_partitions(sc.defaultParallelism, sum(size for _, size in listed))
    texts = [sc.textFile(name, max(1, wanted // len(files))) for name in files]
    width = _most_common_width(sc.union(texts).mapPartitions(
        lambda lines: [_width_counts(lines, delimiter)]).collect()) if drop else None
    parts, base, file_of = [], 0, []
    for file_index, lines in enumerate(texts):
        n = lines.getNumPartitions()
        parts.append(lines.mapPartitionsWithIndex(
            _parse_text(delimiter, header, block_rows, ratings, base, drop, width)))
        file_of += [file_index] * n
        base += n
    return files, parts[0] if len(parts) == 1 else sc.union(parts), file_of.__getitem__


FILE_PIECES = 2**40  # a text piece's number: (file index + 1) * FILE_PIECES + split start


def _text_frame(spark, path, delimiter, header, block_rows, ratings, drop):
    """The DataFrame backend's text reading: each file split is a piece, numbered by its
    file's place in name order and its first byte, so pieces sort in line order."""
    from pyspark.sql import functions as F

    files, uris = _listed_files(spark, path)
    lines = spark.read.text(path)
    file_number = F.array_position(F.array(*[F.lit(u) for u in uris]), F.col("_metadata.file_path"))
    source = lines.select((file_number * FILE_PIECES + F.col("_metadata.file_block_start")).alias("piece"),
                          "value")
    width = _most_common_width(frames.per_partition(
        lines.select("value"), lambda rows: _width_counts((r[0] for r in rows), delimiter))) if drop else None
    parse_text = _parse_text(delimiter, header, block_rows, ratings, 0, drop, width)

    def parse(piece, rows):
        if piece < FILE_PIECES:
            raise RuntimeError(f"{path}: a line from a file that was not listed")
        return parse_text(0 if piece % FILE_PIECES == 0 else 1, (r[0] for r in rows))

    return files, frames.parse_pieces(source, parse, ["value"]), lambda piece: piece // FILE_PIECES - 1


def _listed_files(spark, path: str) -> tuple[list[str], list[str]]:
    """The data files at ``path`` in name order, listed by Spark (no SparkContext needed): their
    paths, and the same as Spark's ``_metadata.file_path`` spells them (URL-encoded)."""
    try:
        rows = spark.read.format("binaryFile").load(path).select(
            "path", "_metadata.file_path").collect()
    except Exception as exc:  # an AnalysisException, classic or Connect
        if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
            raise InputError(f"{path}: no such file or directory") from None
        raise
    if not rows:  # an empty directory, or only empty files (which Spark does not list)
        raise InputError(f"{path}: no data rows (no file there holds any data)")
    rows = sorted(rows, key=lambda r: r.path)
    return [r.path for r in rows], [r.file_path for r in rows]


def read_npy(spark, path: str, ratings: bool = True, num_partitions: int | None = None,
             block_rows: int = DEFAULT_BLOCK_ROWS, backend: str | None = None):
    """A 2-D ``.npy`` file as blocks. Each task memory-maps its own rows, so the file must be
    on a file system every executor sees (local mode, NFS, ``/dbfs``). Never unpickles."""
    local = _local_name(path)
    if not os.path.isfile(local):
        raise InputError(f"{path}: no such file")
    try:
        header = np.load(local, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable .npy array ({exc})") from None
    if header.ndim != 2 or header.shape[0] == 0 or header.shape[1] == 0:
        raise InputError(f"{path}: expected a non-empty 2-D array, found shape {header.shape}")
    if not np.issubdtype(header.dtype, np.number) or np.issubdtype(header.dtype, np.complexfloating):
        raise InputError(f"{path}: expected real numbers, found dtype {header.dtype}")
    n = header.shape[0]
    on_frames = frames.backend_for(spark, backend) == "dataframe"
    parts = num_partitions or default_partitions(frames.default_parallelism(spark), header.nbytes)
    bounds = np.linspace(0, n, min(parts, n) + 1).astype(int)
    ranges = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))

    def load(partition: int, items: Iterable) -> Iterator[tuple]:
        data = np.load(local, mmap_mode="r", allow_pickle=False)
        for lo, hi in items:
            error = None
            for start in range(lo, hi, block_rows):
                values = np.asarray(data[start:min(hi, start + block_rows)], dtype=np.float64)
                problem = check_values(values, ratings)
                if problem:
                    row, col, what = problem
                    error = (start + row + 1, f"column {col + 1}: {what}")
                    break
                yield ("block", (partition, start - lo, compact(values)))
            yield ("meta", dict(partition=partition, n_rows=hi - lo, width=header.shape[1],
                                first_place=lo + 1, error=error))

    if on_frames:
        source = spark.createDataFrame([(i, lo, hi) for i, (lo, hi) in enumerate(ranges)],
                                       "piece long, lo long, hi long").repartition(len(ranges))
        parsed = frames.parse_pieces(source, load, ["lo", "hi"])
    else:
        parsed = frames.context_of(spark).parallelize(ranges, len(ranges)).mapPartitionsWithIndex(load)
    return _assemble(parsed, lambda meta, metas: f"{path} row {meta['error'][0]}: {meta['error'][1]}"
                     if meta else f"{path}: no data rows")


def read_dataframe(df, column: str, ratings: bool = True, block_rows: int = DEFAULT_BLOCK_ROWS,
                   backend: str | None = None):
    """A DataFrame column of numeric arrays or ``pyspark.ml`` vectors as blocks, in row order;
    ``backend`` as for ``frames.backend_for`` (by default, that of ``df``'s session)."""
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql.types import ArrayType, NumericType

    if column not in df.columns:
        raise InputError(f"no column {column!r}; the DataFrame has {', '.join(df.columns)}")
    kind = df.schema[column].dataType
    if not (isinstance(kind, VectorUDT)
            or (isinstance(kind, ArrayType) and isinstance(kind.elementType, NumericType))):
        raise InputError(f"column {column!r} must hold arrays of numbers or vectors, not {kind.simpleString()}")

    def parse(partition: int, rows: Iterable) -> Iterator[tuple]:
        parser = _PartitionParser(partition, block_rows, ratings)
        n = 0
        for n, row in enumerate(rows, start=1):
            if parser.error:
                continue
            value = row[0]
            if value is None:
                parser.fail(n, "the value is null")
                continue
            array = value.toArray() if hasattr(value, "toArray") else np.array(
                [np.nan if v is None else v for v in value], dtype=np.float64)
            yield from parser.add(np.asarray(array, dtype=np.float64), n)
        yield from parser.flush()
        yield parser.summary(n_lines=n)

    if frames.backend_for(df.sparkSession, backend) == "dataframe":
        parsed = frames.parse_pieces(df.select(column), parse, [column])
    else:
        parsed = df.select(column).rdd.mapPartitionsWithIndex(parse)

    def describe(meta, metas):
        if meta is None:
            return f"column {column!r}: no data rows"
        before = sum(m["n_lines"] for m in metas if m["partition"] < meta["partition"])
        return f"column {column!r} row {before + meta['error'][0]}: {meta['error'][1]}"

    return _assemble(parsed, describe)


def read_matrix(spark, path: str, fmt: str | None = None, ratings: bool = True,
                num_partitions: int | None = None, block_rows: int = DEFAULT_BLOCK_ROWS,
                header: bool = False, on_bad_rows: str = "error", report: dict | None = None,
                backend: str | None = None):
    """Dispatch on ``fmt`` (``text``, ``csv`` or ``npy``; guessed from the file name if None)."""
    if fmt is None:
        lower = path.lower()
        fmt = "npy" if lower.endswith(".npy") else "csv" if lower.endswith(".csv") else "text"
    if fmt == "npy":
        if on_bad_rows != "error":
            raise InputError("dropping bad rows is for text, CSV and triples input, not .npy")
        return read_npy(spark, path, ratings, num_partitions, block_rows, backend)
    if fmt in ("text", "csv"):
        return read_text(spark, path, "," if fmt == "csv" else None, header, ratings,
                         num_partitions, block_rows, on_bad_rows, report, backend)
    raise InputError(f"unknown input format {fmt!r}; choose one of {', '.join(FORMATS)}")
