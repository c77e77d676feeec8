"""A DataFrame's columns as rows of numbers, one Arrow batch at a time: the decoder every loader
that starts from a DataFrame uses, without a Python object per row.

A row's values are the columns' values side by side: a ``pyspark.ml`` vector column (dense or
sparse, read from the struct Spark sends through Arrow for a VectorUDT: type 1 dense, 0
sparse, size, indices, values), a column of numeric arrays, a numeric column, or a text
column whose values read as numbers (a CSV column Spark did not infer as numbers). ``read``
decodes a batch into one matrix, up to the first row it cannot read, and says what is wrong
with that row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from spark_em.errors import InputError

VECTOR, ARRAY, NUMBER, TEXT = "vector", "array", "number", "text"


class Column(NamedTuple):
    """One column to read: its ``name``, its ``kind`` (``VECTOR``, ``ARRAY``, ``NUMBER`` or
    ``TEXT``) and what a null is: ``empty``, the problem it is (said of its row), or None for a
    missing value (read as NaN; an array's null element always is)."""

    name: str
    kind: str
    empty: str | None


def kind_of(df, name: str, param: str, text: bool = False) -> str:
    """The kind of ``df``'s column ``name`` (``text`` allows a string column), or one
    ``InputError`` naming ``param``, the column and its type."""
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql.types import ArrayType, DecimalType, NumericType, StringType

    if name not in df.columns:
        raise InputError(
            f"{{param}}: no column {name!r}; the DataFrame has {', '.join(df.columns)}",
            param=param,
        )
    kind = df.schema[name].dataType
    if isinstance(kind, VectorUDT):
        return VECTOR
    if isinstance(kind, ArrayType) and isinstance(kind.elementType, NumericType):
        return ARRAY
    if isinstance(kind, (NumericType, DecimalType)):
        return NUMBER
    if text and isinstance(kind, StringType):
        return TEXT
    wanted = "numbers" + (" (or text that reads as numbers)" if text else "")
    raise InputError(
        f"{{param}} {name!r} is {kind.simpleString()}: it must hold {wanted}, arrays of "
        "numbers or pyspark.ml vectors",
        param=param,
    )


def feature_columns(
    df, column: str | Sequence[str], param: str, empty: str | None, text: bool = False
):
    """The ``columnar.Column`` list the features are read from: one column of vectors or
    arrays (or one numeric column), or several numeric columns (``text``: or text columns
    whose values read as numbers); ``empty`` is what a null
    vector or array is (a null number is a missing value). Anything else is refused in one
    line naming ``param``, the column and its type."""
    names = [column] if isinstance(column, str) else list(column)
    if not names:
        raise InputError("{param}: no feature columns", param=param)
    kinds = [kind_of(df, name, param, text) for name in names]
    if len(names) > 1:
        for name, kind in zip(names, kinds):
            if kind not in (NUMBER, TEXT):
                raise InputError(
                    f"{{param}} {name!r} is {df.schema[name].dataType.simpleString()}: a list "
                    "of feature columns takes numeric columns (one feature each)",
                    param=param,
                )
    return [
        Column(name, kind, empty if kind in (VECTOR, ARRAY) else None)
        for name, kind in zip(names, kinds)
    ]


class Problem(NamedTuple):
    row: int  # within the batch
    message: str


def _first(problems: list[Problem | None]) -> Problem | None:
    found = [p for p in problems if p is not None]
    return min(found, key=lambda p: p.row) if found else None


def floats(values: pa.Array) -> np.ndarray:
    """Numbers as float64, a null as NaN."""
    import pyarrow.compute as pc

    if not pa.types.is_floating(values.type) or values.type != pa.float64():
        values = pc.cast(values, pa.float64())
    return values.to_numpy(zero_copy_only=False)


def _nulls(column: pa.Array) -> np.ndarray:
    if column.null_count == 0:
        return np.zeros(len(column), dtype=bool)
    return column.is_null().to_numpy(zero_copy_only=False)


def _text_numbers(column: pa.Array, name: str) -> tuple[np.ndarray, Problem | None]:
    """A text column's values as numbers (as Python's ``float`` reads them), up to the first
    value that is not a number."""
    import pyarrow.compute as pc

    try:
        return pc.cast(pc.utf8_trim_whitespace(column), pa.float64()).to_numpy(
            zero_copy_only=False
        ), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out = np.full(len(column), np.nan)
    for i, text in enumerate(column.to_pylist()):
        if text is None:
            continue
        try:
            out[i] = float(text)
        except ValueError:
            return out, Problem(i, f"column {name!r}: {text!r} is not a number")
    return out, None


def _lists(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A list column's offsets (one more than its rows) and its flat values as float64."""
    return column.offsets.to_numpy(zero_copy_only=False).astype(np.int64), floats(column.values)


def _widths_problem(
    name: str, widths: np.ndarray, usable: np.ndarray, expected: int | None
) -> tuple[int | None, Problem | None]:
    """The width of the column's rows (``expected``, or the first usable row's) and the first
    usable row of another width."""
    rows = np.flatnonzero(usable)
    if rows.size == 0:
        return expected, None
    width = int(widths[rows[0]]) if expected is None else expected
    wrong = rows[widths[rows] != width]
    if wrong.size:
        row = int(wrong[0])
        return width, Problem(
            row,
            f"column {name!r}: {int(widths[row])} values, expected {width} as on the rows before",
        )
    return width, None


def vectors_of(column: pa.Array, name: str, nulls: np.ndarray, expected: int | None):
    """A column of vectors or numeric arrays as an n × d matrix (rows that cannot be read
    left as zeros), its width and its first problem of width."""
    n = len(column)
    if pa.types.is_struct(column.type):
        parts = dict(zip((f.name for f in column.type), column.flatten()))
        dense = parts["type"].to_numpy(zero_copy_only=False) == 1
        size = floats(parts["size"])
        value_at, values = _lists(parts["values"])
        index_at = parts["indices"].offsets.to_numpy(zero_copy_only=False).astype(np.int64)
        widths = np.where(dense, np.diff(value_at), np.nan_to_num(size)).astype(np.int64)
    else:
        dense = np.ones(n, dtype=bool)
        value_at, values = _lists(column)
        widths = np.diff(value_at)
    usable = ~nulls
    width, problem = _widths_problem(name, widths, usable, expected)
    d = 0 if width is None else width
    if problem is not None:
        usable[problem.row :] = False
    dense &= usable
    if dense.all() and value_at[-1] - value_at[0] == n * d:
        X = values[value_at[0] : value_at[-1]].reshape(n, d)  # one contiguous run
    else:
        X = np.zeros((n, d))
        rows = np.flatnonzero(dense)
        X[rows] = values[value_at[rows][:, None] + np.arange(d)]
        sparse_rows = np.flatnonzero(usable & ~dense)
        if sparse_rows.size:
            indices = parts["indices"].values.to_numpy(zero_copy_only=False).astype(np.int64)
            counts = index_at[sparse_rows + 1] - index_at[sparse_rows]
            within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            at_index = np.repeat(index_at[sparse_rows], counts) + within
            at_value = np.repeat(value_at[sparse_rows], counts) + within
            X[np.repeat(sparse_rows, counts), indices[at_index]] = values[at_value]
    return X, width, problem


def read(
    batch: pa.RecordBatch, columns: list[Column], widths: list[int | None]
) -> tuple[np.ndarray, Problem | None]:
    """The rows of ``batch`` (whose columns are ``columns``, in order) as one float64 matrix,
    up to the first row that cannot be read, and what is wrong with that row (None if every
    row reads). ``widths`` holds each column's width once known (a vector or array column's
    is its first row's) and is updated as rows are read."""
    blocks, problems = [], []
    for j, column in enumerate(columns):
        data = batch.column(j)
        nulls = _nulls(data)
        if column.empty is not None and nulls.any():
            problems.append(Problem(int(np.flatnonzero(nulls)[0]), column.empty))
        if column.kind in (VECTOR, ARRAY):
            X, widths[j], problem = vectors_of(data, column.name, nulls.copy(), widths[j])
            if column.empty is None:
                X[nulls] = np.nan
            blocks.append(X)
            problems.append(problem)
        elif column.kind == TEXT:
            values, problem = _text_numbers(data, column.name)
            blocks.append(values[:, None])
            problems.append(problem)
        else:
            blocks.append(floats(data)[:, None])
    problem = _first(problems)
    end = batch.num_rows if problem is None else problem.row
    if len(blocks) == 1:
        return blocks[0][:end], problem
    return np.hstack([b[:end] for b in blocks]), problem


def feature_names(metadata: dict, column: str, width: int) -> list[str]:
    """The names of a vector column's entries as ``VectorAssembler`` records them in its
    metadata (an assembled column ``age`` is entry ``age``, a one-hot ``city`` of three values
    ``city_a``, ``city_b``, ...); ``column[i]`` for an entry without one."""
    names = [f"{column}[{i}]" for i in range(width)]
    for group in metadata.get("ml_attr", {}).get("attrs", {}).values():
        for attr in group:
            index, name = attr.get("idx"), attr.get("name")
            if isinstance(index, int) and 0 <= index < width and name:
                names[index] = str(name)
    return names


def parse_batches(columns: list[Column], make_parser):
    """``parse(piece, batches)`` for ``parser.assemble``: each batch of a piece read by
    ``read`` into the piece's ``PartitionParser`` (``make_parser(piece)``), whose places are
    the piece's rows from 1; the first row that cannot be read stops the piece."""

    def parse(piece: int, batches):
        parser = make_parser(piece)
        widths: list[int | None] = [None] * len(columns)
        n = 0
        for batch in batches:
            if not parser.error:
                values, problem = read(batch, columns, widths)
                yield from parser.add_block(values, n + 1)
                if problem is not None and not parser.error:
                    parser.fail(n + 1 + problem.row, problem.message, droppable=False)
            n += batch.num_rows
        yield from parser.flush()
        yield parser.summary(n_lines=n, column_widths=list(widths))

    return parse


def quoted(name: str):
    """The column called ``name`` (dots, spaces and backticks taken literally)."""
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def selected(df, columns: list[Column]) -> tuple[object, list[Column]]:
    """``df``'s ``columns`` as the batches ``read`` takes, and the columns as they arrive. A
    vector column arrives as an array of float64 (MLlib's ``vector_to_array``, in the JVM):
    Spark sends a VectorUDT column through Arrow an order of magnitude slower than an array
    (1,000,000 rows × 10: 16 s against 1.3 s, ``benchmarks/bench_load.py``)."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    def arriving_as(column: Column):
        if column.kind != VECTOR:
            return quoted(column.name)
        vector = quoted(column.name)  # vector_to_array refuses a null: it stays null
        return F.when(vector.isNull(), None).otherwise(vector_to_array(vector)).alias(column.name)

    chosen = [arriving_as(c) for c in columns]
    arriving = [c._replace(kind=ARRAY) if c.kind == VECTOR else c for c in columns]
    return df.select(*chosen), arriving
