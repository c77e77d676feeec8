"""Generated bad input at every door: the text and CSV readers, the (user, item, rating)
reader, the model loader (mutated metadata and arrays) and the pyfunc. Each case ends in a
result or the library's ``InputError``, never another exception, and never a NaN where a
number was given. Each test prints how many cases it tried."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spark_em.engine import ops
from spark_em.errors import InputError
from spark_em.io import matrix, triples

FAST = settings(
    max_examples=20,
    deadline=None,
    database=None,  # nothing written into the tree
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FEWER = settings(FAST, max_examples=8)  # each case builds a ratings index: about 2 s
MANY = settings(FAST, max_examples=200)  # no Spark job: milliseconds a case

NUMBERS = st.one_of(
    st.integers(-3, 9).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "nan", "inf", "-inf", "1e308", "1e-320", "x", "1,5", "NA", "0"]),
)
LINES = st.lists(st.lists(NUMBERS, min_size=1, max_size=4), min_size=0, max_size=6)


def outcome(read) -> str:
    """What a reader made of the input: its blocks' values checked, or the refusal."""
    try:
        blocks = read()
    except InputError:
        return "refused"
    values = np.concatenate([np.asarray(ops.to_local(blocks), dtype=np.float64).ravel(), [0]])
    blocks.unpersist()
    assert not np.isinf(values).any() and np.abs(np.nan_to_num(values)).max() <= 1e75
    return "read"


def test_text_and_csv_readers(spark, tmp_path):
    seen = {"read": 0, "refused": 0}

    @FAST
    @given(lines=LINES, separator=st.sampled_from([" ", ","]))
    def case(lines, separator):
        path = tmp_path / ("m.csv" if separator == "," else "m.txt")
        path.write_text("".join(separator.join(row) + "\n" for row in lines))
        seen[outcome(lambda: matrix.read_matrix(spark, str(path)))] += 1
        seen[
            outcome(lambda: matrix.read_matrix(spark, str(path), ratings=False, missing="nan"))
        ] += 1

    case()
    print(f"text and CSV readers: {sum(seen.values())} cases, {seen}")
    assert seen["refused"] and seen["read"]


def test_triples_reader(spark):
    seen = {"read": 0, "refused": 0}
    ids = st.one_of(st.integers(-2, 5), st.none())
    ratings = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.none(), st.sampled_from([1.0, 3.0, 5.0])
    )

    @FEWER
    @given(rows=st.lists(st.tuples(ids, ids, ratings), min_size=0, max_size=8), drop=st.booleans())
    def case(rows, drop):
        df = spark.createDataFrame(rows, "user long, item long, rating double")

        def read():
            data = triples.read_triples(df, on_bad_rows="drop" if drop else "error")
            return data.blocks

        seen[outcome(read)] += 1

    case()
    print(f"triples reader: {sum(seen.values())} cases, {seen}")
    assert seen["refused"] and seen["read"]


@pytest.fixture(scope="module")
def saved(spark, tmp_path_factory):
    from spark_em.ml import GaussianMixture

    frame = spark.createDataFrame([([float(i), float(i % 3)],) for i in range(30)], ["features"])
    path = tmp_path_factory.mktemp("fuzz") / "model"
    GaussianMixture(k=2, seed=0).fit(frame).save(str(path))
    return path


def test_model_loader(spark, saved, tmp_path):
    from spark_em.ml import GaussianMixtureModel

    seen = {"loaded": 0, "refused": 0}
    probe = pd.DataFrame({"features": [[0.0, 1.0], [5.0, 2.0]]})
    scalars = st.one_of(
        st.none(),
        st.integers(),
        st.floats(),
        st.text(max_size=5),
        st.lists(st.integers(), max_size=3),
    )

    @FAST
    @given(
        where=st.sampled_from(["model", "persistence", "paramMap", "summary", "top", "array"]),
        key=st.sampled_from(["covarianceType", "k", "format", "weights", "numIter", "bogus"]),
        value=scalars,
        scale=st.sampled_from([np.nan, np.inf, -1.0, 0.0, 1e300]),
    )
    def case(where, key, value, scale):
        copy = tmp_path / "m"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(saved, copy, ignore=shutil.ignore_patterns("*.crc"))
        meta_file = next((copy / "metadata").glob("part-*"))
        meta = json.loads(meta_file.read_text())
        if where == "array":  # a value changed and its checksum made to agree
            part = next((copy / "arrays").glob("*.parquet"))
            rows = pq.read_table(part).to_pylist()
            for row in rows:
                if row["name"] == "means":
                    data = np.frombuffer(row["data"], row["dtype"]).copy()
                    data[0] = scale
                    row["data"] = data.tobytes()
                    import hashlib

                    meta["persistence"]["arrays"]["means"]["sha256"] = hashlib.sha256(
                        row["data"]
                    ).hexdigest()
            pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(part)), part)
        elif where == "top":
            meta[key] = value
        elif where == "summary":
            meta["model"]["summary"][key] = value
        else:
            meta[where][key] = value
        meta_file.write_text(json.dumps(meta))
        try:
            model = GaussianMixtureModel.load(str(copy))
        except InputError:
            seen["refused"] += 1
            return
        seen["loaded"] += 1
        out = model._score_pandas(probe)
        assert np.isfinite(np.stack(out["probability"])).all()
        assert np.isfinite(out["logLikelihood"]).all()

    case()
    print(f"model loader: {sum(seen.values())} cases, {seen}")
    assert seen["refused"] and seen["loaded"]


def test_pyfunc(spark, saved):
    from spark_em.ml import GaussianMixtureModel

    model = GaussianMixtureModel.load(str(saved))
    seen = {"scored": 0, "refused": 0}
    value = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5))
    rows = st.one_of(st.none(), st.lists(value, min_size=0, max_size=3))

    @MANY
    @given(features=st.lists(rows, min_size=1, max_size=5), name=st.sampled_from(["features", "x"]))
    def case(features, name):
        try:
            out = model._score_pandas(pd.DataFrame({name: features}))
        except InputError:
            seen["refused"] += 1
            return
        seen["scored"] += 1
        given_rows = [r is not None for r in features]
        assert np.isfinite(out["logLikelihood"][given_rows]).all()

    case()
    print(f"pyfunc: {sum(seen.values())} cases, {seen}")
    assert seen["refused"] and seen["scored"]


def test_the_masked_kernels_never_return_nan_for_what_the_readers_accept():
    """Any rows the readers accept (finite, within the magnitude limit) give finite
    statistics: the limit is what keeps the sums in range."""
    from spark_em.kernels import masked

    mixture = masked.SphericalMixture(
        np.array([0.5, 0.5]), np.array([[1.0, 2.0], [3.0, 1.0]]), np.array([1.0, 4.0])
    )
    X = np.array([[1e75, 0.0], [0.0, 1e75], [3.0, 1.0]])
    stats = masked.block_stats(X, mixture)
    assert all(np.isfinite(np.asarray(f, dtype=np.float64)).all() for f in stats)
