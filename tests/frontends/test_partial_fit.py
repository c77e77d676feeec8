"""``GaussianMixtureModel.partialFit``: one stepwise EM update from a DataFrame, against the
update written from the equations row by row (``stepwise_reference``) and against one batch
EM iteration (``missing_reference``) when the step is 1."""

from __future__ import annotations

import numpy as np
import pytest

from spark_em.errors import InputError
from spark_em.kernels.gaussian import Mixture
from spark_em.ml import GaussianMixture, GaussianMixtureModel
from tests.helpers import missing_reference as ref
from tests.helpers.stepwise_reference import reference_step

KINDS = ("full", "tied", "diag", "spherical")
CENTRES = np.array([[0.0, 0.0, 1.0], [5.0, 5.0, 0.0], [0.0, 6.0, -2.0]])


def mixture_of(kind: str) -> Mixture:
    full = np.stack([np.eye(3) * s + 0.3 for s in (1.0, 1.5, 2.0)])
    cov = {
        "full": full,
        "tied": full[1],
        "diag": np.stack([np.diag(c) for c in full]),
        "spherical": np.array([1.1, 1.6, 2.1]),
    }[kind]
    return Mixture(np.array([0.3, 0.3, 0.4]), CENTRES + 0.5, cov, kind)


def rows(seed: int, n: int = 90, missing_share: float = 0.0):
    rng = np.random.default_rng(seed)
    X = CENTRES[np.arange(n) % 3] + rng.normal(size=(n, 3))
    X[rng.random(X.shape) < missing_share] = np.nan
    return X, rng.integers(1, 4, size=n).astype(float)


def frame(spark, X, w=None):
    data = [([None if np.isnan(v) else float(v) for v in x],) for x in X]
    if w is None:
        return spark.createDataFrame(data, "features array<double>")
    return spark.createDataFrame(
        [(*r, float(v)) for r, v in zip(data, w)], "features array<double>, w double"
    )


def model_of(mixture: Mixture, **params) -> GaussianMixtureModel:
    model = GaussianMixtureModel(mixture)
    return model._set(k=3, covarianceType=mixture.covariance_type, **params)


def assert_mixture(model, weights, means, cov, rtol=1e-10):
    for got, want in ((model.weights, weights), (model.means, means), (model.covariances, cov)):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


@pytest.mark.parametrize("kind", KINDS)
def test_a_whole_step_is_one_batch_em_iteration(spark, kind):
    X, _ = rows(1, missing_share=0.15)
    mixture = mixture_of(kind)
    new = model_of(mixture, missingValue="nan").partialFit(frame(spark, X), stepSize=1.0)
    lls, params = ref.em(X, *mixture[:3], kind, 1)
    assert_mixture(new, *params[0])
    assert new.summary.logLikelihood == pytest.approx(lls[0], rel=1e-10)
    assert new.summary.numRows == (~np.isnan(X).all(axis=1)).sum()
    assert (new.numUpdates, new.rowsSeen) == (1, new.summary.numRows)


@pytest.mark.parametrize("kind", KINDS)
def test_a_weighted_step_with_missing_values(spark, kind):
    X, w = rows(2, missing_share=0.2)
    mixture = mixture_of(kind)
    model = model_of(mixture, missingValue="nan", weightCol="w")
    new = model.partialFit(frame(spark, X, w), stepSize=0.3)
    assert_mixture(new, *reference_step(X, w, mixture, 0.3))


def test_the_default_step_adds_the_batch_to_the_rows_fitted(spark):
    X, _ = rows(3)
    fitted = GaussianMixture(k=3, seed=0, featuresCol="features").fit(frame(spark, X))
    assert fitted.rowsSeen == len(X) and fitted.numUpdates == 0
    Y, _ = rows(4, n=30)
    new = fitted.partialFit(frame(spark, Y))
    assert_mixture(new, *reference_step(Y, np.ones(len(Y)), fitted._mixture, 30 / 120))
    assert new.rowsSeen == 120
    # with a decay, the step after t updates is (t + 2)^(-α); a half-life, 1 - 2^(-n_b/h)
    decayed = new.copy().setStepDecay(0.75).partialFit(frame(spark, Y))
    assert_mixture(decayed, *reference_step(Y, np.ones(30), new._mixture, 3**-0.75))
    halved = new.copy().setStepDecay(0.75).setHalfLife(60).partialFit(frame(spark, Y))
    assert_mixture(halved, *reference_step(Y, np.ones(30), new._mixture, 1 - 2**-0.5))


def test_a_saved_model_goes_on_where_it_stopped(spark, tmp_path):
    X, _ = rows(5)
    model = model_of(mixture_of("diag")).setStepDecay(0.6).partialFit(frame(spark, X))
    model.write().save(str(tmp_path / "m"))
    loaded = GaussianMixtureModel.load(str(tmp_path / "m"))
    assert (loaded.numUpdates, loaded.rowsSeen, loaded.getStepDecay()) == (1, 90.0, 0.6)
    Y, _ = rows(6, n=40)
    a, b = model.partialFit(frame(spark, Y)), loaded.partialFit(frame(spark, Y))
    assert_mixture(a, b.weights, b.means, b.covariances, rtol=1e-14)
    assert_mixture(a, *reference_step(Y, np.ones(40), model._mixture, 3**-0.6))


def test_bad_batches_are_refused(spark):
    model = model_of(mixture_of("full"))
    X, _ = rows(7, n=12)
    with pytest.raises(InputError, match="stepSize must be in"):
        model.partialFit(frame(spark, X), stepSize=0.0)
    with pytest.raises(InputError, match="3 values a row; the model was fitted on 2"):
        model_of(Mixture(np.ones(2) / 2, np.zeros((2, 2)), np.ones(2), "spherical")).partialFit(
            frame(spark, X)
        )
    with pytest.raises(InputError, match="no rows to learn from"):
        model.partialFit(frame(spark, X).limit(0))
    with pytest.raises(InputError, match="row .*: nan is not a finite number"):
        model.partialFit(frame(spark, np.where(X > 5, np.nan, X)))
