"""Regression tables onto Spark: rows [label, features] as checked blocks, each row's weight
as the blocks' weights (when there is a weight column), from a DataFrame or from CSV /
Parquet files.

A row whose label or a feature is missing, not a number, NaN or infinite stops the load
(naming the row and column); a weight that is infinite, NaN or negative stops it too, unless
such rows are to be dropped and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from spark_em.engine import ops
from spark_em.engine.backend import backend_for
from spark_em.errors import InputError
from spark_em.io.columnar import (
    ARRAY,
    VECTOR,
    Column,
    feature_columns,
    feature_names,
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
    rows_before,
)
from spark_em.kernels.arrays import MAX_MAGNITUDE, out_of_range, value_problem

BLOCK_ROWS = 16384
WEIGHT = 1  # where a row's weight sits while it is read, before it goes to the block's weights


@dataclass
class RegressionData:
    """Cached blocks of rows [label, features...] (with the rows' weights, when they have
    them) and what they hold; ``blocks`` is None for data read in one pass and not kept
    (``aggregate_dataframe``)."""

    blocks: object
    feature_names: list[str]
    n_rows: int
    dropped: int = 0
    columns: tuple[str, ...] = ()  # the source's columns, when it has named ones
    gate_names: tuple[str, ...] = ()  # the gate's covariates, the rows' last columns


def _row_check(label: str, weighted: bool, feature_name):
    """The regression rows' check: every value finite and the weight (the second value, when
    ``weighted``) >= 0; only a bad weight (with nothing else wrong) may be dropped. A problem
    names its column: ``label``, or ``feature_name(i)`` for the i-th feature."""

    def check(values: np.ndarray):
        if weighted:
            weight = values[:, WEIGHT]
            other = np.delete(values, WEIGHT, axis=1)
        else:
            weight, other = np.ones(values.shape[0]), values
        bad_other = out_of_range(other) | np.isnan(other)
        bad_weight = out_of_range(weight) | np.isnan(weight) | (weight < 0)
        other_rows = bad_other.any(axis=1)

        def describe(row: int) -> str:
            if other_rows[row]:
                col = int(np.flatnonzero(bad_other[row])[0])
                name = label if col == 0 else feature_name(col - 1)
                return f"column {name!r}: {value_problem(other[row, col])}"
            if np.isfinite(weight[row]) and weight[row] > MAX_MAGNITUDE:
                return f"weight {value_problem(weight[row])}"
            return f"weight {weight[row]} is not a finite number >= 0"

        return other_rows | bad_weight, bad_weight & ~other_rows, describe

    return check


class _Load(NamedTuple):
    """What reading a DataFrame takes: the backend, the batches and their parser, the
    messages, and ``described(metas)``: the data's description from the pieces' summaries."""

    backend: object
    pieces: Batches
    parse: Callable
    describe: Callable
    other_width: Callable
    described: Callable


def _load_of(
    df,
    label,
    weights,
    features,
    drop_bad_weights,
    source,
    block_rows,
    backend,
    param,
    text,
    gate=None,
) -> _Load:
    names = [features] if isinstance(features, str) else list(features)
    gate_names = [] if gate is None else [gate] if isinstance(gate, str) else list(gate)
    named = [label, *([] if weights is None else [weights])]
    missing = [c for c in [*named, *names, *gate_names] if c not in df.columns]
    if missing:
        raise InputError(
            f"{source}: no column {', '.join(map(repr, missing))}; it has {', '.join(df.columns)}"
        )
    if len(set(named + names)) != len(named) + len(names) or set(named) & set(gate_names):
        raise InputError(
            f"{source}: label, weight and features{' (or gate)' if gate_names else ''} must be "
            "different columns"
        )  # a gate may take a feature's column too: y ~ x | x
    lead = [
        Column(name, kind_of(df, name, role, text), f"column {name!r} is empty")
        for name, role in zip(named, ("labelCol", "weightCol"))
    ]
    feature_cols = [
        c._replace(empty=f"column {c.name!r} is empty")
        for c in feature_columns(df, names, param, empty=None, text=text)
    ]
    gate_cols = (
        [
            c._replace(empty=f"column {c.name!r} is empty")
            for c in feature_columns(df, gate_names, "gateCol", empty=None, text=text)
        ]
        if gate_names
        else []
    )
    one_vector = feature_cols[0].kind in (VECTOR, ARRAY)
    gate_vector = bool(gate_cols) and gate_cols[0].kind in (VECTOR, ARRAY)
    metadata = df.schema[names[0]].metadata if one_vector else {}
    n_features = None if one_vector else len(names)

    def feature_name(i: int) -> str:
        if n_features is not None and i >= n_features:
            i -= n_features
            return f"{gate_names[0]}[{i}]" if gate_vector else gate_names[i]
        return feature_names(metadata, names[0], i + 1)[i] if one_vector else names[i]

    check = _row_check(label, weights is not None, feature_name)

    def make_parser(piece: int) -> PartitionParser:
        return PartitionParser(
            piece,
            block_rows,
            check,
            drop_bad_weights,
            width=None if one_vector or gate_vector else len(named) + len(names) + len(gate_names),
            weight_column=WEIGHT if weights is not None else None,
        )

    def describe(meta, metas):
        if meta is None:
            return f"{source}: no data rows"
        return f"{source} row {rows_before(meta, metas) + meta['error'][0]}: {meta['error'][1]}"

    def other_width(width: int, expected: int) -> str:
        return (
            f"column {names[0]!r}: {width - len(named)} values, expected "
            f"{expected - len(named)} as on the rows before"
        )

    def described(metas: list[dict]) -> RegressionData:
        width = next(m["width"] for m in metas if m["width"] is not None) - len(named)
        gate_width = 0
        if gate_names:
            widths = _column_widths(metas, len(lead), len(feature_cols), len(gate_cols))
            width, gate_width = widths
            if gate_width == 0:
                raise InputError(
                    f"{source}: column {gate_names[0]!r} holds no covariates (every vector is "
                    "empty)"
                )
        if width == 0:
            raise InputError(
                f"{source}: column {names[0]!r} holds no features (every vector is empty)"
            )
        return RegressionData(
            None,
            feature_names(metadata, names[0], width) if one_vector else names,
            sum(m["n_rows"] for m in metas),
            sum(m["dropped"] for m in metas),
            tuple(df.columns),
            tuple(
                feature_names(df.schema[gate_names[0]].metadata, gate_names[0], gate_width)
                if gate_vector
                else gate_names
            ),
        )

    frame, arriving = selected(df, lead + feature_cols + gate_cols)
    return _Load(
        backend_for(df.sparkSession, backend),
        Batches(frame),
        parse_batches(arriving, make_parser),
        describe,
        other_width,
        described,
    )


def _column_widths(metas: list[dict], lead: int, features: int, gates: int) -> tuple[int, int]:
    """The features' and the gate's widths from the pieces' per-column widths (a number
    column's is 1), the same in every piece that read a row."""
    found = set()
    for meta in metas:
        widths = meta.get("column_widths")
        if widths is None or meta["width"] is None:
            continue
        each = [1 if w is None else w for w in widths[lead:]]
        found.add((sum(each[:features]), sum(each[features : features + gates])))
    if len(found) != 1:
        raise InputError(
            "the features and the gate's covariates do not have the same widths on every row"
        )
    return found.pop()


def from_dataframe(
    df,
    label: str,
    weights: str | None,
    features: str | list[str],
    drop_bad_weights: bool = False,
    source: str = "the DataFrame",
    block_rows: int = BLOCK_ROWS,
    backend: str | None = None,
    param: str = "features",
    text: bool = False,
    gate: str | list[str] | None = None,
) -> RegressionData:
    """Rows of ``df`` as regression blocks, read one Arrow batch at a time (``io.columnar``)
    in one pass. ``features`` is a column of ``pyspark.ml`` vectors or numeric arrays, or
    numeric (or numeric-text) columns; ``weights`` names the column of each row's weight
    (None: every row weighs 1). A row with an infinite, NaN or negative weight stops the load
    (naming the row) unless ``drop_bad_weights``. ``backend`` by default that of ``df``'s
    session; ``param`` is what a message about the features calls them. With ``text``, a
    string column whose values read as numbers is taken (a CSV column with a value that is
    not a number, which then stops the load naming its row). With ``gate`` (as ``features``)
    each row's gate covariates follow its features."""
    load = _load_of(
        df,
        label,
        weights,
        features,
        drop_bad_weights,
        source,
        block_rows,
        backend,
        param,
        text,
        gate,
    )
    blocks, metas = assemble(
        load.backend, load.pieces, load.parse, load.describe, other_width=load.other_width
    )
    try:
        data = load.described(metas)
    except InputError:
        ops.release(blocks)
        raise
    data.blocks = blocks
    return data


def aggregate_dataframe(
    df,
    label: str,
    weights: str | None,
    features: str | list[str],
    block_stats: Callable,
    add: Callable,
    params,
    drop_bad_weights: bool = False,
    source: str = "the DataFrame",
    backend: str | None = None,
    param: str = "features",
) -> tuple[object, RegressionData]:
    """Σ ``block_stats(values, params)`` over the rows of ``df`` read as ``from_dataframe``
    reads them (the same checks and messages), in one pass with nothing cached: for a fit
    that reads its data once. Returns the total and the data's description (a
    ``RegressionData`` without blocks)."""
    load = _load_of(
        df, label, weights, features, drop_bad_weights, source, BLOCK_ROWS, backend, param, False
    )
    total, metas = aggregate_parsed(
        load.backend,
        load.pieces,
        load.parse,
        load.describe,
        block_stats,
        add,
        params,
        other_width=load.other_width,
    )
    return total, load.described(metas)


def read_table(
    spark,
    path: str,
    label: str,
    weights: str | None,
    features: list[str],
    fmt: str | None = None,
    drop_bad_weights: bool = False,
    backend: str | None = None,
    gate: list[str] | None = None,
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
    gate : list of str, optional
        The columns of a gate's covariates (as ``features``), read after the features.

    Returns
    -------
    RegressionData
        ``blocks`` (cached rows [label, features, gate covariates], with the rows' weights),
        ``feature_names``, ``gate_names``, ``n_rows`` and ``dropped``; ``models.wols.fit``
        takes it.

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
        df,
        label,
        weights,
        features,
        drop_bad_weights,
        source=path,
        backend=backend,
        text=True,
        gate=gate or None,
    )
