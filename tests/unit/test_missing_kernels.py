"""Exact EM with values missing at random, against the per-row implementation written from the
textbook formulas (``tests/helpers/missing_reference``)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em.kernels import gaussian, missing
from tests.helpers import missing_reference
from tests.unit.test_gaussian_kernels import mixture_of, plain_stats


def per_row(X, mixture):
    """Log-likelihood, Σ r, Σ r (x̂ − μ), Σ r [(x̂ − μ)(x̂ − μ)ᵀ + C] (its diagonal for diag
    and spherical), responsibilities and imputations, from the per-row reference."""
    w, means, cov, kind = mixture[:4]
    ll, resp, imputed, rows = missing_reference.estep(X, w, means, cov, kind)
    K, d = means.shape
    n_k, first, square = np.zeros(K), np.zeros((K, d)), np.zeros((K, d, d))
    for r, filled, conditional in rows:
        for k in range(K):
            diff = filled[k] - means[k]
            n_k[k] += r[k]
            first[k] += r[k] * diff
            square[k] += r[k] * (np.outer(diff, diff) + conditional[k])
    if kind in ("diag", "spherical"):
        square = np.diagonal(square, axis1=1, axis2=2)
    return ll, n_k, first, square, resp, imputed


def assert_matches_reference(X, mixture):
    """The block's statistics, responsibilities and imputations against ``per_row``; observed
    values are kept exactly."""
    ll, n_k, first, square, resp, imputed = per_row(X, mixture)
    got = missing.block_stats(X, gaussian.prepare(mixture))
    assert got.log_likelihood == pytest.approx(ll, rel=1e-11)
    assert_allclose(got.resp, n_k, rtol=1e-10, atol=1e-10)
    assert_allclose(got.centred_sum, first, rtol=1e-9, atol=1e-10 * np.abs(first).max())
    assert_allclose(got.centred_square, square, rtol=1e-9, atol=1e-10 * np.abs(square).max())
    got_resp, _, got_imputed = missing.posterior(X, gaussian.prepare(mixture))
    assert_allclose(got_resp, resp, rtol=1e-9, atol=1e-12)
    assert_allclose(got_imputed, imputed, rtol=1e-10)
    observed = ~np.isnan(X)
    assert (got_imputed[observed] == X[observed]).all()


def holes(X, fraction, rng):
    X = X.copy()
    X[rng.random(X.shape) < fraction] = np.nan
    X[0, 1:] = np.nan  # all but one value missing
    X[1] = np.nan  # nothing observed
    X[2, :] = X[3, :]  # a complete row (unless row 3 has holes)
    return X


@pytest.mark.parametrize("kind", gaussian.PLAIN_TYPES)
@pytest.mark.parametrize("fraction", [0.1, 0.5])
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_statistics_match_the_per_row_formulas(kind, fraction, offset):
    rng = np.random.default_rng(int(fraction * 10) + len(kind))
    X = rng.normal(size=(300, 5)) * 2 + offset + rng.integers(0, 3, 300)[:, None] * 4.0
    mixture = mixture_of(kind, X, 3, rng)
    X = holes(X, fraction, rng)
    assert (
        missing.block_stats(X, gaussian.prepare(mixture)).n_rows
        == (~np.isnan(X)).any(axis=1).sum()
        < 300
    )
    assert_matches_reference(X, mixture)


@pytest.mark.parametrize("kind", gaussian.PLAIN_TYPES)
def test_nothing_missing_gives_the_complete_data_equations(kind):
    """Without a NaN the statistics, responsibilities and rows are those of equations
    (7)–(10) for complete data (the per-component reference), weighted rows included."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(500, 4)) + 50.0
    mixture = mixture_of(kind, X, 3, rng)
    prepared = gaussian.prepare(mixture)
    ll, n_k, first, square, resp, row_ll = plain_stats(X, mixture)
    got = missing.block_stats(X, prepared)
    assert got.n_rows == 500 and got.log_likelihood == pytest.approx(ll, rel=1e-12)
    assert_allclose(got.resp, n_k, rtol=1e-11)
    assert_allclose(got.centred_sum, first, rtol=1e-9, atol=1e-10 * np.abs(first).max())
    assert_allclose(got.centred_square, square, rtol=1e-9, atol=1e-10 * np.abs(square).max())
    got_resp, got_row_ll, same = missing.posterior(X, prepared)
    assert_allclose(got_resp, resp, rtol=1e-10, atol=1e-14)
    assert_allclose(got_row_ll, row_ll, rtol=1e-12)
    assert (same == X).all()
    # a weight of 2 counts a row twice
    w = rng.integers(0, 3, 500).astype(float)
    repeated = np.repeat(X, w.astype(int), axis=0)
    ll, n_k, first, square, _, _ = plain_stats(repeated, mixture)
    got = missing.block_stats(X, prepared, weights=w)
    assert got.n_rows == w.sum() and got.log_likelihood == pytest.approx(ll, rel=1e-12)
    assert_allclose(got.resp, n_k, rtol=1e-11)
    assert_allclose(got.centred_square, square, rtol=1e-9, atol=1e-10 * np.abs(square).max())


def test_tiles_of_one_row_agree_with_full_tiles(monkeypatch):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(700, 6)) * 3
    prepared = gaussian.prepare(mixture_of("full", X, 4, rng))
    X = holes(X, 0.3, rng)
    full = missing.block_stats(X, prepared)
    monkeypatch.setattr(missing, "STORED_NUMBERS", 0)  # the wide-row limit: one row a tile
    assert missing._tile_rows(4, 6) == 1
    single = missing.block_stats(X, prepared)
    for a, b in zip(full, single):
        assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max())


@pytest.mark.parametrize("tile", [7, 256])
def test_wide_rows_with_repeated_and_unique_patterns(tile, monkeypatch):
    """70 columns (more than one integer's bits), rows sharing a pattern and rows alone in
    theirs, in tiles of 7 rows (a pattern's rows cut across tiles) and in one tile."""
    monkeypatch.setattr(missing, "STORED_NUMBERS", 2 * 70 * 70 * tile)
    assert missing._tile_rows(2, 70) == min(tile, missing.TILE_ROWS)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 70)) + rng.integers(0, 2, 60)[:, None] * 3.0
    mixture = mixture_of("full", X, 2, rng)
    X = holes(X, 0.4, rng)
    X[10:20] = np.where(np.isnan(X[10]), np.nan, X[10:20])  # one pattern, ten rows
    assert_matches_reference(X, mixture)


@pytest.mark.parametrize("kind", gaussian.PLAIN_TYPES)
def test_weighted_rows_with_holes_equal_repeated_rows(kind):
    """The exact-EM statistics of rows with NaN and integer weights are those of the rows
    repeated (a weight of 0 leaves a row out)."""
    rng = np.random.default_rng(4)
    X = holes(rng.normal(size=(300, 4)) * 2 + 5, 0.3, rng)
    prepared = gaussian.prepare(mixture_of(kind, np.nan_to_num(X, nan=5.0), 3, rng))
    w = rng.integers(0, 4, 300).astype(float)
    got = missing.block_stats(X, prepared, weights=w)
    want = missing.block_stats(np.repeat(X, w.astype(int), axis=0), prepared)
    assert got.n_rows == pytest.approx(want.n_rows)
    assert got.log_likelihood == pytest.approx(want.log_likelihood, rel=1e-12)
    for a, b in [(got.resp, want.resp), (got.centred_sum, want.centred_sum)]:
        assert_allclose(a, b, rtol=1e-10, atol=1e-10 * np.abs(b).max())
    assert_allclose(
        got.centred_square,
        want.centred_square,
        rtol=1e-10,
        atol=1e-10 * np.abs(want.centred_square).max(),
    )
