"""Array helpers every layer shares: compact storage, sparse blocks, sums of statistics and
partition-independent random draws. Pure numpy/scipy.

A block's values are kept in the smallest dtype that holds them exactly (ratings 0–5 fit in
``uint8``), which is what a cache stores and what every pass moves from the JVM to the Python
workers; kernels convert to float64 themselves. Values are a dense array or, for sparse
ratings, a scipy.sparse CSR array of the observed entries (``sparse_values``); ``dense`` turns
either into a dense float64 array.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

# The records (NamedTuple classes) a pass may return to the driver: the only classes the
# engine rebuilds from a result's bytes (``engine.wire``), by their module and name.
RECORDS: dict[str, type] = {}


def record(cls: type) -> type:
    """Register ``cls`` (a NamedTuple a pass returns: statistics, parameters) as a record the
    driver may rebuild; a class decorator."""
    RECORDS[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return cls


# The largest |value| (and weight) a pass takes: a square times a weight, both this large, is
# 1e225, and summing it over any number of rows a cluster holds stays far below the float
# range (1.8e308). Larger values would turn the statistics into inf and the fit into NaN.
MAX_MAGNITUDE = 1e75


def out_of_range(values: np.ndarray) -> np.ndarray:
    """Where ``values`` are infinite or larger in magnitude than ``MAX_MAGNITUDE`` (NaN is
    not: it marks a missing value where one is allowed)."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.abs(values) > MAX_MAGNITUDE


def value_problem(value: float) -> str:
    """What is wrong with one value that ``out_of_range`` or a finiteness check refused."""
    if not np.isfinite(value):
        return f"{value} is not a finite number"
    return f"{value:g} is too large (the largest magnitude taken is {MAX_MAGNITUDE:g})"


def compact(values: np.ndarray) -> np.ndarray:
    """The same numbers in uint8, float32 or float64: the smallest that holds them exactly."""
    values = np.asarray(values)
    if values.dtype == np.uint8:
        return values
    if np.issubdtype(values.dtype, np.integer) and values.size and np.abs(values).max() > 2**53:
        raise ValueError("integer values above 2**53 cannot be held exactly as numbers here")
    as_float = values.astype(np.float64, copy=False)
    in_byte_range = values.size and 0 <= as_float.min() and as_float.max() <= 255
    for dtype in (np.uint8, np.float32) if in_byte_range else (np.float32,):
        with np.errstate(invalid="ignore", over="ignore"):
            candidate = as_float.astype(dtype)
        if np.array_equal(candidate.astype(np.float64), as_float):
            return candidate
    return np.ascontiguousarray(as_float)


def sparse_values(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]):
    """A CSR block from (row, column, value) triples with distinct positions, values compacted
    and indices in int32."""
    index = np.int32 if max(shape[1], len(values)) < 2**31 else np.int64
    matrix = sparse.csr_array(
        (compact(values), (np.asarray(rows, dtype=index), np.asarray(cols, dtype=index))),
        shape=shape,
    )
    matrix.sort_indices()
    return matrix


def dense(values) -> np.ndarray:
    """A block's values as a dense float64 array (0 = missing), whichever form they are in."""
    if sparse.issparse(values):
        return values.toarray().astype(np.float64)
    return np.asarray(values, dtype=np.float64)


def column_summary(values) -> np.ndarray:
    """[Σ x² over all entries, then Σ_u x_ui for each column i] of a block (dense or CSR)."""
    if sparse.issparse(values):
        data = np.asarray(values.data, dtype=np.float64)
        col_sums = np.bincount(values.indices, weights=data, minlength=values.shape[1])
        return np.concatenate([[data @ data], col_sums])
    values = np.asarray(values, dtype=np.float64)
    return np.concatenate([[np.einsum("ij,ij->", values, values)], values.sum(axis=0)])


def add_fields(a, b):
    """The sum of two statistics of the same NamedTuple type, field by field: merging the
    statistics of two sets of rows."""
    return type(a)(*(x + y for x, y in zip(a, b)))


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def row_uniforms(seed: int, draw: int, rows: np.ndarray) -> np.ndarray:
    """A uniform number in (0, 1) for each global row index: splitmix64 of (seed, draw, row),
    so a draw does not depend on how the rows are partitioned or blocked."""
    with np.errstate(over="ignore"):
        z = np.asarray(rows, dtype=np.uint64) * _GOLDEN + np.uint64(
            (seed * 0x632BE59BD9B4E019 + draw * 0x85EBCA77C2B2AE63) % 2**64
        )
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
