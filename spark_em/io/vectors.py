"""The one decoder of vector and array values: ``pyspark.ml`` vectors (as Python objects or as
the struct Spark sends through Arrow for a VectorUDT: type 1 dense, 0 sparse, size, indices,
values) and numeric arrays (a null element is NaN), as float64 numpy arrays."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from spark_em.errors import InputError


def check_vector_column(df, column: str) -> None:
    """``column`` of ``df`` holds ``pyspark.ml`` vectors or arrays of numbers; an
    ``InputError`` names it otherwise (before any Spark job runs)."""
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql.types import ArrayType, NumericType

    if column not in df.columns:
        raise InputError(f"no column {column!r}; the DataFrame has {', '.join(df.columns)}")
    kind = df.schema[column].dataType
    if not (
        isinstance(kind, VectorUDT)
        or (isinstance(kind, ArrayType) and isinstance(kind.elementType, NumericType))
    ):
        raise InputError(
            f"column {column!r} must hold arrays of numbers or vectors, not {kind.simpleString()}"
        )


def attribute_names(df, column: str, width: int) -> list[str]:
    """The names of a vector column's entries as ``VectorAssembler`` records them (its
    ``ml_attr`` metadata: an assembled column ``age`` is entry ``age``, a one-hot ``city`` of
    three values ``city_a``, ``city_b``, ...); ``column[i]`` for an entry without one."""
    names = [f"{column}[{i}]" for i in range(width)]
    attrs = df.schema[column].metadata.get("ml_attr", {}).get("attrs", {})
    for group in attrs.values():
        for attr in group:
            index, name = attr.get("idx"), attr.get("name")
            if isinstance(index, int) and 0 <= index < width and name:
                names[index] = str(name)
    return names


def as_array(value) -> np.ndarray:
    """One vector or array value (not null) as a float64 array."""
    if hasattr(value, "toArray"):
        return np.asarray(value.toArray(), dtype=np.float64)
    if isinstance(value, dict) and "values" in value and "type" in value:
        if value["type"] == 1:
            return np.asarray(value["values"], dtype=np.float64)
        out = np.zeros(value["size"], dtype=np.float64)
        out[np.asarray(value["indices"], dtype=np.int64)] = value["values"]
        return out
    return np.array([np.nan if v is None else v for v in value], dtype=np.float64)


def _list_parts(lists, dtype) -> tuple[np.ndarray, np.ndarray]:
    """A list array's offsets and its flat values as ``dtype`` (null elements become NaN)."""
    import pyarrow.compute as pc

    flat = lists.values
    if not pa.types.is_floating(flat.type) or dtype != np.float64:
        flat = pc.cast(flat, pa.float64() if dtype == np.float64 else pa.int64())
    return (
        lists.offsets.to_numpy(zero_copy_only=False).astype(np.int64),
        flat.to_numpy(zero_copy_only=False).astype(dtype, copy=False),
    )


def arrow_matrix(column, present: np.ndarray) -> np.ndarray:
    """The ``present`` rows of an Arrow column of vectors or numeric arrays, as an n × d array
    (one Arrow batch at a time, without a Python object per row)."""
    rows = np.flatnonzero(present)
    if pa.types.is_struct(column.type):
        parts = dict(zip((f.name for f in column.type), column.flatten()))
        dense = parts["type"].to_numpy(zero_copy_only=False)[rows] == 1
        size = parts["size"].to_numpy(zero_copy_only=False)[rows]
        index_at, indices = _list_parts(parts["indices"], np.int64)
        value_at, values = _list_parts(parts["values"], np.float64)
        widths = np.where(dense, value_at[rows + 1] - value_at[rows], np.nan_to_num(size))
    else:
        dense = np.ones(len(rows), dtype=bool)
        value_at, values = _list_parts(column, np.float64)
        widths = value_at[rows + 1] - value_at[rows]
    widths = widths.astype(np.int64)
    if np.any(widths != widths[0]):
        raise InputError(f"the rows have different lengths ({widths.min()} and {widths.max()})")
    X = np.zeros((len(rows), int(widths[0])))
    X[dense] = values[value_at[rows[dense]][:, None] + np.arange(X.shape[1])]
    for i in np.flatnonzero(~dense):
        r = rows[i]
        X[i, indices[index_at[r] : index_at[r + 1]]] = values[value_at[r] : value_at[r + 1]]
    return X
