"""Stepwise EM's update against a reference written from the equations on uncentred
statistics, s ← (1 − η) s + η s_b, row by row (``missing_reference``), with weights and
missing values, for every covariance type."""

from __future__ import annotations

import numpy as np
import pytest

from spark_em.kernels import gaussian, missing, stepwise
from spark_em.kernels.gaussian import Mixture
from tests.helpers import missing_reference as ref
from tests.helpers.stepwise_reference import reference_step

pytestmark = pytest.mark.unit
KINDS = ("full", "tied", "diag", "spherical")
REG = 1e-6
CASES = ("complete", "weighted", "missing", "far")


def mixture_of(kind: str, rng, K=3, d=4, offset=0.0) -> Mixture:
    means = rng.normal(size=(K, d)) * 3 + offset
    A = rng.normal(size=(K, d, d)) * 0.4
    full = A @ np.swapaxes(A, 1, 2) + np.eye(d)
    cov = {
        "full": full,
        "tied": full[0],
        "diag": np.stack([np.diag(c) for c in full]),
        "spherical": np.array([np.trace(c) / d for c in full]),
    }[kind]
    weights = rng.dirichlet(np.ones(K) * 3)
    return Mixture(weights, means, cov, kind)


def batch(rng, mixture: Mixture, n=60, missing_share=0.0):
    """Rows about the mixture's means (every component has rows near it), shifted."""
    K, d = mixture.means.shape
    X = mixture.means[np.arange(n) % K] + rng.normal(size=(n, d)) * 1.5
    X[rng.random(X.shape) < missing_share] = np.nan
    return X


def close(a, b, rtol):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("eta", [1.0, 0.3])
@pytest.mark.parametrize("case", CASES)
def test_update_equals_the_uncentred_reference(kind, eta, case):
    rng = np.random.default_rng([KINDS.index(kind), CASES.index(case)])
    offset = 1e4 if case == "far" else 0.0
    mixture = mixture_of(kind, rng, offset=offset)
    X = batch(rng, mixture, missing_share=0.25 if case == "missing" else 0.0)
    X[5] = np.nan  # a row with nothing observed counts for nothing
    if case != "missing":
        X[5] = X[4]
    w = rng.integers(1, 4, size=len(X)).astype(float) if case != "complete" else np.ones(len(X))
    stats = missing.block_stats(X, gaussian.prepare(mixture), None if case == "complete" else w)
    new = stepwise.update(stats, mixture, eta, REG)
    weights, means, cov = reference_step(X, w, mixture, eta)
    # far from the origin the reference's uncentred moments lose digits, not the library's
    rtol = 1e-6 if case == "far" else 1e-10
    close(new.weights, weights, 1e-10)
    close(new.means, means, 1e-10)
    close(new.covariances, cov, rtol)


@pytest.mark.parametrize("kind", KINDS)
def test_a_whole_step_is_one_batch_em_iteration(kind):
    rng = np.random.default_rng(7)
    mixture = mixture_of(kind, rng)
    X = batch(rng, mixture, missing_share=0.2)
    stats = missing.block_stats(X, gaussian.prepare(mixture))
    new = stepwise.update(stats, mixture, 1.0, REG)
    _, params = ref.em(X, *mixture[:3], kind, 1, reg_covar=REG)
    for got, want in zip(new[:3], params[0]):
        close(got, want, 1e-10)


def test_integer_weights_equal_repeated_rows():
    rng = np.random.default_rng(3)
    mixture = mixture_of("full", rng)
    X = batch(rng, mixture, n=30)
    w = rng.integers(1, 4, size=len(X))
    weighted = stepwise.update(
        gaussian.block_stats(X, gaussian.prepare(mixture), w.astype(float)), mixture, 0.4
    )
    repeated = stepwise.update(
        gaussian.block_stats(np.repeat(X, w, axis=0), gaussian.prepare(mixture)), mixture, 0.4
    )
    for a, b in zip(weighted[:3], repeated[:3]):
        close(a, b, 1e-11)


def test_a_component_no_row_reaches_keeps_its_mean_and_covariance():
    rng = np.random.default_rng(5)
    mixture = mixture_of("full", rng)
    far = Mixture(
        np.array([0.5, 0.5 - 1e-300, 1e-300]),
        mixture.means + np.array([[0.0], [0.0], [1e6]]),
        mixture.covariances,
        "full",
    )
    stats = gaussian.block_stats(batch(rng, mixture), gaussian.prepare(far))
    new = stepwise.update(stats, far, 1.0)
    np.testing.assert_array_equal(new.means[2], far.means[2])
    np.testing.assert_array_equal(new.covariances[2], far.covariances[2])
    assert new.weights[2] < 1e-12 and np.isclose(new.weights.sum(), 1.0)


def test_step_sizes():
    # Liang & Klein's schedule, a half-life in rows, and the cumulative step
    assert stepwise.step_size(100, 0, 0, decay=0.6) == pytest.approx(2**-0.6, rel=1e-15)
    assert stepwise.step_size(100, 8, 0, decay=1.0) == pytest.approx(0.1, rel=1e-15)
    assert stepwise.step_size(500, 3, 0, decay=0.7, half_life=500) == pytest.approx(0.5)
    # two batches of h/2 rows leave the old statistics half their weight
    eta = stepwise.step_size(50, 0, 0, half_life=100)
    assert (1 - eta) ** 2 == pytest.approx(0.5, rel=1e-14)
    assert stepwise.step_size(25, 0, 75) == pytest.approx(0.25)
    for bad in (0.5, 1.2, 0.0):
        with pytest.raises(ValueError, match="stepDecay"):
            stepwise.step_size(10, 0, 0, decay=bad)
    with pytest.raises(ValueError, match="halfLife"):
        stepwise.step_size(10, 0, 0, half_life=0)
    with pytest.raises(ValueError, match="stepSize"):
        stepwise.update(None, None, 1.5)


@pytest.mark.parametrize("kind", KINDS)
def test_a_whole_step_is_the_batch_m_step_even_for_a_nearly_empty_component(kind):
    # a component with 1e-6 of a million rows' responsibility: not empty for the batch rule
    rng = np.random.default_rng(11)
    previous = mixture_of(kind, rng)
    K, d = previous.means.shape
    resp = np.array([5e5, 5e5 - 1e-6, 1e-6])
    shift = rng.normal(size=(K, d))
    A = rng.normal(size=(K, d, d))
    scatter = A @ np.swapaxes(A, 1, 2) + np.eye(d)
    square = resp[:, None, None] * (scatter + shift[:, :, None] * shift[:, None, :])
    if kind in ("diag", "spherical"):
        square = np.diagonal(square, axis1=1, axis2=2).copy()
    stats = gaussian.GaussianStats(0.0, 1e6, resp, resp[:, None] * shift, square)
    want = gaussian.update(stats, previous, REG)
    got = stepwise.update(stats, previous, 1.0, REG)
    # the batch M-step divides by N_k + 10 ε: 2e-9 relative at N_k = 1e-6
    for a, b in zip(got[:3], want[:3]):
        close(a, b, 1e-8)
