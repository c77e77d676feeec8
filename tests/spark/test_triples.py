"""Ratings as (user, item, rating) records on sparse blocks: the same model as the dense matrix,
original ids everywhere, predictions and recommendations that match the dense completion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from spark_em.engine import ops as blk
from spark_em.errors import InputError
from spark_em.io import matrix as readers
from spark_em.io import triples
from spark_em.kernels import masked
from spark_em.models import masked as mc
from spark_em.models import recommend
from tests.helpers.runs import same_passes


def records_of(X: np.ndarray, users=None, items=None) -> pd.DataFrame:
    rows, cols = np.nonzero(X)
    users = np.arange(X.shape[0]) if users is None else np.asarray(users)
    items = np.arange(X.shape[1]) if items is None else np.asarray(items)
    return pd.DataFrame({"user": users[rows], "item": items[cols], "rating": X[rows, cols]})


def small_ratings(seed=0, n=120, d=25):
    rng = np.random.default_rng(seed)
    X = rng.integers(1, 6, size=(n, d)).astype(float)
    X[rng.random(X.shape) < 0.6] = 0
    X[np.arange(n), rng.integers(0, d, n)] = 4.0  # every user rates something
    X[0, 0] = 5.0  # and every item is rated
    X[0, :] = np.where(X[0] == 0, 3.0, X[0])
    return X


def test_course_netflix_dense_and_triples_agree(spark, netflix_dir, netflix_k12):
    X = np.loadtxt(netflix_dir / "netflix_incomplete.txt")
    sparse = triples.read_triples(spark.createDataFrame(records_of(X)), block_rows=500)
    assert sparse.index.shape == X.shape and sparse.n_ratings == np.count_nonzero(X)
    a, b = netflix_k12, mc.fit(sparse.blocks, 12, 1)  # a: the dense matrix's fit
    if same_passes(b, a):
        for name in ("weights", "means", "variances"):
            assert_allclose(
                getattr(b.mixture, name), getattr(a.mixture, name), rtol=1e-10, atol=1e-10
            )
    sparse.blocks.unpersist()


@pytest.fixture(params=["rdd", "dataframe"])
def backend(request):
    return request.param


def test_string_ids_map_to_sorted_rows_and_round_trip(spark, tmp_path, backend):
    X = small_ratings()
    users = np.array([f"user-{i:04d}" for i in range(X.shape[0])])
    items = np.array([f"film {j:03d}" for j in range(X.shape[1])])
    shuffled = records_of(X, users, items).sample(frac=1.0, random_state=3)
    data = triples.read_triples(
        spark.createDataFrame(shuffled), block_rows=32, num_partitions=3, backend=backend
    )
    assert blk.backend_name(data.blocks) == backend
    assert list(data.index.users) == sorted(users) and list(data.index.items) == sorted(items)
    assert_allclose(blk.to_local(data.blocks), X)
    data.index.save(str(tmp_path))
    loaded = triples.RatingsIndex.load(str(tmp_path))
    assert np.array_equal(loaded.users, data.index.users) and loaded.users.dtype.kind == "U"
    assert list(loaded.rows_of(["user-0007", "nobody"])) == [7, -1]


def test_predict_and_recommend_match_the_dense_completion(spark, backend):
    X = small_ratings(seed=1)
    users = np.array([f"u{i}" for i in range(X.shape[0])])
    data = triples.read_triples(
        spark.createDataFrame(records_of(X, users)), block_rows=16, backend=backend
    )
    order = np.argsort(users)  # rows follow the sorted ids: u0, u1, u10, ...
    run = mc.fit(data.blocks, 3, 0)
    full = masked.complete(X[order], run.mixture)

    pairs = pd.DataFrame({"user": ["u5", "u5", "nobody", "u17"], "item": [3, 0, 2, 99]})
    got = recommend.predict(
        spark, data.blocks, data.index, run.mixture, spark.createDataFrame(pairs)
    ).toPandas()
    got = got.set_index(["user", "item"])["prediction"]
    row5, row17 = (int(np.flatnonzero(users[order] == u)[0]) for u in ("u5", "u17"))
    post5, _ = masked.posterior(X[order][row5 : row5 + 1], run.mixture)
    assert got[("u5", 3)] == pytest.approx(float(post5[0] @ run.mixture.means[:, 3]), rel=1e-12)
    assert got[("u5", 0)] == pytest.approx(float(post5[0] @ run.mixture.means[:, 0]), rel=1e-12)
    assert got[("nobody", 2)] == pytest.approx(
        float(run.mixture.weights @ run.mixture.means[:, 2]), rel=1e-12
    )
    assert np.isnan(got[("u17", 99)])
    if X[order][row5, 3] == 0:
        assert got[("u5", 3)] == pytest.approx(full[row5, 3], rel=1e-12)

    recs = recommend.recommend(spark, data.blocks, data.index, run.mixture, 4).toPandas()
    assert len(recs) == X.shape[0]
    for _, rec in recs.iterrows():
        row = int(np.flatnonzero(users[order] == rec["user"])[0])
        scores = np.where(X[order][row] == 0, full[row], -np.inf)
        expected = [j for j in np.argsort(-scores, kind="stable")[:4] if np.isfinite(scores[j])]
        assert [r["item"] for r in rec["recommendations"]] == expected
        assert_allclose([r["rating"] for r in rec["recommendations"]], scores[expected], rtol=1e-12)


@pytest.mark.parametrize(
    "rows, message",
    [
        ([("a", 1, 4.0), ("a", 1, 5.0)], "is rated more than once"),
        ([("a", 1, 0.0)], "not positive"),
        ([("a", 1, float("nan"))], "not a finite number"),
        ([("a", None, 3.0)], "item id is missing"),
        ([("a", 1, 9.0)], "outside the declared range"),
    ],
)
def test_bad_records_are_named(spark, rows, message, backend):
    df = spark.createDataFrame([("b", 2, 3.0)] + rows, "user string, item long, rating double")
    with pytest.raises(InputError, match=message):
        triples.read_triples(df, rating_range=(1, 5), backend=backend)


def test_bad_records_can_be_dropped_and_counted(spark, backend):
    df = spark.createDataFrame(
        [("b", 2, 3.0), ("a", 1, 4.0), ("a", 1, 5.0), ("c", 2, -1.0)],
        "user string, item long, rating double",
    )
    data = triples.read_triples(df, on_bad_rows="drop", backend=backend)
    assert (data.n_ratings, data.n_dropped) == (1, 3)
    assert list(data.index.users) == ["b"]  # "a" rated only the pair it rated twice


def test_several_starts_in_one_pass_equal_one_at_a_time(sc, netflix_dir):
    X = readers.read_text(sc, str(netflix_dir / "test_incomplete.txt"), num_partitions=2)
    together = mc.fit_all(X, [2, 3], range(4))
    for run in together:
        alone = mc.fit(X, run.k, run.seed)
        # The same sums, but a product over more columns need not round the same way in BLAS.
        if same_passes(alone, run, rtol=1e-12):
            for name in ("weights", "means", "variances"):
                assert_allclose(
                    getattr(alone.mixture, name), getattr(run.mixture, name), rtol=1e-12, atol=1e-12
                )


def test_decimal_ids_beyond_a_doubles_precision_stay_apart(spark):
    """Ids of a DECIMAL(20, 0) column (unsigned 64-bit keys from a database) that one double
    cannot tell apart keep their own rows."""
    from decimal import Decimal

    from pyspark.sql.types import DecimalType, DoubleType, StringType, StructField, StructType

    schema = StructType(
        [
            StructField("user", DecimalType(20, 0)),
            StructField("item", StringType()),
            StructField("rating", DoubleType()),
        ]
    )
    first, second = Decimal("18446744073709551601"), Decimal("18446744073709551602")
    assert float(first) == float(second)  # the same double
    records = [(first, "a", 4.0), (second, "a", 2.0), (second, "b", 5.0)]
    data = triples.read_triples(spark.createDataFrame(records, schema))
    assert data.index.users.tolist() == [str(first), str(second)]
    assert data.n_ratings == 3
    got = np.vstack([b.values.toarray() for b in blk.collect(data.blocks, lambda b: b)])
    assert got.tolist() == [[4, 0], [2, 5]]
    data.release()
