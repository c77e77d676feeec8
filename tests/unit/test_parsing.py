"""The pure parts of loading, without Spark: both backends implement the protocol, the one
partition parser cuts and checks rows, the one decoder reads every vector form."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_array_equal

from spark_em.engine.backend import Backend
from spark_em.engine.frame import FRAME
from spark_em.engine.rdd import RDD
from spark_em.io.parser import PartitionParser, value_check
from spark_em.io.vectors import as_array


def test_both_backends_implement_the_protocol():
    assert isinstance(RDD, Backend) and isinstance(FRAME, Backend)
    assert (RDD.name, FRAME.name) == ("rdd", "dataframe")


def parse(rows, block_rows=2, drop=False, ratings=True, weight_column=None):
    parser = PartitionParser(7, block_rows, value_check(ratings), drop, weight_column=weight_column)
    out = []
    for place, row in enumerate(rows, start=1):
        out += list(parser.add(np.array(row, dtype=float), place))
    out += list(parser.flush())
    return [body for tag, body in out if tag == "block"], parser.summary()[1]


def test_rows_become_blocks_of_block_rows():
    blocks, meta = parse([[1, 2], [3, 4], [5, 6]])
    assert [(piece, start, values.tolist(), w) for piece, start, values, w in blocks] == [
        (7, 0, [[1, 2], [3, 4]], None),
        (7, 2, [[5, 6]], None),
    ]
    assert blocks[0][2].dtype == np.uint8  # compact storage
    assert (meta["partition"], meta["n_rows"], meta["width"], meta["error"]) == (7, 3, 2, None)


def test_a_weight_column_becomes_the_blocks_weights():
    blocks, meta = parse([[1, 0.5, 2], [3, 2, 4], [5, 0, 6]], weight_column=1, ratings=False)
    assert [(start, values.tolist(), w.tolist()) for _, start, values, w in blocks] == [
        (0, [[1, 2], [3, 4]], [0.5, 2.0]),
        (2, [[5, 6]], [0.0]),
    ]
    assert blocks[0][3].dtype == np.float64 and meta["width"] == 3


def test_the_first_problem_stops_the_piece():
    _, meta = parse([[1, 2], [3, -4], [np.nan, 1]], block_rows=10)
    assert meta["error"] == (
        2,
        "column 2: negative value -4 (ratings must be >= 0; 0 marks a missing entry)",
    )
    _, meta = parse([[1, 2], [3, 4, 5]])
    assert meta["error"] == (2, "3 values, expected 2 as on the rows before")


def test_with_drop_bad_rows_are_left_out_and_counted():
    blocks, meta = parse([[1, 2], [3, -4], [np.inf, 1], [5, 6]], drop=True)
    assert np.concatenate([values for _, _, values, _ in blocks]).tolist() == [[1, 2], [5, 6]]
    assert (meta["n_rows"], meta["dropped"], meta["error"]) == (2, 2, None)
    _, meta = parse([[1, 2], [3, -4]], ratings=False)
    assert meta["error"] is None


def test_a_row_of_another_width_is_dropped_only_when_allowed():
    parser = PartitionParser(0, 10, value_check(False), drop=True)
    list(parser.add(np.ones(3), 1))
    list(parser.add(np.ones(2), 2))
    assert (parser.dropped, parser.error) == (1, None)
    parser = PartitionParser(0, 10, value_check(False), drop=True)
    list(parser.add(np.ones(3), 1))
    list(parser.add(np.ones(2), 2, droppable=False))
    assert (parser.dropped, parser.error) == (0, (2, "2 values, expected 3 as on the rows before"))


def test_one_decoder_for_every_vector_form():
    from pyspark.ml.linalg import Vectors

    want = np.array([0.0, 2.5, 0.0, -1.0])
    forms = [
        Vectors.dense(want),
        Vectors.sparse(4, [1, 3], [2.5, -1.0]),
        {"type": 1, "size": None, "indices": None, "values": [0.0, 2.5, 0.0, -1.0]},
        {"type": 0, "size": 4, "indices": [1, 3], "values": [2.5, -1.0]},
        [0, 2.5, 0, -1],
        (0.0, 2.5, 0.0, -1.0),
    ]
    for form in forms:
        assert_array_equal(as_array(form), want)
    assert_array_equal(as_array([1.0, None]), [1.0, np.nan])
