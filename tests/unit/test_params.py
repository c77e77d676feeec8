"""The estimators' params: keyword-only, getters and setters, copies, and values refused when
they are set (no Spark session needed)."""

from __future__ import annotations

import pytest

from spark_em.ml import GaussianMixture, MaskedGaussianMixture, WeightedLinearRegression


def test_params_getters_setters_and_copy():
    gm = GaussianMixture(k=4, covarianceType="diag", seed=3)
    assert (gm.getK(), gm.getCovarianceType(), gm.getSeed(), gm.getTol()) == (4, "diag", 3, 1e-6)
    assert gm.getInitMode() == "kmeans++" and gm.getRegCovar() == 1e-6 and gm.getMaxIter() == 100
    gm.setK(2).setTol(1e-4).setFeaturesCol("arr").setNInit(2)
    assert (gm.getK(), gm.getTol(), gm.getFeaturesCol(), gm.getNInit()) == (2, 1e-4, "arr", 2)
    other = gm.copy({gm.k: 7})
    assert other.getK() == 7 and gm.getK() == 2
    with pytest.raises(TypeError):
        GaussianMixture(3)  # keyword-only, like pyspark.ml


def test_backend_param():
    gm = GaussianMixture(k=2)
    assert gm.getBackend() == "auto"
    assert gm.setBackend("dataframe").getBackend() == "dataframe"
    assert MaskedGaussianMixture(backend="rdd").getBackend() == "rdd"
    assert WeightedLinearRegression().setParams(backend="dataframe").getBackend() == "dataframe"
    with pytest.raises(TypeError, match="backend must be one of"):
        WeightedLinearRegression(backend="gpu")


@pytest.mark.parametrize(
    "estimator, bad, message",
    [
        (GaussianMixture, {"k": 0}, 'param "k". k must be > 0'),
        (GaussianMixture, {"covarianceType": "round"}, "covarianceType must be one of full, tied"),
        (GaussianMixture, {"initMode": "best"}, "initMode must be one of reference, kmeans++"),
        (GaussianMixture, {"nInit": 0}, "nInit must be >= 1"),
        (GaussianMixture, {"regCovar": -1e-3}, "regCovar must be >= 0"),
        (GaussianMixture, {"maxIter": 0}, "maxIter must be >= 1"),
        (GaussianMixture, {"tol": float("nan")}, "tol must be >= 0"),
        (MaskedGaussianMixture, {"k": -2}, "k must be > 0"),
        (MaskedGaussianMixture, {"minVariance": 0.0}, "minVariance must be > 0"),
        (
            WeightedLinearRegression,
            {"solver": "lbfgs"},
            "solver must be one of qr, newton, normal, gd",
        ),
        (WeightedLinearRegression, {"stepSize": -0.1}, "stepSize must be >= 0"),
    ],
)
def test_values_that_cannot_be_used_are_refused_when_set(estimator, bad, message):
    with pytest.raises(TypeError, match=message.replace("+", r"\+").replace("(", r"\(")):
        estimator(**bad)
    name, value = next(iter(bad.items()))
    instance = estimator()
    with pytest.raises(TypeError, match="must be"):
        instance.set(getattr(instance, name), value)
