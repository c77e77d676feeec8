"""Model outputs as new DataFrame columns, computed one Arrow batch at a time by
``mapInArrow`` (so in a classic session and under Spark Connect alike)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pyspark.ml.linalg import VectorUDT
from pyspark.sql.types import IntegerType, StructField, StructType

from spark_em.errors import InputError
from spark_em.io.columnar import ARRAY, VECTOR, feature_columns, floats
from spark_em.io.vectors import arrow_matrix
from spark_em.kernels.arrays import out_of_range, value_problem

TRANSFORM_BLOCK_ROWS = 4096


def assembled_columns(dataset, column: str) -> list[str] | None:
    """The columns ``VectorAssembler`` built ``column`` from, in order, when its metadata
    names every entry (None otherwise, or for a column of arrays)."""
    if column not in dataset.columns:
        return None
    meta = dataset.schema[column].metadata.get("ml_attr", {})
    named = sorted(
        (attr["idx"], attr["name"])
        for group in meta.get("attrs", {}).values()
        for attr in group
        if isinstance(attr.get("idx"), int) and attr.get("name")
    )
    if not named or [i for i, _ in named] != list(range(meta.get("num_attrs", -1))):
        return None
    return [str(name) for _, name in named]


def with_columns(
    dataset,
    input_col: str | list[str],
    fields: list[StructField],
    compute,
    label_col: str | None = None,
    extra_col: str | list[str] | None = None,
    extra_param: str = "gateCol",
):
    """``dataset`` with ``fields`` appended, by one ``mapInArrow`` (so on a classic session
    and under Spark Connect alike). ``compute(X)`` gives, for a block of rows X (an n × d
    array), one value per field: an array of n numbers for a numeric field, an n × k array
    for a vector field. ``input_col`` is a column of vectors or numeric arrays, or numeric
    columns (one, or a list), a feature each. Rows whose input is null (in any of the columns) get
    nulls. An input column of another type is refused at once, naming it. With ``label_col``
    (a numeric column) ``compute(X, y)`` also gets the rows' labels, NaN where one is null.
    With ``extra_col`` (as ``input_col``; ``extra_param`` names it in messages) X holds its
    values after the features'."""
    columns = feature_columns(dataset, input_col, "featuresCol", None)
    if extra_col is not None:
        columns += feature_columns(dataset, extra_col, extra_param, None)
    positions = [dataset.columns.index(c.name) for c in columns]
    whole = [c.kind in (VECTOR, ARRAY) for c in columns]  # else a number, a feature
    names = [f.name for f in fields]
    kinds = [f.dataType for f in fields]
    step = TRANSFORM_BLOCK_ROWS
    label_at = None if label_col is None else dataset.columns.index(label_col)

    def rows_of(chunk) -> tuple[np.ndarray, np.ndarray | None]:
        """(which rows have their input, those rows' features)."""
        arrays = [chunk.column(p) for p in positions]
        present = np.ones(chunk.num_rows, dtype=bool)
        for array in arrays:
            present &= ~array.is_null().to_numpy(zero_copy_only=False)
        if not present.any():
            return present, None
        parts = [
            arrow_matrix(a, present) if vector else floats(a)[present][:, None]
            for a, vector in zip(arrays, whole)
        ]
        return present, parts[0] if len(parts) == 1 else np.hstack(parts)

    def per_partition(batches):
        for batch in batches:
            for start in range(0, batch.num_rows, step):
                chunk = batch.slice(start, step)
                present, X = rows_of(chunk)
                if X is None:
                    values = None
                elif label_at is None:
                    values = compute(X)
                else:
                    values = compute(X, floats(chunk.column(label_at))[present])
                added = [
                    arrow_column(None if values is None else values[i], present, kind)
                    for i, kind in enumerate(kinds)
                ]
                yield pa.RecordBatch.from_arrays(
                    chunk.columns + added, names=chunk.schema.names + names
                )

    return dataset.mapInArrow(per_partition, StructType(dataset.schema.fields + fields))


def check_rows(X: np.ndarray, d: int, nan: bool = False) -> np.ndarray:
    """``X`` if its rows can be scored by a model of width ``d``: that width, every value
    finite and within the magnitude the passes take, and NaN only where ``nan`` allows a
    missing value."""
    if X.shape[1] != d:
        raise InputError(
            f"the features have {X.shape[1]} values a row; the model was fitted on {d}"
        )
    bad = out_of_range(X) if nan else out_of_range(X) | np.isnan(X)
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        value = X[row, col]
        if np.isnan(value):
            raise InputError(
                "a row holds NaN: fit with missingValue='nan' to score rows with missing values"
            )
        raise InputError(f"a row cannot be scored: its value {col + 1}, {value_problem(value)}")
    return X


_VECTOR_ARROW = [
    pa.field("type", pa.int8(), nullable=False),
    pa.field("size", pa.int32()),
    pa.field("indices", pa.list_(pa.field("element", pa.int32(), nullable=False))),
    pa.field("values", pa.list_(pa.field("element", pa.float64(), nullable=False))),
]


def arrow_column(values, present: np.ndarray, kind):
    """``values`` (one per present row) as an Arrow column with nulls at the absent rows; a
    vector column as dense vectors in the struct form Spark reads back as a VectorUDT."""
    n, absent = len(present), pa.array(~present)
    if isinstance(kind, VectorUDT):
        matrix = np.zeros((0, 0)) if values is None else np.asarray(values, dtype=np.float64)
        offsets = np.concatenate([[0], np.cumsum(np.where(present, matrix.shape[1], 0))])
        vectors = pa.ListArray.from_arrays(
            pa.array(offsets, pa.int32()),
            pa.array(matrix.ravel(), pa.float64()),
            type=_VECTOR_ARROW[3].type,
            mask=absent,
        )
        return pa.StructArray.from_arrays(
            [
                pa.array(np.ones(n, dtype=np.int8)),
                pa.nulls(n, pa.int32()),
                pa.nulls(n, _VECTOR_ARROW[2].type),
                vectors,
            ],
            fields=_VECTOR_ARROW,
            mask=absent,
        )
    dtype = np.int32 if isinstance(kind, IntegerType) else np.float64
    full = np.zeros(n, dtype=dtype)
    if values is not None:
        full[present] = values
    return pa.array(full, mask=~present)
