"""GaussianMixture's options beyond MLlib's: row weights, an initial model, model selection
over K and covariance types, and the model's sample, evaluate/score, predict and gaussiansDF.
References: the same fit on repeated rows, scipy densities, scikit-learn's BIC of the fitted
parameters, and sample moments."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from spark_em.errors import InputError
from spark_em.ml import GaussianMixture, GaussianMixtureModel

CENTRES = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 6.0]])


@pytest.fixture(scope="module")
def data(spark):
    from pyspark.ml.linalg import Vectors

    rng = np.random.default_rng(11)
    X = np.vstack([rng.normal(c, 1.0, size=(120, 2)) for c in CENTRES])
    w = rng.integers(0, 4, size=len(X)).astype(float)
    weighted = spark.createDataFrame(
        [(Vectors.dense(x), float(v)) for x, v in zip(X, w)], ["features", "w"]
    )
    repeated = spark.createDataFrame(
        [(Vectors.dense(x),) for x in np.repeat(X, w.astype(int), 0)], ["features"]
    )
    return X, w, weighted, repeated


def start(kind="full"):
    from spark_em.kernels import gaussian

    return {
        "weights": [0.3, 0.3, 0.4],
        "means": (CENTRES + 0.5).tolist(),
        "covariances": gaussian.spread(np.array([1.5, 2.0, 1.0]), 2, kind).tolist(),
        "covarianceType": kind,
    }


def mixture_log_likelihood(X, weights, means, covariances, row_weights=None):
    dens = np.column_stack(
        [
            np.log(p) + multivariate_normal(m, c).logpdf(X)
            for p, m, c in zip(weights, means, covariances)
        ]
    )
    rows = logsumexp(dens, axis=1)
    return rows.sum() if row_weights is None else row_weights @ rows


@pytest.mark.parametrize("kind", ["tied", "diag"])
def test_weight_column_equals_repeated_rows(data, kind):
    _, _, weighted, repeated = data
    options = dict(initialModel=start(kind), maxIter=6, tol=0.0)
    a = GaussianMixture(weightCol="w", **options).fit(weighted)
    b = GaussianMixture(**options).fit(repeated)
    assert a.summary.logLikelihood == pytest.approx(b.summary.logLikelihood, rel=1e-10)
    assert_allclose(a.means, b.means, rtol=1e-8)
    assert_allclose(a.covariances, b.covariances, rtol=1e-8)
    assert a.summary.numRows == pytest.approx(b.summary.numRows)


def test_initial_model_is_where_em_starts(data):
    X, w, weighted, _ = data
    given = start("full")
    model = GaussianMixture(initialModel=given, weightCol="w", maxIter=1).fit(weighted)
    covs = np.array(given["covariances"])
    expected = mixture_log_likelihood(X, given["weights"], given["means"], covs, w)
    assert model.summary.logLikelihood == pytest.approx(expected, rel=1e-10)
    # a fitted model as the start: the next E-step scores at least its last one
    fitted = GaussianMixture(k=3, seed=2, weightCol="w").fit(weighted)
    again = GaussianMixture(initialModel=fitted, weightCol="w", maxIter=1).fit(weighted)
    assert again.getK() == 3 and again.getCovarianceType() == "full"
    assert again.summary.logLikelihood >= fitted.summary.logLikelihood - 1e-9
    assert again.summary.logLikelihood == pytest.approx(
        fitted.evaluate(weighted)["logLikelihood"], rel=1e-12
    )
    with pytest.raises(InputError, match="k=4 differs from the initial model's 3"):
        GaussianMixture(initialModel=given, k=4).fit(weighted)
    with pytest.raises(TypeError, match="initialModel"):
        GaussianMixture(initialModel="nothing")


def sklearn_bic(model, X, sample_weight_rows=None):
    from sklearn.mixture import GaussianMixture as SkGaussianMixture
    from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

    kind = model.getCovarianceType()
    sk = SkGaussianMixture(len(model.weights), covariance_type=kind)
    sk.weights_, sk.means_, sk.covariances_ = model.weights, model.means, model.covariances
    sk.precisions_cholesky_ = _compute_precision_cholesky(model.covariances, kind)
    return sk.bic(X), sk.aic(X)


def test_model_selection_over_k_and_covariance_types(data, spark):
    X, _, _, _ = data
    from pyspark.ml.linalg import Vectors

    df = spark.createDataFrame([(Vectors.dense(x),) for x in X], ["features"])
    model = GaussianMixture(
        kValues=[1, 2, 3, 4], covarianceTypes=["full", "spherical"], seed=0, maxIter=30
    ).fit(df)
    rows = [r.asDict() for r in model.summary.candidates.collect()]
    assert [(r["k"], r["covarianceType"]) for r in rows] == [
        (k, t) for t in ("full", "spherical") for k in (1, 2, 3, 4)
    ]
    n = len(X)
    for r in rows:
        p = {"full": 6 * r["k"] - 1, "spherical": 4 * r["k"] - 1}[r["covarianceType"]]
        assert r["numParams"] == p
        assert r["bic"] == pytest.approx(-2 * r["logLikelihood"] + p * np.log(n), rel=1e-12)
        assert r["aic"] == pytest.approx(-2 * r["logLikelihood"] + 2 * p, rel=1e-12)
        assert r["courseBic"] == pytest.approx(r["logLikelihood"] - p * np.log(n) / 2, rel=1e-12)
    best = min(rows, key=lambda r: r["bic"])  # lower is better, as in scikit-learn
    assert best["chosen"] and sum(r["chosen"] for r in rows) == 1
    assert max(rows, key=lambda r: r["courseBic"]) is best  # the two conventions agree
    assert (
        (model.getK(), model.getCovarianceType())
        == (best["k"], best["covarianceType"])
        == (3, "spherical")
    )
    # held-out scores of the chosen model against scikit-learn's on the same parameters
    scores = model.evaluate(df)
    bic, aic = sklearn_bic(model, X)
    assert scores["bic"] == pytest.approx(bic, rel=1e-10)
    assert scores["aic"] == pytest.approx(aic, rel=1e-10)
    # the training figure: the last E-step's log-likelihood, to the stopping rule's tolerance
    assert model.bic == pytest.approx(bic, rel=1e-6)
    assert model.aic == pytest.approx(aic, rel=1e-6)
    assert model.score(df) == pytest.approx(
        mixture_log_likelihood(
            X, model.weights, model.means, [np.eye(2) * v for v in model.covariances]
        )
        / n,
        rel=1e-10,
    )


def test_sample_predict_and_gaussians(data, spark, tmp_path):
    X, w, weighted, _ = data
    model = GaussianMixture(initialModel=start("diag"), weightCol="w", maxIter=20).fit(weighted)
    drawn = model.sample(30000, seed=4)
    assert drawn.columns == ["features", "component"]
    rows = np.array([r.features.toArray() for r in drawn.select("features").collect()])
    labels = np.array([r.component for r in drawn.select("component").collect()])
    assert_allclose(np.bincount(labels, minlength=3) / len(labels), model.weights, atol=0.01)
    for k in range(3):
        mine = rows[labels == k]
        assert_allclose(mine.mean(axis=0), model.means[k], atol=0.05)
        assert_allclose(mine.var(axis=0), model.covariances[k], rtol=0.06)
    first = np.array([r.features.toArray() for r in model.sample(50, seed=4).collect()])
    assert_allclose(first, rows[:50], rtol=0, atol=0)  # row i does not depend on n
    assert not np.allclose(first, rows[50:100])

    scored = model.transform(weighted.limit(5)).collect()
    for r in scored:
        assert model.predict(r.features) == r.prediction
        assert_allclose(
            model.predictProbability(r.features.toArray().tolist()).toArray(),
            r.probability.toArray(),
            rtol=1e-12,
        )
    gaussians = model.gaussiansDF.collect()
    for g, mean, var in zip(gaussians, model.means, model.covariances):
        assert_allclose(g["mean"].toArray(), mean)
        assert_allclose(g["cov"].toArray(), np.diag(var))

    path = str(tmp_path / "model")
    model.save(path)
    loaded = GaussianMixtureModel.load(path)
    assert loaded.summary.candidates.count() == 1 and loaded.predict([5.0, 5.0]) == model.predict(
        [5.0, 5.0]
    )
    with pytest.raises(InputError, match="3 values a row; the model was fitted on 2"):
        model.predict([1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="holds NaN"):
        model.predict([1.0, float("nan")])


def test_a_bad_weight_names_its_row(spark):
    from pyspark.ml.linalg import Vectors

    df = spark.createDataFrame(
        [(Vectors.dense([float(i), 1.0]), 1.0 if i != 4 else -2.0) for i in range(8)],
        ["features", "w"],
    )
    with pytest.raises(InputError, match=r"row 5: weight \('w'\) -2.0 is not a finite number >= 0"):
        GaussianMixture(k=2, weightCol="w").fit(df)
