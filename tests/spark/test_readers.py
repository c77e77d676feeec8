"""Loading onto Spark: every format gives the same rows in order; bad input is named."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from spark_em.engine import ops
from spark_em.errors import InputError
from spark_em.io import matrix as readers
from spark_em.models import masked as mc


@pytest.fixture(scope="module")
def matrix():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 6, size=(57, 7)).astype(float)
    X[5, 2] = 2.5
    return X


def write_text(path, X, sep=" "):
    path.write_text("\n".join(sep.join(f"{v:g}" for v in row) for row in X) + "\n")
    return str(path)


@pytest.fixture(params=["rdd", "dataframe"])
def backend(request):
    """Each loader test runs on both backends (the DataFrame one in this classic session)."""
    return request.param


def collected(blocks):
    return ops.collect(blocks, lambda b: b)


def offsets_and_rows(blocks):
    records = sorted(collected(blocks), key=lambda b: b.offset)
    expected = 0
    for b in records:
        assert b.offset == expected
        expected += b.values.shape[0]
    return np.concatenate([b.values for b in records]).astype(float)


@pytest.mark.parametrize(
    "backend, partitions, block_rows",
    [("rdd", 1, 1000), ("rdd", 3, 5), ("rdd", 8, 4), ("dataframe", 1, 1000), ("dataframe", 3, 5)],
)
def test_every_format_gives_the_same_rows(spark, tmp_path, matrix, partitions, block_rows, backend):
    options = dict(num_partitions=partitions, block_rows=block_rows, backend=backend)
    text = write_text(tmp_path / "m.txt", matrix)
    csv = tmp_path / "m.csv"
    csv.write_text("a,b,c,d,e,f,g\n" + "\n".join(",".join(f"{v:g}" for v in r) for r in matrix))
    npy = tmp_path / "m.npy"
    np.save(npy, matrix)
    loaded = [
        readers.read_matrix(spark, text, **options),
        readers.read_matrix(spark, str(csv), header=True, **options),
        readers.read_matrix(spark, str(npy), **options),
    ]
    from pyspark.ml.linalg import Vectors

    rows = [(i, matrix[i].tolist(), Vectors.dense(matrix[i])) for i in range(len(matrix))]
    df = spark.createDataFrame(rows, ["id", "arr", "vec"])
    loaded += [
        readers.read_dataframe(df, "arr", block_rows=block_rows, backend=backend),
        readers.read_dataframe(df, "vec", block_rows=block_rows, backend=backend),
    ]
    for blocks in loaded:
        assert ops.backend_name(blocks) == backend
        assert_array_equal(offsets_and_rows(blocks), matrix)
        assert max(b.values.shape[0] for b in collected(blocks)) <= block_rows


def test_values_are_stored_compactly(sc, tmp_path):
    ints = readers.read_text(sc, write_text(tmp_path / "a.txt", np.array([[1, 0, 5], [2, 3, 4]])))
    assert {b.values.dtype for b in ints.collect()} == {np.dtype(np.uint8)}
    halves = readers.read_text(sc, write_text(tmp_path / "b.txt", np.array([[1.5, 0, 300]])))
    assert {b.values.dtype for b in halves.collect()} == {np.dtype(np.float32)}
    fine = readers.read_text(sc, write_text(tmp_path / "c.txt", np.array([[0.1, 2]])))
    assert fine.first().values[0, 0] == 0.1


def test_byte_order_mark_and_windows_line_ends(spark, tmp_path, backend):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeff1 2\r\n3 4\r\n".encode())
    assert_array_equal(
        offsets_and_rows(readers.read_text(spark, str(path), backend=backend)), [[1, 2], [3, 4]]
    )


def test_directory_of_files_in_name_order(spark, tmp_path, matrix, backend):
    (tmp_path / "d d").mkdir()  # a space in the names: Spark spells such paths URL-encoded
    write_text(tmp_path / "d d" / "part 1%.txt", matrix[30:])
    write_text(tmp_path / "d d" / "part 0%.txt", matrix[:30])
    (tmp_path / "d d" / "_SUCCESS").write_text("")
    loaded = readers.read_text(spark, str(tmp_path / "d d"), backend=backend)
    assert_array_equal(offsets_and_rows(loaded), matrix)


def lines(*rows):
    return "\n".join(rows) + "\n"


BAD_TEXT = [
    ("ragged", lines("1 2 3", "4 5 6", "7 8"), r"bad\.txt line 3: 2 values, expected 3"),
    ("non-numeric", lines("1 2 3", "4 x 6"), r"bad\.txt line 2: column 2: 'x' is not a number"),
    (
        "nan",
        lines("1 2 3", "", "4 5 nan"),
        r"bad\.txt line 3: column 3: nan is not a finite number",
    ),
    ("inf", lines("inf 2 3"), r"bad\.txt line 1: column 1: inf is not a finite number"),
    ("negative", lines("1 2 3", "1 -2 3"), r"bad\.txt line 2: column 2: negative value -2"),
    ("empty", "", r"bad\.txt: no data rows"),
    ("earliest first", lines("1 -2 3", "4 x 6"), r"bad\.txt line 1: column 2: negative value -2"),
    ("before ragged", lines("1 2 3", "1 2 inf", "1 2"), r"bad\.txt line 2: column 3: inf is not"),
    ("blank", lines("", "   "), r"bad\.txt: no data rows"),
]


@pytest.mark.parametrize("name, content, message", BAD_TEXT, ids=[b[0] for b in BAD_TEXT])
def test_bad_text_is_named_with_file_and_line(spark, tmp_path, name, content, message, backend):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        readers.read_text(spark, str(path), backend=backend)


def test_ragged_row_found_in_a_later_partition(spark, tmp_path, backend):
    rows = [" ".join(["1"] * 40)] * 3000 + [" ".join(["1"] * 39)] + [" ".join(["1"] * 40)] * 50
    path = tmp_path / "long.txt"
    path.write_text(lines(*rows))
    with pytest.raises(InputError, match=r"long\.txt line 3001: 39 values, expected 40"):
        readers.read_text(spark, str(path), num_partitions=4, backend=backend)


def test_partition_of_other_width_is_named(spark, tmp_path, backend):
    rows = [" ".join(["1"] * 40)] * 3000 + [" ".join(["1"] * 41)] * 3000
    path = tmp_path / "wide.txt"
    path.write_text(lines(*rows))
    with pytest.raises(InputError, match=r"wide\.txt line \d+: 41 values, expected 40"):
        readers.read_text(spark, str(path), num_partitions=4, backend=backend)


def test_missing_paths_and_empty_directories(spark, tmp_path, backend):
    with pytest.raises(InputError, match="no such file or directory"):
        readers.read_text(spark, str(tmp_path / "nope.txt"), backend=backend)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no data files|no file there holds any data"):
        readers.read_text(spark, str(tmp_path / "empty"), backend=backend)
    with pytest.raises(InputError, match="no such file"):
        readers.read_npy(spark, str(tmp_path / "nope.npy"), backend=backend)


def test_bad_npy(spark, tmp_path, backend):
    bad = np.ones((10, 3))
    bad[7, 1] = -1
    np.save(tmp_path / "neg.npy", bad)
    with pytest.raises(InputError, match=r"neg\.npy row 8: column 2: negative value -1"):
        readers.read_npy(spark, str(tmp_path / "neg.npy"), num_partitions=3, backend=backend)
    np.save(tmp_path / "flat.npy", np.ones(5))
    with pytest.raises(InputError, match="expected a non-empty 2-D array"):
        readers.read_npy(spark, str(tmp_path / "flat.npy"), backend=backend)
    np.save(tmp_path / "obj.npy", np.array([[{"a": 1}]], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="not a readable .npy array|expected real numbers"):
        readers.read_npy(spark, str(tmp_path / "obj.npy"), backend=backend)
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    with pytest.raises(InputError, match="not a readable .npy array"):
        readers.read_npy(spark, str(tmp_path / "junk.npy"), backend=backend)


def test_bad_dataframe_columns(spark, backend):
    df = spark.createDataFrame([(1, "a", [1.0, 2.0]), (2, "b", [1.0, None])], ["id", "s", "arr"])
    with pytest.raises(InputError, match="no column 'x'"):
        readers.read_dataframe(df, "x", backend=backend)
    with pytest.raises(InputError, match="^column 's' is string: it must hold numbers, arrays"):
        readers.read_dataframe(df, "s", backend=backend)
    with pytest.raises(InputError, match="^column 'arr' is array<double>: a list of feature"):
        readers.read_dataframe(df, ["id", "arr"], backend=backend)
    with pytest.raises(InputError, match=r"column 'arr' row 2: column 2: nan is not a finite"):
        readers.read_dataframe(df.coalesce(1), "arr", backend=backend)


def test_k_larger_than_the_rows(sc):
    X = ops.from_array(sc, np.ones((5, 3)))
    with pytest.raises(InputError, match=r"^k 6 is larger than the number of rows \(5\)") as caught:
        mc.fit(X, 6, 0)
    assert caught.value.worded({"k": "--k"}) == "--k 6 is larger than the number of rows (5)"


def test_named_columns_one_rule_for_the_format(spark, tmp_path):
    """CSV for .csv names, Parquet for anything else; numbers typed as numbers in both."""
    from spark_em.io.named import format_of, read_frame

    assert [format_of(p) for p in ("a.csv", "A.CSV.GZ", "d/", "a.parquet", "out")] == [
        "csv",
        "csv",
        "parquet",
        "parquet",
        "parquet",
    ]
    (tmp_path / "r.csv").write_text("user,item,rating\n7,b,4.5\n8,c,3\n")
    spark.read.csv(str(tmp_path / "r.csv"), header=True, inferSchema=True).write.parquet(
        str(tmp_path / "r")
    )
    for path in (tmp_path / "r.csv", tmp_path / "r"):
        frame = read_frame(spark, str(path))
        assert [f.dataType.typeName() for f in frame.schema] == ["integer", "string", "double"]
        assert sorted(tuple(r) for r in frame.collect()) == [(7, "b", 4.5), (8, "c", 3.0)]
    with pytest.raises(InputError, match="r.csv: cannot read as parquet .*fmt names the format"):
        read_frame(spark, str(tmp_path / "r.csv"), fmt="parquet")
    with pytest.raises(InputError, match="fmt must be csv or parquet, not 'json'"):
        read_frame(spark, str(tmp_path / "r.csv"), fmt="json")


def test_the_loaders_summary_is_that_of_the_rows(spark, tmp_path, backend):
    """A loader sums what ``summarize`` needs while it parses: the same figures as numpy's on
    the rows, for a text file, a weighted DataFrame with missing values and an ``.npy``."""
    from pyspark.sql import functions as F

    rng = np.random.default_rng(4)
    X = rng.integers(0, 6, size=(300, 5)).astype(float)
    X[7] = 0.0  # a row with nothing observed
    write_text(tmp_path / "r.txt", X)
    summary = ops.summarize(readers.read_text(spark, str(tmp_path / "r.txt"), backend=backend))
    assert (summary.n_rows, summary.n_cols) == X.shape
    assert summary.n_observed == np.count_nonzero(X)
    assert summary.n_empty_rows == 1
    np.testing.assert_allclose(summary.column_summary, [(X**2).sum(), *X.sum(axis=0)], rtol=1e-12)
    np.save(tmp_path / "r.npy", X)
    from_npy = ops.summarize(readers.read_npy(spark, str(tmp_path / "r.npy"), backend=backend))
    np.testing.assert_allclose(from_npy.column_summary, summary.column_summary, rtol=1e-12)

    Y = rng.normal(size=(200, 3))
    Y[[3, 50, 51], [0, 2, 1]] = np.nan
    w = rng.uniform(0.5, 2.0, 200)
    df = spark.createDataFrame(
        [([None if np.isnan(v) else float(v) for v in row], float(x)) for row, x in zip(Y, w)],
        ["x", "w"],
    ).withColumn("x", F.col("x").cast("array<double>"))
    blocks = readers.read_dataframe(
        df.repartition(3), "x", ratings=False, missing="nan", weights="w", backend=backend
    )
    got = ops.summarize(blocks)
    filled = np.nan_to_num(Y)
    assert got.total_weight == pytest.approx(w.sum(), rel=1e-12)
    np.testing.assert_array_equal(got.nan_per_column, np.isnan(Y).sum(axis=0))
    np.testing.assert_allclose(got.column_summary[1:], w @ filled, rtol=1e-12)
    np.testing.assert_allclose(got.column_summary[0], w @ (filled**2).sum(axis=1), rtol=1e-12)
    # a pass over the same blocks (another object: nothing carried) gives the same summary
    again = ops.summarize(ops.mapped(blocks, lambda b: b))
    np.testing.assert_allclose(again.column_summary, got.column_summary, rtol=1e-12)
    assert again.n_rows == got.n_rows == 200
    ops.release(blocks)
