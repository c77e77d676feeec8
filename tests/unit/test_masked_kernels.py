"""The pure-numpy kernels against the course's reference results and a per-row implementation."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import sparse

from spark_em.kernels import compiled, masked
from spark_em.kernels.arrays import add_fields, column_summary
from tests.helpers import reference
from tests.helpers.masked_reference import per_row_estep, per_row_mstep

PRINTED = dict(rtol=0, atol=1e-8)  # the reference arrays are printed to 8 decimals


@pytest.fixture(scope="module")
def ref(netflix_dir):
    return reference.load(netflix_dir / "test_solutions.txt")


@pytest.fixture(scope="module")
def X(netflix_dir):
    return np.loadtxt(netflix_dir / "test_incomplete.txt")


def run_in_memory(X, mixture, tol=1e-6):
    previous = None
    while True:
        post, ll = masked.estep(X, mixture)
        mixture = masked.mstep(X, post, mixture.means)
        if previous is not None and ll - previous <= tol * abs(ll):
            return mixture, post, ll
        previous = ll


def test_reference_init(X, ref):
    mixture = masked.reference_init(X, ref["K"], 0)
    assert_allclose(mixture.means, ref["init"]["mu"], **PRINTED)
    assert_allclose(mixture.variances, ref["init"]["var"], **PRINTED)
    assert_allclose(mixture.weights, ref["init"]["p"], **PRINTED)


def test_init_variances_from_summary_match_direct(X, ref):
    mixture = masked.reference_init(X, ref["K"], 0)
    from_sums = masked.init_variances(column_summary(X), X.shape[0], mixture.means)
    assert_allclose(from_sums, mixture.variances, rtol=1e-12)


def test_first_estep_and_mstep(X, ref):
    mixture = masked.reference_init(X, ref["K"], 0)
    post, ll = masked.estep(X, mixture)
    assert_allclose(post, ref["first_post"], **PRINTED)
    assert ll == pytest.approx(ref["first_ll"], rel=1e-12)
    p, mu, var = masked.mstep(X, post, mixture.means)
    assert_allclose(mu, ref["first_m"]["mu"], **PRINTED)
    assert_allclose(var, ref["first_m"]["var"], **PRINTED)
    assert_allclose(p, ref["first_m"]["p"], **PRINTED)


def test_converged_run_completion_and_rmse(X, ref, netflix_dir):
    mixture, post, ll = run_in_memory(X, masked.reference_init(X, ref["K"], 0))
    assert ll == pytest.approx(ref["run"]["ll"], rel=1e-8)
    for name, course_name in (("means", "mu"), ("variances", "var"), ("weights", "p")):
        assert_allclose(getattr(mixture, name), ref["run"][course_name], **PRINTED)
    assert_allclose(post, ref["run"]["post"], **PRINTED)
    X_pred = masked.complete(X, mixture)
    assert_allclose(X_pred, ref["X_pred"], **PRINTED)
    gold = np.loadtxt(netflix_dir / "test_complete.txt")
    rmse, _ = masked.rmse_from_errors(masked.squared_errors(X, X_pred, gold))
    assert rmse == pytest.approx(ref["rmse"], rel=1e-8)


# --- against the per-row implementation written from the equations (masked_reference)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernels_match_per_row_implementation(seed):
    rng = np.random.default_rng(seed)
    n, d, K = 60, 9, 3
    X = rng.integers(1, 6, size=(n, d)).astype(float)
    X[rng.random((n, d)) < 0.4] = 0.0
    X[0] = 0.0  # a row with nothing observed
    X[1, 1:] = 0.0  # a row with one observed entry
    X[:, 2] = 0.0  # a column nobody rated: its means never update
    mu = rng.uniform(1, 5, size=(K, d))
    var = rng.uniform(0.5, 3, size=K)
    p = rng.dirichlet(np.ones(K))
    post, ll = masked.estep(X, masked.SphericalMixture(weights=p, means=mu, variances=var))
    want_post, want_ll = per_row_estep(X, mu, var, p)
    assert_allclose(post, want_post, rtol=1e-10, atol=1e-14)
    assert ll == pytest.approx(want_ll, rel=1e-12)
    for min_variance in (0.25, 5.0):
        got = masked.mstep(X, post, mu, min_variance)
        want = per_row_mstep(X, post, mu, min_variance)
        for a, b in zip((got.means, got.variances, got.weights), want):
            assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert_allclose(masked.mstep(X, post, mu).means[:, 2], mu[:, 2])


def test_stats_of_parts_add_up_to_stats_of_whole():
    rng = np.random.default_rng(7)
    X = rng.integers(0, 6, size=(50, 6)).astype(float)
    mixture = masked.SphericalMixture(
        weights=np.full(4, 0.25), means=rng.uniform(1, 5, (4, 6)), variances=rng.uniform(0.5, 2, 4)
    )
    whole = masked.block_stats(X, mixture)
    parts = add_fields(masked.block_stats(X[:17], mixture), masked.block_stats(X[17:], mixture))
    for a, b in zip(whole, parts):
        assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_sparse_blocks_by_compiled_and_numpy_passes_match_dense(dtype, monkeypatch):
    rng = np.random.default_rng(11)
    n, d, K = 400, 30, 5
    X = rng.integers(1, 6, size=(n, d)).astype(float)
    X[rng.random((n, d)) < 0.8] = 0.0
    X[3] = 0.0  # nothing observed
    X[:, 7] = 0.0  # an item nobody rated
    csr = sparse.csr_array(X.astype(dtype))
    csr.indices = csr.indices.astype(np.int32)
    stored_zero = sparse.csr_array(
        (
            np.append(csr.data, dtype(0)),
            np.append(csr.indices, 7).astype(np.int32),
            np.append(csr.indptr[:-1], csr.indptr[-1] + 1),
        ),
        shape=(n, d),
    )
    mixtures = [
        masked.SphericalMixture(
            means=rng.uniform(1, 5, (K, d)),
            variances=rng.uniform(0.5, 3, K),
            weights=rng.dirichlet(np.ones(K)),
        )
        for _ in range(2)
    ]
    want = [masked.block_stats(X, m) for m in mixtures]
    assert compiled.ENABLED, "numba is not importable or SPARK_EM_COMPILED=0 is set"
    fast = masked.block_stats_many(stored_zero, mixtures)
    monkeypatch.setattr(compiled, "ENABLED", False)
    slow = masked.block_stats_many(csr, mixtures)
    for got in (fast, slow):
        for stats, expected in zip(got, want):
            assert stats.n_rows == (X != 0).any(axis=1).sum() < n
            assert stats.log_likelihood == pytest.approx(expected.log_likelihood, rel=1e-12)
            for a, b in zip(stats[2:], expected[2:]):
                assert_allclose(a, b, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("columns", [None, np.array([4, 0, 2])])
def test_top_rows_per_column_against_sorting_every_column(columns):
    """Each item's best users among those who have not rated it: the kernel's running best
    over chunks against sorting whole columns of the completion."""
    rng = np.random.default_rng(4)
    X = rng.integers(1, 6, size=(300, 6)).astype(float)
    X[rng.random(X.shape) < 0.5] = 0.0
    mixture = masked.SphericalMixture(
        means=rng.uniform(1, 5, (3, 6)),
        variances=np.array([0.6, 1.0, 1.4]),
        weights=np.array([0.2, 0.5, 0.3]),
    )
    completed = masked.complete(X, mixture)
    for block in (X, sparse.csr_array(X)):
        rows, vals = masked.top_rows_per_column(block, mixture, 7, columns, chunk_rows=64)
        for at, col in enumerate(range(6) if columns is None else columns):
            open_rows = np.flatnonzero(X[:, col] == 0)
            expected = np.sort(completed[open_rows, col])[::-1][:7]
            assert_allclose(vals[:, at], expected, rtol=1e-12)
            assert (X[rows[:, at], col] == 0).all()
            assert_allclose(completed[rows[:, at], col], vals[:, at], rtol=1e-12)
    few = np.zeros((3, 6))
    few[:, 1] = 2.0  # nobody is left to recommend item 1 to
    rows, vals = masked.top_rows_per_column(few, mixture, 5)
    assert (rows[:, 1] == -1).all() and np.isnan(vals[:, 1]).all()
    assert (rows[3:, 0] == -1).all() and (rows[:3, 0] >= 0).all()


def _log_posterior(X, post, mixture, prior):
    """Σ_u Σ_j p(j|u) Σ_{i∈C_u} log N(x_ui; μ_ji, σ_j²) + Σ_j Σ_i log N(μ_ji; m_i, σ_j²/τ),
    written out entry by entry: the function the MAP M-step maximises."""
    tau, centre = prior
    total = 0.0
    for u in range(X.shape[0]):
        for j in range(len(mixture.weights)):
            for i in np.flatnonzero(X[u]):
                var = mixture.variances[j]
                total += post[u, j] * (
                    -0.5 * np.log(2 * np.pi * var)
                    - (X[u, i] - mixture.means[j, i]) ** 2 / (2 * var)
                )
    for j in range(len(mixture.weights)):
        var = mixture.variances[j]
        for i in range(X.shape[1]):
            total += -0.5 * np.log(2 * np.pi * var / tau) - tau * (
                mixture.means[j, i] - centre[i]
            ) ** 2 / (2 * var)
    return total


def test_the_prior_m_step_maximises_the_log_posterior():
    """Every mean and variance the MAP update gives is a maximum of the log-likelihood plus
    the prior's log-density: moving any of them either way lowers it."""
    rng = np.random.default_rng(3)
    X = np.where(rng.random((12, 5)) < 0.4, rng.integers(1, 6, (12, 5)), 0).astype(float)
    X[:, 4] = 0  # a column nobody rated: its means follow the prior alone
    X[0, 0] = 4
    post = rng.dirichlet(np.ones(3), size=12)
    centre = np.array([3.1, 2.5, 4.0, 3.3, 3.0])
    prior = masked.MeanPrior(1.5, centre)
    fitted = masked.update(masked.sufficient_stats(X, post), np.zeros((3, 5)), 1e-9, prior)
    best = _log_posterior(X, post, fitted, prior)
    for j in range(3):
        for i in range(5):
            for step in (-1e-4, 1e-4):
                means = fitted.means.copy()
                means[j, i] += step
                moved = masked.SphericalMixture(fitted.weights, means, fitted.variances)
                assert _log_posterior(X, post, moved, prior) < best
        for factor in (1 - 1e-4, 1 + 1e-4):
            variances = fitted.variances.copy()
            variances[j] *= factor
            moved = masked.SphericalMixture(fitted.weights, fitted.means, variances)
            assert _log_posterior(X, post, moved, prior) < best
    # the unrated column's means are the prior's centre; every mean lies within the values
    np.testing.assert_allclose(fitted.means[:, 4], centre[4], rtol=1e-12)
    assert fitted.means.min() >= 1 and fitted.means.max() <= 5
    prior_term = sum(
        -0.5 * np.log(2 * np.pi * fitted.variances[j] / 1.5)
        - 1.5 * (fitted.means[j, i] - centre[i]) ** 2 / (2 * fitted.variances[j])
        for j in range(3)
        for i in range(5)
    )
    assert masked.log_prior(fitted, prior) == pytest.approx(prior_term, rel=1e-12)
    # without a prior: the course's update, which keeps unsupported means where they were
    course = masked.update(masked.sufficient_stats(X, post), np.zeros((3, 5)), 1e-9)
    assert (course.means[:, 4] == 0).all()


def test_observed_distances_leave_missing_entries_out():
    X = np.array([[1.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    centres = np.array([[2.0, 9.0, 3.0], [1.0, -4.0, 5.0]])
    expected = np.array([[1.0, 0.0], [0.0, 0.0]]) + np.array([[0.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(masked.observed_distances(X, centres), expected)
    from scipy import sparse

    np.testing.assert_allclose(masked.observed_distances(sparse.csr_array(X), centres), expected)
