"""Load a numeric matrix onto Spark as cached blocks, checking every value on the way in; write
a matrix of blocks back to a file.

Formats: whitespace-separated text (the course's ``netflix_incomplete.txt``), CSV, ``.npy``
and a DataFrame column of arrays or vectors. Text is read and parsed on the executors, each
file split a piece (``io.parser``); the driver checks the pieces' summaries, raises one
``InputError`` naming the file and line of the earliest problem, or places the blocks at
their global rows. Every loader takes ``backend`` (``rdd``, ``dataframe`` or None for what
the session allows) and works on a SparkSession, classic or Spark Connect, or a SparkContext.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from spark_em.engine.backend import backend_for, default_parallelism
from spark_em.engine.block import DEFAULT_BLOCK_ROWS, FILE_PIECES, default_partitions
from spark_em.engine.compat import try_cast
from spark_em.engine.ops import block_summary
from spark_em.errors import InputError
from spark_em.io.columnar import (
    NUMBER,
    Column,
    feature_columns,
    kind_of,
    parse_batches,
    selected,
)
from spark_em.io.named import read_frame
from spark_em.io.parser import (
    Batches,
    PartitionParser,
    aggregate_parsed,
    assemble,
    check_missing,
    rows_before,
    value_check,
)
from spark_em.kernels.arrays import MAX_MAGNITUDE

FORMATS = ("text", "csv", "npy")


def _check_on_bad_rows(on_bad_rows: str) -> None:
    if on_bad_rows not in ("error", "drop"):
        raise InputError(
            f"{{param}} must be 'error' or 'drop', not {on_bad_rows!r}", param="on_bad_rows"
        )


# what marks a missing value in text with missing="nan" (as well as an empty field)
MISSING_TOKENS = frozenset({"", "na", "nan", "null"})


def _parse_text(
    delimiter: str | None,
    skip_header: bool,
    block_rows: int,
    ratings: bool,
    drop: bool,
    width: int | None = None,
    missing: str | None = None,
):
    """Parse a piece of a text file: its lines into checked rows."""
    check = value_check(ratings, missing)

    def parse(piece: int, rows: Iterable[tuple]) -> Iterator[tuple]:
        first_in_file = piece % FILE_PIECES == 0
        parser = PartitionParser(
            piece, block_rows, check, drop, width, missing, summarize=block_summary
        )
        n_lines = 0
        for n_lines, (line,) in enumerate(rows, start=1):
            if parser.error:
                continue  # keep counting lines so later pieces get their line numbers
            if skip_header and first_in_file and n_lines == 1:
                continue
            text = line.strip().lstrip("\ufeff") if n_lines == 1 else line.strip()
            if not text:
                continue
            tokens = text.split(delimiter)
            if missing:
                tokens = ["nan" if t.strip().lower() in MISSING_TOKENS else t for t in tokens]
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


def _width_counts(rows: Iterable[tuple], delimiter: str | None) -> Counter:
    return Counter(len(t.split(delimiter)) for t in (row[0].strip() for row in rows) if t)


def _most_common_width(counts: Iterable[Counter]) -> int | None:
    """The number of values most lines have, from the partitions' width counts: with bad rows
    dropped, the rows of any other width are the bad ones, wherever the first row falls."""
    total = sum(counts, Counter())
    return max(total, key=lambda w: (total[w], -w)) if total else None


def _is_number(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


def _local_name(uri: str) -> str:
    return uri[len("file:") :] if uri.startswith("file:") else uri


def _file_of(meta: dict) -> int:
    return meta["partition"] // FILE_PIECES - 1


def read_text(
    spark,
    path: str,
    delimiter: str | None = None,
    header: bool = False,
    ratings: bool = True,
    num_partitions: int | None = None,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    on_bad_rows: str = "error",
    report: dict | None = None,
    backend: str | None = None,
    missing: str | None = None,
):
    """A text matrix (whitespace-separated, or ``delimiter``-separated such as CSV) as blocks.

    ``path`` is a file or a directory of files (read in name order). Blank lines are skipped;
    with ``header`` the first line of each file is. ``ratings`` also refuses negative values.
    ``on_bad_rows="drop"`` leaves out rows with a problem (a wrong number of values, a token
    that is not a number, NaN or Inf, a negative rating) and puts their count in ``report``.
    ``missing="nan"`` (with ``ratings=False``) reads an empty field, ``NA``, ``nan`` or
    ``null`` as a missing value (NaN) instead of refusing it; ``missing="zero"`` also a 0.

    Parameters
    ----------
    spark : SparkSession or SparkContext
        The session (classic or Spark Connect), or a classic session's context.
    path : str
        A file or a directory of files, local or any URI Spark reads.
    delimiter : str, optional
        What separates the values (``","`` for CSV); by default any whitespace.
    header : bool, default False
        Skip the first line of each file.
    ratings : bool, default True
        Ratings (0 = missing, negative values refused), or complete data (False).
    num_partitions : int, optional
        How many partitions the blocks are spread over; by default as the files are split.
    block_rows : int, default 4096
        Rows per block.
    on_bad_rows : {"error", "drop"}, default "error"
        Stop at the first bad row (naming its file and line), or leave bad rows out.
    report : dict, optional
        Receives ``dropped``, the number of rows left out.
    backend : {"rdd", "dataframe"}, optional
        Where the blocks live; by default what the session allows (RDD blocks in a classic
        session, the DataFrame backend under Spark Connect).
    missing : {"nan", "zero"}, optional
        What marks a missing value in complete data (``ratings=False``); by default every
        value must be a number.

    Returns
    -------
    blocks
        Cached blocks (an RDD of ``Block`` or a DataFrame of blocks, by the backend), in the
        input's row order; the models' fits and ``engine.ops`` take them, ``ops.release``
        frees them.

    Examples
    --------
    >>> from spark_em import get_spark, read_text
    >>> spark = get_spark()
    >>> ratings = read_text(spark, "netflix_incomplete.txt")  # whitespace, 0 = missing
    >>> report = {}
    >>> table = read_text(spark, "points.csv", delimiter=",", header=True, ratings=False,
    ...                   on_bad_rows="drop", report=report)
    >>> report["dropped"]
    """
    _check_on_bad_rows(on_bad_rows)
    missing = check_missing(missing, ratings)
    chosen = backend_for(spark, backend)
    drop = on_bad_rows == "drop"
    files, pieces = chosen.text_files(spark, path, num_partitions)
    width = (
        _most_common_width(
            chosen.per_partition(pieces, lambda rows: _width_counts(rows, delimiter))
        )
        if drop
        else None
    )
    parse_text = _parse_text(delimiter, header, block_rows, ratings, drop, width, missing)

    def parse(piece: int, rows):
        if piece < FILE_PIECES:
            raise RuntimeError(f"{path}: a line from a file that was not listed")
        return parse_text(piece, rows)

    def describe(meta, metas):
        if meta is None:
            return f"{path}: no data rows"
        line, what = meta["error"]
        lines = rows_before(meta, metas, lambda a, b: _file_of(a) == _file_of(b)) + line
        return f"{_local_name(files[_file_of(meta)])} line {lines}: {what}"

    blocks, _ = assemble(chosen, pieces, parse, describe, report)
    return chosen.repartitioned(blocks, num_partitions) if num_partitions else blocks


def read_npy(
    spark,
    path: str,
    ratings: bool = True,
    num_partitions: int | None = None,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    backend: str | None = None,
    missing: str | None = None,
):
    """A 2-D ``.npy`` file as blocks. Each task memory-maps its own rows, so the file must be
    on a file system every executor sees (local mode, NFS, ``/dbfs``). Never unpickles. With
    ``missing="nan"`` (and ``ratings=False``) NaN marks a missing value (``"zero"``: 0).

    Parameters
    ----------
    spark : SparkSession or SparkContext
        The session (classic or Spark Connect), or a classic session's context.
    path : str
        The ``.npy`` file: a non-empty 2-D array of real numbers.
    ratings : bool, default True
        Ratings (0 = missing, negative values refused), or complete data (False).
    num_partitions : int, optional
        How many partitions; by default from the cluster's parallelism and the file's size.
    block_rows : int, default 4096
        Rows per block.
    backend : {"rdd", "dataframe"}, optional
        Where the blocks live; by default what the session allows (RDD blocks in a classic
        session, the DataFrame backend under Spark Connect).
    missing : {"nan", "zero"}, optional
        What marks a missing value in complete data (``ratings=False``); by default every
        value must be a number.

    Returns
    -------
    blocks
        Cached blocks (an RDD of ``Block`` or a DataFrame of blocks, by the backend), in the
        input's row order; the models' fits and ``engine.ops`` take them, ``ops.release``
        frees them.

    Examples
    --------
    >>> from spark_em import get_spark, read_npy
    >>> blocks = read_npy(get_spark(), "points.npy", ratings=False)
    """
    missing = check_missing(missing, ratings)
    local = _local_name(path)
    if not os.path.isfile(local):
        raise InputError(f"{path}: no such file")
    try:
        header = np.load(local, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable .npy array ({exc})") from None
    if header.ndim != 2 or header.shape[0] == 0 or header.shape[1] == 0:
        raise InputError(f"{path}: expected a non-empty 2-D array, found shape {header.shape}")
    if not np.issubdtype(header.dtype, np.number) or np.issubdtype(
        header.dtype, np.complexfloating
    ):
        raise InputError(f"{path}: expected real numbers, found dtype {header.dtype}")
    n, width = header.shape
    chosen = backend_for(spark, backend)
    parts = num_partitions or default_partitions(default_parallelism(spark), header.nbytes)
    bounds = np.linspace(0, n, min(parts, n) + 1).astype(int)
    ranges = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    check = value_check(ratings, missing)

    def load(piece: int, items: Iterable) -> Iterator[tuple]:
        data = np.load(local, mmap_mode="r", allow_pickle=False)
        for lo, hi in items:
            parser = PartitionParser(
                piece, block_rows, check, width=width, missing=missing, summarize=block_summary
            )
            for start in range(lo, hi, block_rows):  # places are global rows, from 1
                values = np.asarray(data[start : min(hi, start + block_rows)], dtype=np.float64)
                yield from parser.add_block(values, start + 1)
            yield from parser.flush()
            yield parser.summary(n_lines=hi - lo)

    def describe(meta, metas):
        if meta is None:
            return f"{path}: no data rows"
        return f"{path} row {meta['error'][0]}: {meta['error'][1]}"

    return assemble(chosen, chosen.items(spark, ranges), load, describe)[0]


def read_dataframe(
    df,
    column: str | Sequence[str],
    ratings: bool = True,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    backend: str | None = None,
    missing: str | None = None,
    weights: str | None = None,
    param: str = "column",
    source: str | None = None,
):
    """A DataFrame's features as blocks, in row order: a column of ``pyspark.ml`` vectors
    (dense or sparse) or of numeric arrays, or a list of numeric columns; read one Arrow batch
    at a time (``io.columnar``) in one pass. ``backend`` by default that of ``df``'s session.
    With ``missing="nan"`` (and ``ratings=False``) NaN, a null element of an array and a null
    in a numeric column mark a missing value (``"zero"``: 0 does). ``weights``: the name of a
    numeric column of each row's weight (>= 0, finite), which become the blocks' weights
    (with missing values too; not for ratings).

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        The data.
    column : str or list of str
        Its column of ``pyspark.ml`` vectors or arrays of numbers, all of one length; or its
        numeric columns, one feature each.
    ratings : bool, default True
        Ratings (0 = missing, negative values refused), or complete data (False).
    block_rows : int, default 4096
        Rows per block.
    backend : {"rdd", "dataframe"}, optional
        Where the blocks live; by default what ``df``'s session allows (RDD blocks in a classic
        session, the DataFrame backend under Spark Connect).
    missing : {"nan", "zero"}, optional
        What marks a missing value in complete data (``ratings=False``); by default every
        value must be a number.
    weights : str, optional
        A numeric column of each row's weight (finite, >= 0); complete data only.
    param : str, default "column"
        The name to give the features in a message about their column (an estimator's
        ``featuresCol``).
    source : str, optional
        What a message about a row calls the data (a file's name); by default the features
        column, or "the DataFrame".

    Returns
    -------
    blocks
        Cached blocks (an RDD of ``Block`` or a DataFrame of blocks, by the backend), in the
        input's row order; the models' fits and ``engine.ops`` take them, ``ops.release``
        frees them.

    Examples
    --------
    >>> from pyspark.ml.linalg import Vectors
    >>> from spark_em import read_dataframe, summarize
    >>> df = spark.createDataFrame(
    ...     [(Vectors.dense([1.0, 2.0]), 1.0), (Vectors.dense([3.0, 4.0]), 2.0)], ["x", "w"]
    ... )
    >>> summarize(read_dataframe(df, "x", ratings=False, weights="w")).total_weight
    3.0
    >>> blocks = read_dataframe(points, ["height", "weight"], ratings=False)
    """
    backend, pieces, parse, describe = _frame_load(
        df, column, ratings, block_rows, backend, missing, weights, param, source
    )
    return assemble(backend, pieces, parse, describe)[0]


def _frame_load(df, column, ratings, block_rows, backend, missing, weights, param, source):
    """What reading ``df`` takes (``read_dataframe``'s arguments): the backend, the batches,
    their parser and how a problem is worded."""
    features = feature_columns(df, column, param, empty="the value is null")
    missing = check_missing(missing, ratings)
    if weights is not None:
        _check_weight_column(df, weights, [c.name for c in features], ratings)
    named = [c.name for c in features] if features[0].kind == NUMBER else None
    check = value_check(ratings, missing, named)
    columns = features + ([] if weights is None else [Column(weights, NUMBER, None)])
    if weights is not None:
        check = _with_weight(check, weights)

    def make_parser(piece: int) -> PartitionParser:
        return PartitionParser(
            piece,
            block_rows,
            check,
            missing=missing,
            weight_column=None if weights is None else -1,
            summarize=block_summary,
        )

    where = source or (
        "the DataFrame" if features[0].kind == NUMBER else f"column {features[0].name!r}"
    )

    def describe(meta, metas):
        if meta is None:
            return f"{where}: no data rows"
        row = rows_before(meta, metas) + meta["error"][0]
        message = meta["error"][1].removeprefix(f"{where}: ")  # said once is enough
        return f"{where} row {row}: {message}"

    chosen = backend_for(df.sparkSession, backend)
    frame, arriving = selected(df, columns)
    return chosen, Batches(frame), parse_batches(arriving, make_parser), describe


class _NoRows(Exception):
    """A DataFrame with no rows, where that is no error."""


def aggregate_dataframe(
    df,
    column: str | Sequence[str],
    block_stats,
    add,
    params,
    backend: str | None = None,
    missing: str | None = None,
    weights: str | None = None,
    param: str = "column",
    ratings: bool = False,
):
    """Σ ``block_stats(values, params)`` over the rows of ``df``'s features, read and checked
    as ``read_dataframe`` reads them, in one pass with nothing cached: for an update that
    reads its data once (a stepwise EM step).

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        The data.
    column : str or list of str
        Its features, as ``read_dataframe`` takes them.
    block_stats : callable
        ``block_stats(values, params)`` (and ``weights=`` for weighted rows) of one block.
    add : callable
        The sum of two statistics.
    params : object
        What ``block_stats`` is given (shipped to the executors once).
    backend, missing, weights, param
        As for ``read_dataframe``.
    ratings : bool, default False
        Rows of ratings (0 = missing, negative values refused) instead of complete data.

    Returns
    -------
    tuple
        The total, or None when ``df`` has no rows; and the width of the rows (None
        likewise).

    Examples
    --------
    >>> from spark_em.io.matrix import aggregate_dataframe
    >>> total, width = aggregate_dataframe(
    ...     df, "features", lambda X, _: X.sum(axis=0), lambda a, b: a + b, None
    ... )
    """
    chosen, pieces, parse, describe = _frame_load(
        df, column, ratings, DEFAULT_BLOCK_ROWS, backend, missing, weights, param, None
    )

    def described(meta, metas):
        if meta is None:
            raise _NoRows
        return describe(meta, metas)

    try:
        total, metas = aggregate_parsed(chosen, pieces, parse, described, block_stats, add, params)
    except _NoRows:
        return None, None
    width = next((m["width"] for m in metas if m["width"] is not None), None)
    return total, width


def _with_weight(check, name: str):
    """``check`` of the features, with the last column each row's weight (finite, >= 0)."""

    def checked(values: np.ndarray):
        weight = values[:, -1]
        with np.errstate(invalid="ignore"):
            bad_weight = ~np.isfinite(weight) | (weight < 0) | (np.abs(weight) > MAX_MAGNITUDE)
        bad, droppable, describe = check(values[:, :-1])

        def described(row: int) -> str:
            if bad_weight[row]:
                return f"weight ({name!r}) {weight[row]} is not a finite number >= 0"
            return describe(row)

        return bad | bad_weight, droppable & ~bad_weight, described

    return checked


def _check_weight_column(df, weight_col: str, features: list[str], ratings: bool) -> None:
    if weight_col not in df.columns:
        raise InputError(
            f"no weight column {weight_col!r}; the DataFrame has {', '.join(df.columns)}"
        )
    if weight_col in features:
        raise InputError(f"the weight column cannot be a features column ({weight_col!r})")
    if kind_of(df, weight_col, "weightCol") != NUMBER:
        raise InputError(
            f"the weight column {weight_col!r} must hold numbers, not "
            f"{df.schema[weight_col].dataType.simpleString()}"
        )
    if ratings:
        raise InputError("row weights are not for ratings: each rating is one observation")


def read_columns(
    spark,
    path: str,
    fmt: str | None = None,
    weights: str | None = None,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    backend: str | None = None,
    missing: str | None = None,
    num_partitions: int | None = None,
    features: list[str] | None = None,
):
    """A CSV file with a header line, or Parquet (by ``fmt`` or the name: ``io.named``), whose
    columns ``features`` (default: every column but the weight, in the file's order) and, if
    named, ``weights`` become complete-data blocks (weighted when there is a weight column).
    ``num_partitions`` as for ``read_text``.

    Parameters
    ----------
    spark : SparkSession
        The session (classic or Spark Connect).
    path : str
        A CSV file with a header line, or Parquet; local or any URI Spark reads.
    fmt : {"csv", "parquet"}, optional
        The format; by default from the name (``.csv``: CSV, anything else Parquet).
    weights : str, optional
        The column of each row's weight (finite, >= 0); by default every row weighs 1.
    block_rows : int, default 4096
        Rows per block.
    backend : {"rdd", "dataframe"}, optional
        Where the blocks live; by default what the session allows (RDD blocks in a classic
        session, the DataFrame backend under Spark Connect).
    missing : {"nan", "zero"}, optional
        What marks a missing value (an empty CSV field or a value that is not a number is
        read as NaN); by default every value must be a number.
    num_partitions : int, optional
        How many partitions; by default as the file is read.
    features : list of str, optional
        The feature columns, in this order; by default every column but the weight.

    Returns
    -------
    blocks
        Cached blocks (an RDD of ``Block`` or a DataFrame of blocks, by the backend), in the
        input's row order; the models' fits and ``engine.ops`` take them, ``ops.release``
        frees them.

    Examples
    --------
    >>> from spark_em import get_spark, read_columns
    >>> blocks = read_columns(get_spark(), "people.csv", weights="w", features=["age", "income"])
    """
    df = read_frame(spark, path, fmt)
    if weights is not None and weights not in df.columns:
        raise InputError(f"{path}: no weight column {weights!r}; it has {', '.join(df.columns)}")
    unknown = [c for c in (features or []) if c not in df.columns]
    if unknown:
        raise InputError(
            f"{path}: no column {', '.join(map(repr, unknown))}; it has {', '.join(df.columns)}"
        )
    features = features or [c for c in df.columns if c != weights]
    if weights in features:
        raise InputError(f"{path}: the weight column {weights!r} cannot be a feature")
    if not features:
        raise InputError(f"{path}: no feature columns")
    chosen = [try_cast(c, "double").alias(c) for c in features]
    if weights:
        chosen.append(try_cast(weights, "double").alias(weights))
    blocks = read_dataframe(
        df.select(*chosen),
        features,
        ratings=False,
        block_rows=block_rows,
        backend=backend,
        missing=missing,
        weights=weights,
        source=path,
    )
    return (
        backend_for(spark, backend).repartitioned(blocks, num_partitions)
        if num_partitions
        else blocks
    )


def read_matrix(
    spark,
    path: str,
    fmt: str | None = None,
    ratings: bool = True,
    num_partitions: int | None = None,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    header: bool = False,
    on_bad_rows: str = "error",
    report: dict | None = None,
    backend: str | None = None,
    missing: str | None = None,
):
    """A matrix file as blocks: ``read_text`` or ``read_npy`` by ``fmt`` (``text``, ``csv`` or
    ``npy``; guessed from the file name if None).

    Parameters
    ----------
    spark : SparkSession or SparkContext
        The session (classic or Spark Connect), or a classic session's context.
    path : str
        A file, or for text and CSV a directory of files; local or any URI Spark reads
        (``.npy``: a file system every executor sees).
    fmt : {"text", "csv", "npy"}, optional
        The format; by default ``npy`` for a ``.npy`` name, ``csv`` for ``.csv``, else
        ``text`` (whitespace-separated).
    ratings : bool, default True
        Ratings (0 = missing, negative values refused), or complete data (False).
    num_partitions : int, optional
        How many partitions the blocks are spread over.
    block_rows : int, default 4096
        Rows per block.
    header : bool, default False
        Text and CSV: skip the first line of each file.
    on_bad_rows : {"error", "drop"}, default "error"
        Text and CSV: stop at the first bad row, or leave bad rows out.
    report : dict, optional
        Text and CSV: receives ``dropped``, the number of rows left out.
    backend : {"rdd", "dataframe"}, optional
        Where the blocks live; by default what the session allows (RDD blocks in a classic
        session, the DataFrame backend under Spark Connect).
    missing : {"nan", "zero"}, optional
        What marks a missing value in complete data (``ratings=False``); by default every
        value must be a number.

    Returns
    -------
    blocks
        Cached blocks (an RDD of ``Block`` or a DataFrame of blocks, by the backend), in the
        input's row order; the models' fits and ``engine.ops`` take them, ``ops.release``
        frees them.

    Examples
    --------
    >>> from spark_em import get_spark, read_matrix
    >>> from spark_em.models import masked
    >>> blocks = read_matrix(get_spark(), "netflix_incomplete.txt")  # ratings, 0 = missing
    >>> run = masked.fit(blocks, 12, 0)
    >>> run.log_likelihood, run.n_iter
    """
    if fmt is None:
        lower = path.lower()
        fmt = "npy" if lower.endswith(".npy") else "csv" if lower.endswith(".csv") else "text"
    if fmt == "npy":
        if on_bad_rows != "error":
            raise InputError("dropping bad rows is for text, CSV and triples input, not .npy")
        return read_npy(spark, path, ratings, num_partitions, block_rows, backend, missing)
    if fmt in ("text", "csv"):
        return read_text(
            spark,
            path,
            "," if fmt == "csv" else None,
            header,
            ratings,
            num_partitions,
            block_rows,
            on_bad_rows,
            report,
            backend,
            missing,
        )
    raise InputError(f"unknown {{param}} {fmt!r}; choose one of {', '.join(FORMATS)}", param="fmt")


def write_npy(blocks, path: Path, shape: tuple[int, int], text_path: Path | None = None) -> None:
    """The rows of ``blocks`` (an iterator of ``Block``, in any order) into a ``.npy`` file of
    ``shape`` filled as they arrive, then, when asked, into a text file in row order."""
    matrix = np.lib.format.open_memmap(path, "w+", np.float64, shape)
    try:
        for block in blocks:
            matrix[block.offset : block.offset + block.values.shape[0]] = block.values
        matrix.flush()
        if text_path is not None:
            with open(text_path, "w") as text:
                for start in range(0, shape[0], 4096):
                    np.savetxt(text, matrix[start : start + 4096], fmt="%.10g")
    finally:
        del matrix
