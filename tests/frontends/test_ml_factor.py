"""GaussianMixture(covarianceType="factor"): a mixture of factor analysers through the
estimator. References: one EM iteration written from the textbook (its fixed point), scipy's
densities, scikit-learn's FactorAnalysis at K = 1, the diagonal mixture at q = 0, repeated rows
for integer weights, and with missing values EM's monotone log-likelihood and the observed values'
marginal densities."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from spark_em.errors import InputError
from spark_em.ml import GaussianMixture, GaussianMixtureModel
from tests.helpers.factor_reference import log_likelihood, row_log_likelihoods, textbook_update

D, Q = 6, 3  # Q is not nFactors' default


def planted(rng, n_per=200):
    rows = []
    for centre in (0.0, 6.0):
        loadings = rng.normal(size=(D, Q)) * 2.0
        noise = rng.uniform(0.2, 0.6, size=D)
        z = rng.normal(size=(n_per, Q))
        rows.append(centre + z @ loadings.T + rng.normal(size=(n_per, D)) * np.sqrt(noise))
    return np.vstack(rows)


@pytest.fixture(scope="module")
def data(spark):
    from pyspark.ml.linalg import Vectors

    rng = np.random.default_rng(3)
    X = planted(rng)
    w = rng.integers(0, 3, size=len(X)).astype(float)
    frame = spark.createDataFrame(
        [(Vectors.dense(x), float(v)) for x, v in zip(X, w)], ["features", "w"]
    )
    return X, w, frame


OPTIONS = dict(k=2, covarianceType="factor", nFactors=Q, tol=0.0, seed=0)


@pytest.fixture(scope="module")
def fitted(data):
    return GaussianMixture(maxIter=6, **OPTIONS).fit(data[2])


def parameters(model):
    return model.weights, model.means, model.loadings, model.noiseVariances


def test_each_iteration_is_textbook_em(data, fitted):
    X, _, frame = data
    before = GaussianMixture(maxIter=5, **OPTIONS).fit(frame)
    assert fitted.getNFactors() == Q and fitted.summary.numIter == 6
    shown = f"GaussianMixtureModel(k=2, covarianceType='factor', nFactors={Q}, uid="
    assert repr(fitted).startswith(shown)
    for got, want in zip(parameters(fitted), textbook_update(X, before._mixture, 1e-6)):
        assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    want = log_likelihood(
        X, *(before.weights, before.means, before.noiseVariances, before.loadings)
    )
    assert_allclose(fitted.summary.logLikelihood, want, rtol=1e-10)
    sigma = np.einsum("kiq,kjq->kij", fitted.loadings, fitted.loadings)
    sigma[:, np.arange(D), np.arange(D)] += fitted.noiseVariances
    assert_allclose(fitted.covariances, sigma, rtol=1e-12)


def test_saved_model_and_initial_model(fitted, data, tmp_path):
    _, _, frame = data
    fitted.write().save(str(tmp_path / "mfa"))
    loaded = GaussianMixtureModel.load(str(tmp_path / "mfa"))
    assert_allclose(loaded.loadings, fitted.loadings, rtol=0)
    assert_allclose(loaded.noiseVariances, fitted.noiseVariances, rtol=0)
    got = loaded.transform(frame).select("logLikelihood").toPandas()["logLikelihood"]
    X = data[0]
    want = row_log_likelihoods(
        X, fitted.weights, fitted.means, fitted.noiseVariances, fitted.loadings
    )
    assert_allclose(got.to_numpy(), want, rtol=1e-9)
    again = GaussianMixture(initialModel=loaded, maxIter=1, tol=0.0).fit(frame)
    assert again.getCovarianceType() == "factor" and again.getNFactors() == Q
    for got, want in zip(parameters(again), textbook_update(X, loaded._mixture, 1e-6)):
        assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_integer_weights_are_repeated_rows(spark, data):
    from pyspark.ml.linalg import Vectors

    X, w, frame = data
    repeated = spark.createDataFrame(
        [(Vectors.dense(x),) for x in np.repeat(X, w.astype(int), 0)], ["features"]
    )
    rng = np.random.default_rng(6)
    start = {
        "weights": [0.4, 0.6],
        "means": X[[0, -1]].tolist(),
        "covariances": np.ones((2, D)).tolist(),
        "loadings": rng.normal(size=(2, D, 1)).tolist(),
        "covarianceType": "factor",
    }
    a = GaussianMixture(initialModel=start, weightCol="w", tol=0.0, maxIter=4).fit(frame)
    b = GaussianMixture(initialModel=start, tol=0.0, maxIter=4).fit(repeated)
    for got, want in zip(parameters(a), parameters(b)):
        assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    assert_allclose(a.summary.logLikelihood, b.summary.logLikelihood, rtol=1e-10)


def test_no_factors_is_the_diagonal_mixture(data):
    _, _, frame = data
    options = dict(k=2, tol=0.0, maxIter=5, seed=1)
    a = GaussianMixture(covarianceType="factor", nFactorsValues=[0], **options).fit(frame)
    assert a.getNFactors() == 0 and a.loadings.shape == (2, D, 0)
    b = GaussianMixture(covarianceType="diag", **options).fit(frame)
    assert_allclose(a.summary.logLikelihood, b.summary.logLikelihood, rtol=1e-12)
    assert_allclose(a.noiseVariances, b.covariances, rtol=1e-10)
    assert_allclose(a.means, b.means, rtol=1e-10)


def test_one_component_stays_at_scikit_learns_optimum(spark):
    from pyspark.ml.linalg import Vectors
    from sklearn import decomposition

    rng = np.random.default_rng(8)
    X = planted(rng, 150)[:150]
    fa = decomposition.FactorAnalysis(n_components=Q, tol=1e-12, max_iter=20000).fit(X)
    start = {
        "weights": [1.0],
        "means": [fa.mean_.tolist()],
        "covariances": [fa.noise_variance_.tolist()],
        "loadings": [fa.components_.T.tolist()],
        "covarianceType": "factor",
    }
    frame = spark.createDataFrame([(Vectors.dense(x),) for x in X], ["features"])
    model = GaussianMixture(initialModel=start, regCovar=0.0, maxIter=3, tol=0.0).fit(frame)
    assert_allclose(model.summary.logLikelihood, fa.score(X) * len(X), rtol=1e-9)
    assert_allclose(model.covariances[0], fa.get_covariance(), atol=1e-6)


def test_missing_values_raise_the_likelihood_every_iteration(spark, data):
    from pyspark.ml.linalg import Vectors

    X = data[0].copy()
    X[np.random.default_rng(4).uniform(size=X.shape) < 0.1] = np.nan
    frame = spark.createDataFrame([(Vectors.dense(x),) for x in X], ["features"])
    model = GaussianMixture(
        k=2, covarianceType="factor", nFactors=1, missingValue="nan", tol=0.0, maxIter=8
    ).fit(frame)
    history = np.array(model.summary.logLikelihoodHistory)
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[1:]))
    scored = model.transform(frame).select("imputed", "logLikelihood").toPandas()
    imputed = np.stack(scored["imputed"].map(np.asarray))
    assert np.isfinite(imputed).all()
    assert_allclose(imputed[~np.isnan(X)], X[~np.isnan(X)])
    # each row's log-likelihood: its observed values' marginal, Σ formed in full
    sigma = np.einsum("kiq,kjq->kij", model.loadings, model.loadings)
    sigma[:, np.arange(D), np.arange(D)] += model.noiseVariances
    want = [
        logsumexp(
            [
                np.log(model.weights[k])
                + multivariate_normal(model.means[k][o], sigma[k][np.ix_(o, o)]).logpdf(x[o])
                for k in range(2)
            ]
        )
        for x, o in ((x, ~np.isnan(x)) for x in X)
    ]
    assert_allclose(scored["logLikelihood"].to_numpy(), want, rtol=1e-10)


def test_what_a_mixture_of_factor_analysers_refuses(data, fitted):
    _, _, frame = data
    with pytest.raises(InputError, match="at most 6"):
        GaussianMixture(k=2, covarianceType="factor", nFactors=7).fit(frame)
    with pytest.raises(InputError, match="stepwise"):
        fitted.partialFit(frame)
