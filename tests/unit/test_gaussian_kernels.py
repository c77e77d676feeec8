"""The complete-data Gaussian kernels against a plain per-component implementation written
from equations (7)–(10), for every covariance type, near and far from the origin."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import linalg

from spark_em.kernels import compiled, gaussian, products
from spark_em.kernels.arrays import add_fields


def plain_stats(X, mixture):
    """Equations (7)–(8) row by component, then the sums centred on the means."""
    w, means, cov, kind = mixture[:4]
    n, d = X.shape
    K = len(w)
    full = {
        "full": cov,
        "tied": np.repeat(cov[None], K, axis=0),
        "diag": np.stack([np.diag(c) for c in np.atleast_2d(cov)]) if kind == "diag" else None,
        "spherical": cov[:, None, None] * np.eye(d)[None] if kind == "spherical" else None,
    }[kind]
    logp = np.empty((n, K))
    for k in range(K):
        diff = X - means[k]
        chol = linalg.cholesky(full[k], lower=True)
        z = linalg.solve_triangular(chol, diff.T, lower=True)
        with np.errstate(divide="ignore"):
            log_w = np.log(w[k])
        logp[:, k] = (
            log_w
            - 0.5 * d * np.log(2 * np.pi)
            - np.log(np.diag(chol)).sum()
            - 0.5 * (z * z).sum(axis=0)
        )
    top = logp.max(axis=1, keepdims=True)
    row_ll = top[:, 0] + np.log(np.exp(logp - top).sum(axis=1))
    resp = np.exp(logp - row_ll[:, None])
    first = np.stack([resp[:, k] @ (X - means[k]) for k in range(K)])
    if kind in ("full", "tied"):
        square = np.stack(
            [(X - means[k]).T @ ((X - means[k]) * resp[:, k : k + 1]) for k in range(K)]
        )
    else:
        square = np.stack([resp[:, k] @ (X - means[k]) ** 2 for k in range(K)])
    return row_ll.sum(), resp.sum(axis=0), first, square, resp, row_ll


def mixture_of(kind, X, K, rng):
    d = X.shape[1]
    means = X[rng.choice(len(X), K, replace=False)] + rng.normal(size=(K, d))
    if kind == "full":
        A = rng.normal(size=(K, d, d))
        cov = A @ A.transpose(0, 2, 1) / d + np.eye(d)
    elif kind == "tied":
        A = rng.normal(size=(d, d))
        cov = A @ A.T / d + np.eye(d)
    elif kind == "diag":
        cov = rng.uniform(0.5, 3.0, (K, d))
    else:
        cov = rng.uniform(0.5, 3.0, K)
    weights = rng.dirichlet(np.ones(K))
    weights[-1] = 0.0  # an empty component: log weight −∞
    return gaussian.Mixture(weights / weights.sum(), means, cov, kind)


@pytest.fixture(params=["compiled", "numpy"])
def kernel_pass(request, monkeypatch):
    """Each test twice: by the compiled pass (numba is a dependency: it must be there) and by
    the numpy pass."""
    if request.param == "compiled":
        assert compiled.ENABLED, "numba is not importable or SPARK_EM_COMPILED=0 is set"
    else:
        monkeypatch.setattr(compiled, "ENABLED", False)
    return request.param


@pytest.mark.parametrize("kind", gaussian.PLAIN_TYPES)
@pytest.mark.parametrize("offset", [0.0, 1e6])
@pytest.mark.parametrize("n, d, K", [(3000, 6, 4), (37, 3, 3), (1, 2, 2)])
def test_block_statistics_match_the_equations(kind, offset, n, d, K, kernel_pass):
    rng = np.random.default_rng(n + d + K)
    X = rng.normal(size=(n, d)) * 2 + offset + rng.integers(0, 3, n)[:, None] * 10.0
    mixture = mixture_of(kind, X, K, rng) if n >= K else None
    if mixture is None:
        mixture = mixture_of(kind, np.vstack([X] * K), K, rng)
    ll, n_k, first, square, resp, row_ll = plain_stats(X, mixture)
    got = gaussian.block_stats(X, gaussian.prepare(mixture))
    assert got.n_rows == n
    assert got.log_likelihood == pytest.approx(ll, rel=1e-12)
    assert_allclose(got.resp, n_k, rtol=1e-11, atol=1e-12 * n)
    scale = np.abs(first).max() + np.sqrt(np.abs(square).max() * max(n_k.max(), 1))
    assert_allclose(got.centred_sum, first, rtol=1e-10, atol=1e-12 * scale)
    assert_allclose(got.centred_square, square, rtol=1e-10, atol=1e-12 * np.abs(square).max())
    got_resp, got_row_ll = gaussian.posterior(X, gaussian.prepare(mixture))
    assert_allclose(got_resp, resp, rtol=1e-10, atol=1e-14)
    assert_allclose(got_row_ll, row_ll, rtol=1e-12)


@pytest.mark.parametrize("kind", gaussian.PLAIN_TYPES)
@pytest.mark.parametrize("d", [3, compiled.MAX_DIMS + 12])
def test_row_weights_are_repeated_rows(kind, d, kernel_pass):
    """A row of integer weight m counts as the row m times (0: not at all), by the compiled
    pass, the numpy pass and the wide-row BLAS pass."""
    rng = np.random.default_rng(d)
    X = rng.normal(size=(300, d)) * 2 + 50.0 + rng.integers(0, 3, 300)[:, None] * 4.0
    weights = rng.integers(0, 4, size=300).astype(float)
    prepared = gaussian.prepare(mixture_of(kind, X, 3, rng))
    weighted = gaussian.block_stats(X, prepared, weights)
    repeated = gaussian.block_stats(np.repeat(X, weights.astype(int), axis=0), prepared)
    assert weighted.n_rows == weights.sum()
    assert weighted.log_likelihood == pytest.approx(repeated.log_likelihood, rel=1e-11)
    for a, b in zip(weighted[2:], repeated[2:]):
        assert_allclose(a, b, rtol=1e-9, atol=1e-11 * np.abs(b).max())


@pytest.mark.parametrize("kind", gaussian.PLAIN_TYPES)
def test_log_densities_of_a_component_of_weight_zero(kind):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(50, 3)) + 1e3
    mixture = mixture_of(kind, X, 3, rng)  # its last weight is 0
    got = gaussian.log_gaussian_prob(X, gaussian.prepare(mixture))
    ones = mixture._replace(weights=np.full(3, 1.0 / 3))
    want = plain_stats(X, ones)
    assert np.isfinite(got).all()
    # with equal weights, log N = log r + row log-likelihood − log w
    assert_allclose(got, np.log(want[4]) + want[5][:, None] - np.log(1.0 / 3), rtol=1e-10)


@pytest.mark.parametrize("kind", gaussian.PLAIN_TYPES)
@pytest.mark.parametrize("d", [1, 10, 40, compiled.MAX_DIMS])
def test_compiled_and_numpy_passes_agree(kind, d, monkeypatch):
    rng = np.random.default_rng(d)
    X = rng.normal(size=(1500, d)) * 2 + 1e3 + rng.integers(0, 5, 1500)[:, None] * 3.0
    prepared = gaussian.prepare(mixture_of(kind, X, 5, rng))
    assert compiled.usable(d, kind)
    fast = gaussian.block_stats(X, prepared)
    monkeypatch.setattr(compiled, "ENABLED", False)
    slow = gaussian.block_stats(X, prepared)
    assert fast.log_likelihood == pytest.approx(slow.log_likelihood, rel=1e-12)
    for a, b in zip(fast[2:], slow[2:]):
        assert_allclose(a, b, rtol=1e-10, atol=1e-12 * np.abs(b).max())


def test_rows_in_chunks_and_blocks_in_parts_add_up(monkeypatch):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1000, 5)) + 100.0
    mixture = mixture_of("full", X, 4, rng)
    whole = gaussian.block_stats(X, gaussian.prepare(mixture))
    monkeypatch.setattr(gaussian, "CHUNK_NUMBERS", 1)  # one chunk of MIN_CHUNK_ROWS at a time
    chunked = gaussian.block_stats(X, gaussian.prepare(mixture))
    parts = add_fields(
        gaussian.block_stats(X[:333], gaussian.prepare(mixture)),
        gaussian.block_stats(X[333:], gaussian.prepare(mixture)),
    )
    for other in (chunked, parts):
        for a, b in zip(other, whole):
            assert_allclose(a, b, rtol=1e-11, atol=1e-9)


@pytest.mark.parametrize("offset", [0.0, 1e5])
def test_many_starts_in_one_pass_match_the_equations(offset, kernel_pass):
    """Starts of every type and K in one call (the block read and shifted once): each start's
    statistics are the equations' for its own mixture."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(500, 3)) * 3 + offset
    mixtures = [
        mixture_of(kind, X, k, rng)
        for kind, k in (("full", 3), ("spherical", 2), ("diag", 4), ("tied", 3), ("full", 2))
    ]
    together = gaussian.block_stats_many(X, [gaussian.prepare(m) for m in mixtures])
    for mixture, got in zip(mixtures, together):
        ll, n_k, first, square, _, _ = plain_stats(X, mixture)
        assert got.log_likelihood == pytest.approx(ll, rel=1e-12)
        assert_allclose(got.resp, n_k, rtol=1e-11, atol=1e-9)
        assert_allclose(got.centred_sum, first, rtol=1e-9, atol=1e-10 * np.abs(first).max())
        assert_allclose(got.centred_square, square, rtol=1e-9, atol=1e-10 * np.abs(square).max())


def test_hard_assignments():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 4)) + 1e5
    labels = rng.integers(0, 4, 200)
    labels[labels == 2] = 1  # component 2 gets no row
    weights = rng.uniform(0.0, 3.0, 200)
    centres = X[:4] + 1.0
    resp = (labels[:, None] == np.arange(4)) * weights[:, None]
    for kind in gaussian.PLAIN_TYPES:
        got = gaussian.assigned_stats(X, labels, centres, kind, weights=weights)
        assert_allclose(got.resp, resp.sum(axis=0), rtol=1e-12)
        assert got.n_rows == pytest.approx(weights.sum(), rel=1e-12)
        first = np.stack([resp[:, k] @ (X - centres[k]) for k in range(4)])
        assert_allclose(got.centred_sum, first, rtol=1e-10, atol=1e-9)
        if kind in ("full", "tied"):
            want = np.stack(
                [(X - centres[k]).T @ ((X - centres[k]) * resp[:, k : k + 1]) for k in range(4)]
            )
        else:
            want = np.stack([resp[:, k] @ (X - centres[k]) ** 2 for k in range(4)])
        assert_allclose(got.centred_square, want, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("kind", ["diag", "spherical"])
@pytest.mark.parametrize("offset", [0.0, 1e6])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_matrix_product_pass_matches_the_equations(kind, offset, weighted, monkeypatch):
    """Many diagonal or spherical components take the products (11): the same statistics as
    the equations, over several chunks, near and far from the origin (the block's centring
    keeps the expansion's loss, log10(spread²/σ²), to about 2.5 digits here)."""
    monkeypatch.setattr(products, "CHUNK_ROWS", 700)
    monkeypatch.setattr(gaussian, "PRODUCTS_MIN_DIMS", 4)
    monkeypatch.setattr(gaussian, "PRODUCTS_MIN_WORK", 64)
    K, n, d = 20, 2000, 7
    rng = np.random.default_rng(K + int(weighted))
    X = rng.normal(size=(n, d)) * 2 + offset + rng.integers(0, 3, n)[:, None] * 10.0
    mixture = mixture_of(kind, X, K, rng)
    assert gaussian.products_pay(K, d, kind) and not gaussian.products_pay(K, d, "full")
    w = rng.integers(0, 3, n).astype(float) if weighted else None
    got = gaussian.block_stats(X, gaussian.prepare(mixture), w)
    rows = np.repeat(X, w.astype(int), axis=0) if weighted else X
    ll, n_k, first, square, _, _ = plain_stats(rows, mixture)
    assert got.n_rows == len(rows)
    assert got.log_likelihood == pytest.approx(ll, rel=1e-12)
    assert_allclose(got.resp, n_k, rtol=1e-10, atol=1e-12 * n)
    scale = np.abs(first).max() + np.sqrt(np.abs(square).max() * max(n_k.max(), 1))
    assert_allclose(got.centred_sum, first, rtol=1e-10, atol=1e-12 * scale)
    assert_allclose(got.centred_square, square, rtol=1e-10, atol=1e-12 * np.abs(square).max())


def test_the_products_are_taken_where_they_were_measured_faster():
    assert not gaussian.products_pay(64, 16, "diag")  # the loop: few dimensions
    assert not gaussian.products_pay(16, 64, "diag") and gaussian.products_pay(32, 64, "diag")
    assert not gaussian.products_pay(64, 32, "spherical")
    assert gaussian.products_pay(128, 32, "spherical") and gaussian.products_pay(8, 256, "diag")
