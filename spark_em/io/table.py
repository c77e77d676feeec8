"""Regression tables onto Spark: rows [label, features] as checked blocks, each row's weight
as the blocks' weights (when there is a weight column), from a DataFrame or from CSV /
Parquet files.

A row whose label or a feature is missing, not a number, NaN or infinite stops the load
(naming the row and column); a weight that is infinite, NaN or negative stops it too, unless
such rows are to be dropped and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from spark_em.engine.backend import backend_for
from spark_em.errors import InputError
from spark_em.io.named import read_frame
from spark_em.io.parser import PartitionParser, assemble, rows_before
from spark_em.io.vectors import as_array, attribute_names
from spark_em.kernels.arrays import MAX_MAGNITUDE, out_of_range, value_problem

BLOCK_ROWS = 16384
WEIGHT = 1  # where a row's weight sits while it is read, before it goes to the block's weights


@dataclass
class RegressionData:
    """Cached blocks of rows [label, features...] (with the rows' weights, when they have
    them) and what they hold."""

    blocks: object
    feature_names: list[str]
    n_rows: int
    dropped: int = 0
    columns: tuple[str, ...] = ()  # the source's columns, when it has named ones


def _row_check(names: list[str], weighted: bool):
    """The regression rows' check: every value finite and the weight (the second value, when
    ``weighted``) >= 0; only a bad weight (with nothing else wrong) may be dropped."""

    def check(values: np.ndarray):
        if weighted:
            weight = values[:, WEIGHT]
            other = np.delete(values, WEIGHT, axis=1)
            other_names = [names[0], *names[2:]]
        else:
            weight, other, other_names = np.ones(values.shape[0]), values, names
        bad_other = out_of_range(other) | np.isnan(other)
        bad_weight = out_of_range(weight) | np.isnan(weight) | (weight < 0)
        other_rows = bad_other.any(axis=1)

        def describe(row: int) -> str:
            if other_rows[row]:
                col = int(np.flatnonzero(bad_other[row])[0])
                return f"column {other_names[col]!r}: {value_problem(other[row, col])}"
            if np.isfinite(weight[row]) and weight[row] > MAX_MAGNITUDE:
                return f"weight {value_problem(weight[row])}"
            return f"weight {weight[row]} is not a finite number >= 0"

        return other_rows | bad_weight, bad_weight & ~other_rows, describe

    return check


def _parse_rows(
    names: list[str], weighted: bool, drop_bad_weights: bool, block_rows: int, vector: bool
):
    """Per piece: rows of values in ``names`` order (label, the weight when ``weighted``, the
    features or one vector of them) into checked blocks, the weights set apart."""
    check = _row_check(names, weighted)
    fixed = 1 + int(weighted)  # the label, and the weight

    def values_of(row) -> tuple:
        if not vector:
            return tuple(row)
        vector_value = row[fixed]
        return (*row[:fixed], *(as_array(vector_value) if vector_value is not None else [None]))

    def parse(piece: int, rows: Iterable) -> Iterator[tuple]:
        parser = PartitionParser(
            piece,
            block_rows,
            check,
            drop_bad_weights,
            width=len(names),
            weight_column=WEIGHT if weighted else None,
        )
        n = 0
        for n, row in enumerate(rows, start=1):
            if parser.error:
                continue
            converted, problem = [], None
            values = values_of(row)
            if vector and row[fixed] is not None and len(values) != len(names):
                parser.fail(
                    n,
                    f"the features vector has {len(values) - fixed} values where the "
                    f"first row's has {len(names) - fixed}",
                    droppable=False,
                )
                continue
            for name, value in zip(names, values):
                if value is None:
                    problem = f"column {name!r} is empty"
                    break
                try:
                    converted.append(float(value))
                except (TypeError, ValueError):
                    problem = f"column {name!r}: {str(value)!r} is not a number"
                    break
            if problem:
                parser.fail(n, problem, droppable=False)
                continue
            yield from parser.add(np.array(converted), n, droppable=False)
        yield from parser.flush()
        yield parser.summary(n_lines=n)

    return parse


def from_dataframe(
    df,
    label: str,
    weights: str | None,
    features: list[str],
    drop_bad_weights: bool = False,
    source: str = "the DataFrame",
    block_rows: int = BLOCK_ROWS,
    backend: str | None = None,
) -> RegressionData:
    """Rows of ``df`` as regression blocks. ``features`` are numeric (or numeric-text) columns,
    or a single column of ``pyspark.ml`` vectors; ``weights`` names the column of each row's
    weight (None: every row weighs 1). A row with an infinite, NaN or negative weight stops
    the load (naming the row) unless ``drop_bad_weights``. ``backend`` by default that of
    ``df``'s session."""
    columns = tuple(df.columns)
    named = [label, *([] if weights is None else [weights])]
    names = [*named, *features]
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise InputError(
            f"{source}: no column {', '.join(map(repr, missing))}; it has {', '.join(df.columns)}"
        )
    if len(set(names)) != len(names):
        raise InputError(f"{source}: label, weight and features must be different columns")
    from pyspark.ml.linalg import VectorUDT

    vector = len(features) == 1 and isinstance(df.schema[features[0]].dataType, VectorUDT)
    feature_names = list(features)
    if vector:
        from pyspark.sql import functions as F

        first = df.select(features[0]).where(F.col(features[0]).isNotNull()).first()
        width = len(first[0]) if first is not None else 0
        if width == 0:
            raise InputError(
                f"{source}: column {features[0]!r} holds no features (every vector "
                f"is null or empty)"
            )
        feature_names = attribute_names(df, features[0], width)
    parse = _parse_rows(
        [*named, *feature_names], weights is not None, drop_bad_weights, block_rows, vector
    )

    def describe(meta, metas):
        if meta is None:
            return f"{source}: no data rows"
        return f"{source} row {rows_before(meta, metas) + meta['error'][0]}: {meta['error'][1]}"

    chosen = backend_for(df.sparkSession, backend)
    blocks, metas = assemble(chosen, chosen.rows_of(df, names), parse, describe)
    return RegressionData(
        blocks,
        feature_names,
        sum(m["n_rows"] for m in metas),
        sum(m["dropped"] for m in metas),
        columns,
    )


def read_table(
    spark,
    path: str,
    label: str,
    weights: str | None,
    features: list[str],
    fmt: str | None = None,
    drop_bad_weights: bool = False,
    backend: str | None = None,
) -> RegressionData:
    """A CSV file with a header line, or Parquet (by ``fmt`` or the name: ``io.named``), as
    regression data.

    Parameters
    ----------
    spark : SparkSession
        The session (classic or Spark Connect).
    path : str
        The file or directory, local or any URI Spark reads.
    label : str
        The label's column.
    weights : str or None
        The column of each row's weight; None: every row weighs 1.
    features : list of str
        The feature columns (numbers, or text that reads as numbers), or one column of
        ``pyspark.ml`` vectors.
    fmt : {"csv", "parquet"}, optional
        The format; by default from the name (``.csv``: CSV, anything else Parquet).
    drop_bad_weights : bool, default False
        Leave out (and count) rows whose weight is infinite, NaN or negative instead of
        stopping at the first.
    backend : {"rdd", "dataframe"}, optional
        Where the blocks live; by default what the session allows (RDD blocks in a classic
        session, the DataFrame backend under Spark Connect).

    Returns
    -------
    RegressionData
        ``blocks`` (cached rows [label, features], with the rows' weights), ``feature_names``,
        ``n_rows`` and ``dropped``; ``models.wols.fit`` takes it.

    Examples
    --------
    >>> from spark_em import get_spark, read_table
    >>> from spark_em.models import wols
    >>> data = read_table(get_spark(), "experiment.csv", "y", "w", ["x"])
    >>> result = wols.fit(data, "qr")
    >>> result.intercept, result.coefficients
    """
    df = read_frame(spark, path, fmt)
    return from_dataframe(
        df, label, weights, features, drop_bad_weights, source=path, backend=backend
    )
