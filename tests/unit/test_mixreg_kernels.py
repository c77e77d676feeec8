"""The mixture-of-regressions kernels against textbook EM (``mixreg_reference``), block by
block: the same fixed point to 1e-8 on separated components and on a polynomial design with
a condition number above 1e6."""

from __future__ import annotations

import numpy as np
import pytest

from spark_em.kernels import mixreg
from tests.helpers.mixreg_reference import em, numerical_hessian, planted


def kernel_em(values, w, start, iterations, cuts=(0, 211, 457)):
    mixture, ll = start, None
    for _ in range(iterations):
        shipped = mixreg.Shipped(mixture, True)
        pieces = np.split(np.arange(len(values)), cuts[1:])
        stats = [mixreg.block_stats(values[p], shipped, w[p]) for p in pieces]
        total = stats[0]
        for s in stats[1:]:
            total = mixreg.add(total, s)
        ll = total.log_likelihood
        mixture = mixreg.update(total, True)
    return mixture, ll


@pytest.mark.parametrize("design", ["separated", "polynomial"])
def test_em_iterations_match_textbook_em(design):
    values, X, y, w, start = planted(design)
    if design == "polynomial":
        assert np.linalg.cond(X) > 1e6
    got, got_ll = kernel_em(values, w, start, 8)
    (weights, coefficients, sigmas), ll = em(X, y, w, *start, 8)
    assert got_ll == pytest.approx(ll, rel=1e-10)
    np.testing.assert_allclose(got.weights, weights, rtol=1e-8)
    np.testing.assert_allclose(
        got.coefficients, coefficients, rtol=1e-8, atol=1e-8 * np.abs(coefficients).max()
    )
    np.testing.assert_allclose(got.sigmas, sigmas, rtol=1e-8)


def test_integer_weights_equal_repeated_rows():
    values, _, _, w, start = planted("separated", n=200)
    repeated = np.repeat(values, w.astype(int), axis=0)
    a, a_ll = kernel_em(values, w, start, 3, cuts=(0, 70))
    b, b_ll = kernel_em(repeated, np.ones(len(repeated)), start, 3, cuts=(0, 150, 301))
    assert a_ll == pytest.approx(b_ll, rel=1e-11)
    for x, z in zip(a, b):
        np.testing.assert_allclose(x, z, rtol=1e-10, atol=1e-12)


def test_a_component_with_too_few_rows_is_refused():
    values, _, _, w, start = planted("separated", n=60)
    stats = mixreg.partition_stats(values[:4], 0, (3, 0, True), w[:4])
    with pytest.raises(ValueError, match="fewer than its 3 coefficients"):
        mixreg.update(stats, True)


def test_random_partitions_do_not_depend_on_blocking():
    values, _, _, w, _ = planted("separated", n=300)
    whole = mixreg.partition_stats(values, 0, (3, 5, True), w)
    parts = mixreg.add(
        mixreg.partition_stats(values[:120], 0, (3, 5, True), w[:120]),
        mixreg.partition_stats(values[120:], 120, (3, 5, True), w[120:]),
    )
    np.testing.assert_allclose(whole.resp, parts.resp, rtol=1e-13)
    a, b = mixreg.update(whole, True), mixreg.update(parts, True)
    np.testing.assert_allclose(a.coefficients, b.coefficients, rtol=1e-10)


def test_the_observed_information_is_minus_the_numerical_hessian():
    values, X, y, w, start = planted("separated", n=150, seed=2)
    mixture, _ = kernel_em(values, w, start, 30, cuts=(0, 60))
    K, q = mixture.coefficients.shape
    got = mixreg.add_information(
        mixreg.information_stats(values[:60], mixreg.Shipped(mixture, True), w[:60]),
        mixreg.information_stats(values[60:], mixreg.Shipped(mixture, True), w[60:]),
    )
    theta = np.r_[
        np.column_stack([mixture.coefficients, mixture.sigmas]).ravel(), mixture.weights[:-1]
    ]
    P = len(theta)
    assert got.shape == (P, P) == (mixreg.n_params(K, q),) * 2
    numeric = numerical_hessian(theta, X, y, w, K)
    np.testing.assert_allclose(got, -numeric, rtol=1e-4, atol=1e-4 * np.abs(numeric).max())


def test_a_kmeans_start_is_each_clusters_weighted_least_squares():
    values, X, y, w, _ = planted("separated", n=300, seed=2)
    centres = values[[0, 100, 200]] + 0.1
    # each row in the cluster of its nearest centre, by squared distances written out
    part = ((values[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    halves = [
        mixreg.assigned_stats(values[s], centres, True, w[s])
        for s in (slice(0, 131), slice(131, None))
    ]
    got = mixreg.update(mixreg.add(*halves), True)
    for k in range(3):
        rows = part == k
        root = np.sqrt(w[rows])
        beta = np.linalg.lstsq(X[rows] * root[:, None], y[rows] * root, rcond=None)[0]
        np.testing.assert_allclose(got.coefficients[k], beta, rtol=1e-10, atol=1e-12)
        residual = y[rows] - X[rows] @ beta
        sigma = np.sqrt(w[rows] @ residual**2 / w[rows].sum())
        assert got.sigmas[k] == pytest.approx(sigma, rel=1e-10)
        assert got.weights[k] == pytest.approx(w[rows].sum() / w.sum(), rel=1e-12)


def test_a_row_of_weight_zero_adds_nothing_even_where_every_density_underflows():
    values, _, _, w, start = planted("separated", n=60, seed=1)
    shipped = mixreg.Shipped(start, True)
    odd = np.vstack([values, [1e200, 0.0, 0.0]])  # every component's density is 0 there
    with np.errstate(all="ignore"):
        got = mixreg.block_stats(odd, shipped, np.r_[w, 0.0])
    want = mixreg.block_stats(values, shipped, w)
    assert got.log_likelihood == pytest.approx(want.log_likelihood, rel=1e-14)
    np.testing.assert_allclose(got.resp, want.resp, rtol=1e-14)
    np.testing.assert_allclose(got.label_sums, want.label_sums, rtol=1e-14)
    np.testing.assert_allclose(np.abs(got.factors), np.abs(want.factors), rtol=1e-12, atol=1e-12)
