"""Values checked at every door: numbers too large for the passes refused naming their row and
column, infinities refused (never read as missing), parameters from outside a fit checked,
and an error raised on an executor brought back as the library's one line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from spark_em.engine import ops
from spark_em.errors import InputError
from spark_em.io import matrix, triples
from spark_em.kernels import masked


@pytest.fixture(params=["rdd", "dataframe"])
def backend(request):
    return request.param


def test_values_too_large_for_the_sums_are_refused(spark, tmp_path, backend):
    (tmp_path / "r.txt").write_text("1 2 3\n4 1e308 5\n")
    with pytest.raises(InputError, match=r"r\.txt line 2: column 2: 1e\+308 is too large"):
        matrix.read_text(spark, str(tmp_path / "r.txt"), backend=backend)
    X = np.ones((5, 3))
    X[3, 1] = 1e307
    with pytest.raises(InputError, match=r"row 4 column 2: 1e\+307 is too large"):
        ops.from_array(spark, X, backend=backend)
    X[3, 1] = np.inf
    with pytest.raises(InputError, match="row 4 column 2: inf is not a finite number"):
        ops.from_array(spark, X, backend=backend)
    df = spark.createDataFrame([([1.0, 2.0],), ([3.0, 1e300],)], ["features"])
    with pytest.raises(InputError, match=r"row 2: column 2: 1e\+300 is too large"):
        matrix.read_dataframe(df, "features", ratings=False, missing="nan", backend=backend)
    records = spark.createDataFrame(
        [(1, 1, 4.0), (2, 1, 1e200)], "user long, item long, rating double"
    )
    with pytest.raises(InputError, match=r"rating 1\.0E200 is too large"):
        triples.read_triples(records, backend=backend)


def test_an_estimator_refuses_features_too_large(spark):
    from spark_em.ml import GaussianMixture, WeightedLinearRegression

    df = spark.createDataFrame(
        [([float(i), 1e307 if i == 7 else 1.0], float(i)) for i in range(20)],
        ["features", "label"],
    )
    with pytest.raises(InputError, match=r"row 8: column 2: 1e\+307 is too large"):
        GaussianMixture(k=2).fit(df)
    from pyspark.ml.linalg import Vectors

    vectors = spark.createDataFrame(
        [(Vectors.dense([float(i), 1e307 if i == 7 else 1.0]), float(i)) for i in range(20)],
        ["features", "label"],
    )
    with pytest.raises(InputError, match=r"row 8: column 'features\[1\]': 1e\+307 is too large"):
        WeightedLinearRegression().fit(vectors)


def test_an_error_raised_on_an_executor_comes_back_as_one_line(spark, backend):
    blocks = ops.from_array(spark, np.ones((40, 2)), 2, 10, backend=backend)

    def refuse(values, params, weights=None):
        raise InputError("row 3 of the block: nothing to see here")

    with pytest.raises(InputError) as caught:
        ops.aggregate(blocks, refuse, lambda a, b: a, None)
    assert str(caught.value) == "row 3 of the block: nothing to see here"
    blocks.unpersist()


def test_the_pyfunc_refuses_infinite_and_oversized_values(spark):
    from spark_em.ml import GaussianMixture, MixtureRecommenderModel

    frame = spark.createDataFrame([([float(i), float(i % 4)],) for i in range(40)], ["features"])
    model = GaussianMixture(k=2, seed=0).fit(frame)
    with pytest.raises(InputError, match="inf is not a finite number"):
        model._score_pandas(pd.DataFrame({"features": [[1.0, np.inf]]}))
    with pytest.raises(InputError, match="is too large"):
        model._score_pandas(pd.DataFrame({"features": [[1.0, 1e200]]}))
    mixture = masked.SphericalMixture(
        np.array([0.5, 0.5]), np.array([[1.0, 4.0], [4.0, 1.0]]), np.array([1.0, 1.0])
    )
    recommender = MixtureRecommenderModel(mixture, np.array([10, 20]))
    asked = pd.DataFrame({"user": [1, 1], "item": [10, 20], "rating": [np.inf, None]})
    with pytest.raises(InputError, match="rating.*finite"):
        recommender._score_pandas(asked)


def test_a_checkpoint_edited_to_an_impossible_state_is_refused(spark, tmp_path):
    from spark_em.models import masked as masked_model

    X = np.random.default_rng(0).integers(0, 6, size=(30, 4)).astype(float)
    blocks = ops.from_array(spark, X, 2)
    summary = ops.summarize(blocks)
    directory = tmp_path / "ck"
    checkpoint = masked_model.checkpoint_for(directory, summary, tol=1e-6)
    masked_model.fit(blocks, 2, 0, max_iter=3, checkpoint=checkpoint)
    state = json.loads((directory / "state.json").read_text())
    state["starts"][0]["params"]["variances"][0] = -1.0
    (directory / "state.json").write_text(json.dumps(state))
    with pytest.raises(InputError, match="not a readable checkpoint.*variances must be > 0"):
        masked_model.fit(blocks, 2, 0, max_iter=6, checkpoint=checkpoint, resume=True)
    blocks.unpersist()


def test_a_fit_driven_out_of_range_stops_in_one_line(spark):
    from spark_em.io.table import RegressionData
    from spark_em.models import wols

    x = np.arange(50.0)
    data = RegressionData(ops.from_array(spark, np.column_stack([2 * x + 1, x]), 2), ["x"], 50)
    with pytest.raises(InputError, match=r"objective became (inf|nan) at pass \d+"):
        wols.fit(data, "gd", step=1e6, stop="classic", max_iter=2000)
    data.blocks.unpersist()
