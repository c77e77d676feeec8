"""A mixture of regressions with a gate scored from pandas (the MLflow pyfunc's path) against
π(z) written out: numeric and list gate columns, null and NaN rows, and a wrong width."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spark_em.errors import InputError
from spark_em.kernels.mixreg import RegressionMixture
from spark_em.ml import MixtureOfRegressionsModel

GATE = np.array([[0.0, 0.0, 0.0], [0.5, 2.0, -1.0]])
BETA = np.array([[0.0, 1.0], [1.0, -1.0]])


def model(gate_col):
    mixture = RegressionMixture(np.array([0.5, 0.5]), BETA, np.array([1.0, 1.0]), GATE)
    return MixtureOfRegressionsModel(mixture, True).setGateCol(gate_col)


def expected(x, z):
    logits = GATE[:, 0] + GATE[:, 1:] @ z
    pi = np.exp(logits) / np.exp(logits).sum()
    return pi @ (BETA[:, 0] + BETA[:, 1] * x)


def test_numeric_gate_columns_with_a_missing_value():
    frame = pd.DataFrame(
        {"features": [[1.0], [2.0], [3.0]], "a": [0.0, 1.0, np.nan], "b": [0.5, -1.0, 0.0]}
    )
    out = model(["a", "b"])._score_pandas(frame)
    assert out["prediction"][0] == pytest.approx(expected(1.0, [0.0, 0.5]), rel=1e-12)
    assert out["prediction"][1] == pytest.approx(expected(2.0, [1.0, -1.0]), rel=1e-12)
    assert np.isnan(out["prediction"][2])
    assert model(["a", "b"]).predict([2.0], gate=[1.0, -1.0]) == pytest.approx(
        expected(2.0, [1.0, -1.0]), rel=1e-12
    )


def test_a_list_gate_column_with_a_null_row_and_a_wrong_width():
    frame = pd.DataFrame({"features": [[1.0], [2.0]], "z": [[0.0, 0.5], None]})
    out = model("z")._score_pandas(frame)
    assert out["prediction"][0] == pytest.approx(expected(1.0, [0.0, 0.5]), rel=1e-12)
    assert np.isnan(out["prediction"][1])
    with pytest.raises(InputError, match="holds 1 values on a row"):
        model("z")._score_pandas(pd.DataFrame({"features": [[1.0]], "z": [[0.0]]}))
    with pytest.raises(InputError, match="gateCol"):
        model("z")._score_pandas(pd.DataFrame({"features": [[1.0]]}))
    with pytest.raises(InputError, match="give the row's covariates"):
        model("z").predict([1.0])
