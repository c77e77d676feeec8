"""The Arrow decoder every DataFrame load goes through: vectors (dense and sparse, in the
struct form Spark sends), numeric arrays, numeric and text columns, against the same rows
built one at a time with numpy."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numpy.testing import assert_array_equal

from spark_em.io import columnar
from spark_em.io.columnar import ARRAY, NUMBER, TEXT, VECTOR, Column
from spark_em.io.parser import PartitionParser, value_check

VECTOR_TYPE = pa.struct(
    [
        ("type", pa.int8()),
        ("size", pa.int32()),
        ("indices", pa.list_(pa.int32())),
        ("values", pa.list_(pa.float64())),
    ]
)


def vectors(rows):
    """Rows given as ("dense", values), ("sparse", size, {index: value}) or None."""
    out = []
    for row in rows:
        if row is None:
            out.append(None)
        elif row[0] == "dense":
            out.append({"type": 1, "size": None, "indices": None, "values": list(row[1])})
        else:
            items = sorted(row[2].items())
            out.append(
                {
                    "type": 0,
                    "size": row[1],
                    "indices": [i for i, _ in items],
                    "values": [v for _, v in items],
                }
            )
    return pa.array(out, VECTOR_TYPE)


def test_dense_and_sparse_vectors_side_by_side_with_numbers():
    rows = [("dense", [1.0, 2.0, 3.0]), ("sparse", 3, {2: 5.0}), ("sparse", 3, {})]
    rows += [("dense", [0.5, 0.0, -1.0])]
    batch = pa.RecordBatch.from_arrays(
        [vectors(rows), pa.array([1, 2, 3, 4], pa.int64()), pa.array(["1.5", " 2", "3e1", "-4"])],
        names=["v", "n", "t"],
    )
    columns = [Column("v", VECTOR, "null"), Column("n", NUMBER, None), Column("t", TEXT, None)]
    values, problem = columnar.read(batch, columns, [None, None, None])
    expected = np.array(
        [[1, 2, 3, 1, 1.5], [0, 0, 5, 2, 2], [0, 0, 0, 3, 30], [0.5, 0, -1, 4, -4]], dtype=float
    )
    assert problem is None
    assert_array_equal(values, expected)
    # a slice of a batch reads as its own rows
    values, _ = columnar.read(batch.slice(1, 2), columns, [None, None, None])
    assert_array_equal(values, expected[1:3])


def test_the_first_unreadable_row_ends_the_rows_and_says_why():
    arrays = pa.array([[1.0, 2.0], [3.0, None], [1.0, 2.0, 3.0], None], pa.list_(pa.float64()))
    batch = pa.RecordBatch.from_arrays([arrays], names=["a"])
    values, problem = columnar.read(batch, [Column("a", ARRAY, "the value is null")], [None])
    assert_array_equal(values, [[1.0, 2.0], [3.0, np.nan]])  # a null element: missing
    assert problem == (2, "column 'a': 3 values, expected 2 as on the rows before")
    # the width carries over from the batches before
    values, problem = columnar.read(batch.slice(3), [Column("a", ARRAY, "the value is null")], [2])
    assert values.shape == (0, 2) and problem == (0, "the value is null")
    text = pa.RecordBatch.from_arrays([pa.array(["1", "x", None])], names=["t"])
    values, problem = columnar.read(text, [Column("t", TEXT, None)], [None])
    assert_array_equal(values, [[1.0]])
    assert problem == (1, "column 't': 'x' is not a number")


def test_batches_become_blocks_of_the_same_rows_whatever_their_sizes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(23, 3))
    column = pa.array(X.tolist(), pa.list_(pa.float64()))
    columns = [Column("a", ARRAY, "the value is null")]

    def blocks(sizes):
        parse = columnar.parse_batches(
            columns, lambda piece: PartitionParser(piece, 5, value_check(False))
        )
        starts = np.cumsum([0, *sizes])
        batches = [
            pa.RecordBatch.from_arrays([column.slice(a, b - a)], names=["a"])
            for a, b in zip(starts[:-1], starts[1:])
        ]
        return list(parse(0, batches))

    for sizes in ([23], [4, 4, 15], [1] * 23):
        records = blocks(sizes)
        parts = [body for tag, body in records if tag == "block"]
        assert [p[1] for p in parts] == [0, 5, 10, 15, 20]
        assert_array_equal(np.concatenate([p[2] for p in parts]), X)
        assert records[-1][1]["n_rows"] == 23
    X[17, 1] = np.inf
    column = pa.array(X.tolist(), pa.list_(pa.float64()))
    meta = blocks([10, 13])[-1][1]
    assert meta["error"] == (18, "column 2: inf is not a finite number")
