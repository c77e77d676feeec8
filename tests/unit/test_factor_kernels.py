"""The mixture of factor analysers' kernels against references written from the equations with
Σ_k = Λ_k Λ_kᵀ + Ψ_k formed in full (no Woodbury identity), against the diagonal mixture at
q = 0, and with K = 1 against scikit-learn's FactorAnalysis."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import linalg
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from spark_em.kernels import factor, factor_missing, gaussian, missing, products
from spark_em.kernels.arrays import add_fields
from tests.helpers.factor_reference import textbook_update


def random_mixture(K, d, q, rng, offset=0.0):
    return gaussian.factor_mixture(
        rng.dirichlet(np.full(K, 3.0)),
        rng.normal(size=(K, d)) * 2 + offset,
        rng.uniform(0.3, 1.5, size=(K, d)),
        rng.normal(size=(K, d, q)),
    )


def joint_conditional(x, mu, lam, psi):
    """Per component: the mean and covariance of (x, z) given the observed values of x (the
    joint Gaussian of x = μ + Λz + ε, z ~ N(0, I), conditioned), and log N(x_o)."""
    d, q = lam.shape
    sigma = lam @ lam.T + np.diag(psi)
    joint_cov = np.block([[sigma, lam], [lam.T, np.eye(q)]])
    joint_mean = np.concatenate([mu, np.zeros(q)])
    o = np.flatnonzero(~np.isnan(x))
    rest = np.concatenate([np.flatnonzero(np.isnan(x)), d + np.arange(q)])
    gain = np.linalg.solve(sigma[np.ix_(o, o)], joint_cov[np.ix_(o, rest)]).T
    cond_mean = joint_mean.copy()
    cond_mean[o] = x[o]
    cond_mean[rest] = joint_mean[rest] + gain @ (x[o] - mu[o])
    cond_cov = np.zeros((d + q, d + q))
    cond_cov[np.ix_(rest, rest)] = joint_cov[np.ix_(rest, rest)] - gain @ joint_cov[np.ix_(o, rest)]
    log_density = multivariate_normal(mu[o], sigma[np.ix_(o, o)]).logpdf(x[o])
    return cond_mean, cond_cov, log_density


def reference_stats(X, mixture, weights=None):
    """(16) row by row from the conditional Gaussians of (x, z), centred on the means."""
    w_k, means, noise, _, loadings = mixture
    n, d = X.shape
    K, q = len(w_k), loadings.shape[2]
    weights = np.ones(n) if weights is None else weights
    moments = [[joint_conditional(x, means[k], loadings[k], noise[k]) for k in range(K)] for x in X]
    logp = np.array([[np.log(w_k[k]) + moments[u][k][2] for k in range(K)] for u in range(n)])
    row_ll = logsumexp(logp, axis=1)
    resp = np.exp(logp - row_ll[:, None]) * weights[:, None]
    out = factor.FactorStats(
        float(weights @ row_ll),
        float(weights.sum()),
        resp.sum(axis=0),
        np.zeros((K, d)),
        np.zeros((K, d)),
        np.zeros((K, d, q)),
        np.zeros((K, q)),
        np.zeros((K, q, q)),
    )
    for u in range(n):
        for k in range(K):
            mean, cov, _ = moments[u][k]
            mean = mean - np.concatenate([means[k], np.zeros(q)])  # y = x − μ_k, and z
            second = np.outer(mean, mean) + cov
            r = resp[u, k]
            out.centred_sum[k] += r * mean[:d]
            out.centred_square[k] += r * np.diag(second)[:d]
            out.factor_cross[k] += r * second[:d, d:]
            out.factor_sum[k] += r * mean[d:]
            out.factor_square[k] += r * second[d:, d:]
    return out


def assert_stats_close(got, want, rtol=1e-9):
    for name, a, b in zip(want._fields, got, want, strict=True):
        scale = max(np.max(np.abs(b)), 1.0)
        assert_allclose(
            np.asarray(a) / scale, np.asarray(b) / scale, rtol=0, atol=rtol, err_msg=name
        )


@pytest.mark.parametrize("offset", [0.0, 1e4])
@pytest.mark.parametrize("weighted", [False, True])
def test_block_stats_against_the_conditional_gaussians(offset, weighted):
    rng = np.random.default_rng(7)
    K, d, q, n = 3, 6, 2, 40
    mixture = random_mixture(K, d, q, rng, offset)
    X = mixture.means[rng.integers(K, size=n)] + rng.normal(size=(n, d)) * 1.5
    weights = rng.uniform(0.2, 3.0, size=n) if weighted else None
    got = gaussian.block_stats(X, gaussian.prepare(mixture), weights)
    assert_stats_close(got, reference_stats(X, mixture, weights))


def test_chunks_and_blocks_add_up(monkeypatch):
    monkeypatch.setattr(products, "CHUNK_ROWS", 7)
    rng = np.random.default_rng(3)
    mixture = random_mixture(2, 5, 3, rng)
    X = rng.normal(size=(30, 5)) * 2
    prepared = gaussian.prepare(mixture)
    parts = add_fields(
        gaussian.block_stats(X[:11], prepared), gaussian.block_stats(X[11:], prepared)
    )
    assert_stats_close(parts, reference_stats(X, mixture))


def as_full(mixture):
    """The same mixture as the full type, Σ_k = Λ_k Λ_kᵀ + Ψ_k formed."""
    cov = factor.full_covariances(mixture.loadings, mixture.covariances)
    return gaussian.Mixture(mixture.weights, mixture.means, cov, "full")


@pytest.mark.parametrize("offset", [0.0, 1e4])
@pytest.mark.parametrize("weighted", [False, True])
def test_missing_values_take_the_exact_conditional_statistics(monkeypatch, offset, weighted):
    monkeypatch.setattr(factor_missing, "MAX_CHUNK_ROWS", 7)  # rows cross chunk boundaries
    rng = np.random.default_rng(11)
    K, d, q, n = 2, 5, 2, 30
    mixture = random_mixture(K, d, q, rng, offset)
    X = mixture.means[rng.integers(K, size=n)] + rng.normal(size=(n, d))
    X[rng.uniform(size=X.shape) < 0.3] = np.nan
    X[0] = np.nan  # nothing observed: left out
    X[1] = mixture.means[0] + 0.5  # complete rows beside incomplete ones
    weights = rng.uniform(0.5, 2.0, size=n) if weighted else None
    got = missing.block_stats(X, gaussian.prepare(mixture), weights)
    kept = None if weights is None else weights[1:]
    assert_stats_close(got, reference_stats(X[1:], mixture, kept))
    # the posterior against the full type's pass over patterns (Σ formed, no Woodbury)
    resp, row_ll, imputed = missing.posterior(X, gaussian.prepare(mixture))
    want = missing.posterior(X, gaussian.prepare(as_full(mixture)))
    scale = max(1.0, offset)
    assert_allclose(resp, want[0], rtol=0, atol=1e-10)
    assert_allclose(row_ll, want[1], rtol=1e-10, atol=1e-12)
    assert_allclose(imputed / scale, want[2] / scale, rtol=0, atol=1e-10)
    assert_allclose(resp[0], mixture.weights, rtol=1e-12)
    assert row_ll[0] == 0.0  # nothing observed


def test_missing_values_in_many_dimensions_and_patterns():
    """Every row its own pattern, d = 40: the full type's exact pass gives the log-likelihood
    and the moments the factor statistics must reproduce."""
    rng = np.random.default_rng(4)
    K, d, q, n = 3, 40, 4, 120
    mixture = random_mixture(K, d, q, rng)
    X = mixture.means[rng.integers(K, size=n)] + rng.normal(size=(n, d)) * 2
    X[rng.uniform(size=X.shape) < 0.4] = np.nan
    got = missing.block_stats(X, gaussian.prepare(mixture))
    full = missing.block_stats(X, gaussian.prepare(as_full(mixture)))
    assert_allclose(got.log_likelihood, full.log_likelihood, rtol=1e-11)
    assert_allclose(got.resp, full.resp, rtol=1e-10)
    assert_allclose(got.centred_sum, full.centred_sum, rtol=1e-9, atol=1e-9)
    diagonal = np.diagonal(full.centred_square, axis1=1, axis2=2)
    assert_allclose(got.centred_square, diagonal, rtol=1e-9, atol=1e-9)


def test_no_factors_with_missing_values_is_the_diagonal_mixture():
    rng = np.random.default_rng(8)
    mixture = random_mixture(3, 6, 0, rng, offset=20.0)
    diag = gaussian.Mixture(mixture.weights, mixture.means, mixture.covariances, "diag")
    X = mixture.means[rng.integers(3, size=80)] + rng.normal(size=(80, 6))
    X[rng.uniform(size=X.shape) < 0.3] = np.nan
    weights = rng.uniform(0.5, 2, size=80)
    got = missing.block_stats(X, gaussian.prepare(mixture), weights)
    want = missing.block_stats(X, gaussian.prepare(diag), weights)
    assert_allclose(got.log_likelihood, want.log_likelihood, rtol=1e-12)
    assert_allclose(got.n_rows, want.n_rows, rtol=1e-12)
    for a, b in zip(got[2:5], want[2:5]):
        assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    for a, b in zip(
        missing.posterior(X, gaussian.prepare(mixture)),
        missing.posterior(X, gaussian.prepare(diag)),
    ):
        assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_update_is_the_textbook_m_step():
    rng = np.random.default_rng(5)
    mixture = random_mixture(3, 6, 2, rng)
    X = mixture.means[rng.integers(3, size=200)] + rng.normal(size=(200, 6))
    stats = gaussian.block_stats(X, gaussian.prepare(mixture))
    new = gaussian.update(stats, mixture, reg_covar=1e-4)
    want = textbook_update(X, mixture, reg_covar=1e-4)
    for got, ref in zip((new.weights, new.means, new.loadings, new.covariances), want):
        assert_allclose(got, ref, rtol=1e-9, atol=1e-11)


def test_no_factors_is_the_diagonal_mixture():
    rng = np.random.default_rng(2)
    mixture = random_mixture(4, 7, 0, rng, offset=50.0)
    diag = gaussian.Mixture(mixture.weights, mixture.means, mixture.covariances, "diag")
    X = mixture.means[rng.integers(4, size=300)] + rng.normal(size=(300, 7))
    weights = rng.uniform(0.5, 2, size=300)
    got = gaussian.block_stats(X, gaussian.prepare(mixture), weights)
    want = gaussian.block_stats(X, gaussian.prepare(diag), weights)
    assert_allclose(got.log_likelihood, want.log_likelihood, rtol=1e-12)
    for a, b in zip(got[2:5], want[2:5]):
        assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    new, new_diag = gaussian.update(got, mixture), gaussian.update(want, diag)
    for a, b in zip(new[:3], new_diag[:3]):
        assert_allclose(a, b, rtol=1e-10)
    assert_allclose(
        gaussian.posterior(X, gaussian.prepare(mixture))[0],
        gaussian.posterior(X, gaussian.prepare(diag))[0],
        rtol=1e-9,
        atol=1e-12,
    )


def test_one_component_reaches_scikit_learns_factor_analysis():
    from sklearn import decomposition as sklearn_decomposition

    rng = np.random.default_rng(0)
    n, d, q = 1500, 8, 2
    lam = rng.normal(size=(d, q)) * 1.5
    X = rng.normal(size=(n, q)) @ lam.T + rng.normal(size=(n, d)) * rng.uniform(0.4, 1.2, d) + 3.0
    fa = sklearn_decomposition.FactorAnalysis(n_components=q, tol=1e-12, max_iter=10000).fit(X)
    sketch = factor.assigned_sketch(X, np.zeros(n, int), X[:1], factor.sketch_matrix(d, q, 0))
    mixture = gaussian.factor_mixture(
        *factor.start(sketch, X[:1], factor.sketch_matrix(d, q, 0), q, np.ones(1), 0.0)
    )
    previous = -np.inf
    for _ in range(5000):
        stats = gaussian.block_stats(X, gaussian.prepare(mixture))
        mixture = gaussian.update(stats, mixture, reg_covar=0.0)
        if stats.log_likelihood - previous < 1e-11 * abs(stats.log_likelihood):
            break
        previous = stats.log_likelihood
    final = gaussian.block_stats(X, gaussian.prepare(mixture)).log_likelihood
    assert_allclose(final, fa.score(X) * n, rtol=1e-6)
    assert_allclose(
        factor.full_covariances(mixture.loadings, mixture.covariances)[0],
        fa.get_covariance(),
        rtol=0,
        atol=1e-5 * np.abs(fa.get_covariance()).max(),
    )
    assert_allclose(mixture.means[0], X.mean(axis=0), rtol=1e-9)


def test_the_start_is_the_probabilistic_pca_of_the_assignments():
    rng = np.random.default_rng(4)
    n, d, q = 400, 6, 2
    X = rng.normal(size=(n, 3)) @ rng.normal(size=(3, d)) + rng.normal(size=(n, d)) * 0.3
    labels = (X[:, 0] > 0).astype(int)
    centres = np.stack([X[labels == k].mean(axis=0) + 0.5 for k in range(2)])
    omega = factor.sketch_matrix(d, q, 1)  # d < q + extra: Ω is square, the sketch exact
    weights, means, noise, loadings = factor.start(
        factor.assigned_sketch(X, labels, centres, omega), centres, omega, q, np.ones(2), 0.0
    )
    for k in range(2):
        rows = X[labels == k]
        assert_allclose(means[k], rows.mean(axis=0), rtol=1e-10)
        values, vectors = linalg.eigh(np.cov(rows.T, bias=True))
        values, vectors = values[::-1], vectors[:, ::-1]
        rest = values[q:].mean()
        want = (vectors[:, :q] * (values[:q] - rest)) @ vectors[:, :q].T
        assert_allclose(loadings[k] @ loadings[k].T, want, atol=1e-9)
        assert_allclose(
            noise[k], np.maximum(np.diag(np.cov(rows.T, bias=True) - want), 0), atol=1e-9
        )
    assert_allclose(weights, np.bincount(labels) / n)


def test_the_sketched_start_in_many_dimensions():
    """d = 40 > q + 10: Ω is a sketch. Rows of rank 5 (< 12 columns of Ω) are recovered
    exactly by the Nyström approximation; a component of duplicated rows (a scatter of rank
    1) does not break it."""
    rng = np.random.default_rng(9)
    d, q, n = 40, 2, 300
    basis = rng.normal(size=(5, d))
    X = (rng.normal(size=(n, 5)) * [4.0, 3.0, 2.0, 1.0, 0.5]) @ basis + 1.0
    duplicates = np.vstack([np.zeros((39, d)), rng.normal(size=(1, d))]) + 50.0
    rows = np.vstack([X, duplicates])
    labels = np.r_[np.zeros(n, int), np.ones(40, int)]
    centres = np.stack([X[0], duplicates[-1]])
    omega = factor.sketch_matrix(d, q, 3)
    assert omega.shape == (d, q + factor.SKETCH_EXTRA)
    sketch = factor.assigned_sketch(rows, labels, centres, omega)
    weights, means, noise, loadings = factor.start(sketch, centres, omega, q, np.ones(2), 0.0)
    scatter = np.cov(X.T, bias=True)
    values, vectors = linalg.eigh(scatter)
    values, vectors = values[::-1], vectors[:, ::-1]
    rest = (np.trace(scatter) - values[:q].sum()) / (d - q)
    want = (vectors[:, :q] * (values[:q] - rest)) @ vectors[:, :q].T
    assert_allclose(loadings[0] @ loadings[0].T, want, atol=1e-8 * values[0])
    left = np.diag(scatter - want)
    assert_allclose(noise[0], np.maximum(left, 1e-3 * np.diag(scatter)), atol=1e-8 * values[0])
    assert np.isfinite(loadings[1]).all() and np.all(noise[1] > 0)
    assert_allclose(means[1], duplicates.mean(axis=0))


def test_mixture_problem_names_bad_loadings():
    rng = np.random.default_rng(1)
    mixture = random_mixture(2, 3, 1, rng)
    assert gaussian.mixture_problem(mixture) is None
    assert "loadings" in gaussian.mixture_problem(mixture._replace(loadings=np.zeros((2, 4, 1))))
    assert "at most 3 factors" in gaussian.mixture_problem(
        mixture._replace(loadings=np.zeros((2, 3, 4)))
    )
    assert gaussian.n_parameters(2, 3, "factor", 1) == 1 + 6 + 2 * (3 + 3)
    assert gaussian.n_parameters(2, 6, "factor", 6) == gaussian.n_parameters(2, 6, "full")
    no_loadings = gaussian.Mixture(mixture.weights, mixture.means, mixture.covariances, "factor")
    assert "needs its loadings" in gaussian.mixture_problem(no_loadings)
