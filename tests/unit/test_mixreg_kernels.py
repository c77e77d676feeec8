"""The mixture-of-regressions kernels against textbook EM (``mixreg_reference``), block by
block: the same fixed point to 1e-8 on separated components and on a polynomial design with
a condition number above 1e6."""

from __future__ import annotations

import numpy as np
import pytest

from spark_em.kernels import mixreg
from tests.helpers.mixreg_reference import (
    em,
    gate_weights,
    gated_em,
    gated_log_likelihood,
    gated_planted,
    gated_responsibilities,
    numerical_hessian,
    planted,
)


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
    (weights, coefficients, sigmas), ll = em(X, y, w, *start[:3], 8)
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
    for x, z in zip(a[:3], b[:3]):
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


def gated_kernel_em(values, w, start, iterations, cuts=(0, 211, 457)):
    mixture, ll = start, None
    for _ in range(iterations):
        shipped = mixreg.Shipped(mixture, True, 1)
        pieces = np.split(np.arange(len(values)), cuts[1:])
        total = mixreg.block_stats(values[pieces[0]], shipped, w[pieces[0]])
        for p in pieces[1:]:
            total = mixreg.add(total, mixreg.block_stats(values[p], shipped, w[p]))
        ll = total.log_likelihood
        mixture = mixreg.update(total, True, gate=mixture.gate)
    return mixture, ll


def test_a_gate_reaches_the_fixed_point_of_em_with_the_gate_maximised_in_every_m_step():
    """One Newton step of the gate a pass (the EM-gradient algorithm) against textbook EM
    whose M-step fits the multinomial logit to convergence: the same fixed point."""
    values, X, Z, y, w, start = gated_planted(n=400)
    got, got_ll = gated_kernel_em(values, w, start, 60)
    (gate, coefficients, sigmas), ll = gated_em(X, Z, y, w, *start[3:], *start[1:3], 60)
    assert got_ll == pytest.approx(ll, rel=1e-10)
    np.testing.assert_allclose(got.gate, gate, rtol=1e-8, atol=1e-8 * np.abs(gate).max())
    np.testing.assert_allclose(
        got.coefficients, coefficients, rtol=1e-8, atol=1e-8 * np.abs(coefficients).max()
    )
    np.testing.assert_allclose(got.sigmas, sigmas, rtol=1e-8)
    assert got.gate[0] == pytest.approx([0.0, 0.0])
    np.testing.assert_allclose(
        got.weights,
        (w @ gated_responsibilities(X, y, Z, gate, coefficients, sigmas)[0]) / w.sum(),
        rtol=1e-8,
    )


def test_a_gated_e_step_matches_the_reference_row_by_row():
    values, X, Z, y, w, start = gated_planted(n=120, seed=3)
    gate = np.array([[0.0, 0.0], [0.3, 1.0], [-0.2, -0.7]])
    mixture = start._replace(gate=gate)
    post, row = mixreg.posterior(values, mixreg.Shipped(mixture, True, 1))
    want_post, want_row = gated_responsibilities(X, y, Z, gate, *start[1:3])
    np.testing.assert_allclose(post, want_post, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(row, want_row, rtol=1e-12)
    np.testing.assert_allclose(
        mixreg.prior(values, mixreg.Shipped(mixture, True, 1)), gate_weights(Z, gate), rtol=1e-12
    )


def test_the_gated_observed_information_is_minus_the_numerical_hessian():
    values, X, Z, y, w, start = gated_planted(n=150, seed=2)
    mixture, _ = gated_kernel_em(values, w, start, 60, cuts=(0, 60))
    K, q = mixture.coefficients.shape
    shipped = mixreg.Shipped(mixture, True, 1)
    got = mixreg.add_information(
        mixreg.information_stats(values[:60], shipped, w[:60]),
        mixreg.information_stats(values[60:], shipped, w[60:]),
    )
    theta = np.r_[
        np.column_stack([mixture.coefficients, mixture.sigmas]).ravel(), mixture.gate[1:].ravel()
    ]
    assert got.shape == (len(theta),) * 2 == (mixreg.n_params(K, q, 2),) * 2
    numeric = numerical_hessian(theta, X, Z, y, w, K, of=gated_log_likelihood)
    np.testing.assert_allclose(got, -numeric, rtol=1e-4, atol=1e-4 * np.abs(numeric).max())
    errors = mixreg.standard_errors(got, K, q, gate_width=2)
    want = np.sqrt(np.linalg.inv(-numeric).diagonal())
    np.testing.assert_allclose(errors["gate"][1:].ravel(), want[K * (q + 1) :], rtol=1e-3)
    assert "weights" not in errors and not errors["gate"][0].any()


@pytest.mark.parametrize("seed", [1, 3, 5])
def test_a_gate_from_a_poor_start_never_lowers_the_likelihood(seed):
    """From gates drawn at random (where a full Newton step overshoots and the likelihood
    collapses), the capped step keeps every iteration's log-likelihood rising."""
    values, X, Z, y, w, start = gated_planted(n=400, seed=seed)
    gate = np.vstack([[0.0, 0.0], np.random.default_rng(seed).normal(0, 2, (2, 2))])
    mixture, history = start._replace(gate=gate), []
    for _ in range(25):
        stats = mixreg.block_stats(values, mixreg.Shipped(mixture, True, 1), w)
        history.append(stats.log_likelihood)
        mixture = mixreg.update(stats, True, gate=mixture.gate)
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[1:]))
    _, want = gated_responsibilities(X, y, Z, mixture.gate, mixture.coefficients, mixture.sigmas)
    assert history[-1] == pytest.approx(w @ want, rel=1e-6)  # settled
