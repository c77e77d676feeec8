"""Vector and array values one at a time (``pyspark.ml`` vectors as Python objects, or the
dict form of their struct) and an Arrow column of them whole, through ``io.columnar``'s
decoder, as float64 numpy arrays."""

from __future__ import annotations

import numpy as np

from spark_em.errors import InputError
from spark_em.io.columnar import vectors_of


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


def arrow_matrix(column, present: np.ndarray) -> np.ndarray:
    """The ``present`` rows of an Arrow column of vectors or numeric arrays, as an n × d array
    (one Arrow batch at a time, without a Python object per row; ``io.columnar``'s decoder).
    Rows of different lengths are refused."""
    X, _, problem = vectors_of(column, "features", ~present, None)
    if problem is not None:
        raise InputError(f"the rows have different lengths ({problem.message})")
    return X[present]
