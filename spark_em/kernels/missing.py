"""Gaussian mixtures on rows with values missing at random (NaN): exact EM for incomplete data.

For row u with observed coordinates o and missing coordinates m, component k with mean μ and
precision Λ = Σ⁻¹ = P Pᵀ (P from ``gaussian.prepare``), and δ = x − μ:

(11) the conditional mean of the missing values fills δ_m = −Λ_mm⁻¹ Λ_mo δ_o (this is
     Σ_mo Σ_oo⁻¹ δ_o), and the conditional covariance is C = Λ_mm⁻¹ (= Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om);
(12) log N(x_o; μ_o, Σ_oo) = −½|o| log 2π + log det P − ½ log det Λ_mm − ½ ‖δᵀ P‖², with δ
     filled by (11): δ_m minimises δᵀΛδ over the missing values, and the minimum is
     δ_oᵀ Σ_oo⁻¹ δ_o; det Σ_oo = det Σ · det Λ_mm;
(13) the expected statistics add r δ to Σ r (x − μ) and r (δ δᵀ + C on [m, m]) to the second
     moment, so ``gaussian.update`` makes the M-step of every covariance type unchanged.

Rows are grouped by their pattern of missing values, so Λ_mm is factored once per pattern,
component and block; rows with nothing missing take the complete-data pass of ``gaussian``,
and rows with nothing observed carry no information: they are left out of every sum and of
the row count (their imputation is Σ_k w_k μ_k). The loops are compiled by numba
(``compiled.compile_in``); without it they run, slowly, as Python.
"""

from __future__ import annotations

import numpy as np

from spark_em.kernels import compiled, gaussian
from spark_em.kernels.arrays import add_fields
from spark_em.kernels.compiled import (TILE_ROWS, _add_weighted_moments, _normalise_rows,
                                       _whiten_rows)
from spark_em.kernels.gaussian import GaussianStats, Prepared

LOG_2PI = gaussian.LOG_2PI
# the loops they share with the complete-data pass, swapped for compiled forms with the loops
_normalise = _normalise_rows
_whiten_tile = _whiten_rows
_add_moments = _add_weighted_moments
# At most this many numbers (16 MB) of per-pattern conditional covariances are kept during a
# pass; beyond, they are factored a second time instead.
STORED_NUMBERS = 2_000_000


def _pattern_factors(precision, o, m, n_o, n_m, B, C, G, inverse):  # pragma: no cover
    """For one component (``precision`` Λ, d×d) and one pattern: C = Λ_mm⁻¹ and
    B = −C Λ_mo into the top-left corners of ``B`` (d×d) and ``C``; returns log det Λ_mm.
    Λ_mm = G Gᵀ by Cholesky, C = G⁻ᵀ G⁻¹ (``G`` and ``inverse``: d×d work space)."""
    log_det = 0.0
    for j in range(n_m):
        s = precision[m[j], m[j]]
        for t in range(j):
            s -= G[j, t] * G[j, t]
        if not s > 0.0:
            return np.nan
        G[j, j] = np.sqrt(s)
        log_det += 2.0 * np.log(G[j, j])
        for i in range(j + 1, n_m):
            s = precision[m[i], m[j]]
            for t in range(j):
                s -= G[i, t] * G[j, t]
            G[i, j] = s / G[j, j]
    for j in range(n_m):  # G⁻¹, lower triangular
        for i in range(j):
            inverse[i, j] = 0.0
        inverse[j, j] = 1.0 / G[j, j]
        for i in range(j + 1, n_m):
            s = 0.0
            for t in range(j, i):
                s -= G[i, t] * inverse[t, j]
            inverse[i, j] = s / G[i, i]
    for a in range(n_m):
        for b in range(n_m):
            s = 0.0
            for t in range(max(a, b), n_m):
                s += inverse[t, a] * inverse[t, b]
            C[a, b] = s
    for a in range(n_m):
        for b in range(n_o):
            s = 0.0
            for t in range(n_m):
                s -= C[a, t] * precision[m[t], o[b]]
            B[a, b] = s
    return log_det


def _row_estep(x, o, m, n_o, n_m, means, chol, log_const, B, log_det_mm, delta, Y, lp):
    # pragma: no cover - compiled
    """One row's E-step for every component: the filled δ (11) into ``delta`` (K×d), the
    whitened δᵀP into ``Y`` (K×d), and log w_k + (12) into ``lp`` (K); ``log_const`` is
    log w_k + log det P_k."""
    K, d = means.shape
    log_2pi = np.log(2.0 * np.pi)
    for k in range(K):
        for b in range(n_o):
            delta[k, o[b]] = x[o[b]] - means[k, o[b]]
        for a in range(n_m):
            s = 0.0
            for b in range(n_o):
                s += B[k, a, b] * delta[k, o[b]]
            delta[k, m[a]] = s
        q = 0.0
        for j in range(d):
            s = 0.0
            for i in range(j + 1):
                s += delta[k, i] * chol[k, i, j]
            Y[k, j] = s
            q += s * s
        lp[k] = log_const[k] - 0.5 * n_o * log_2pi - 0.5 * log_det_mm[k] - 0.5 * q


def _normalised_row(lp):  # pragma: no cover - compiled
    """``lp`` replaced by the responsibilities; returns the row's log-likelihood."""
    K = lp.shape[0]
    top = lp[0]
    for k in range(1, K):
        top = max(top, lp[k])
    total = 0.0
    for k in range(K):
        lp[k] = np.exp(lp[k] - top)
        total += lp[k]
    for k in range(K):
        lp[k] /= total
    return top + np.log(total)


def _pattern_of(rows, first, o, m):  # pragma: no cover - compiled
    """The observed and missing indices of row ``first`` into ``o`` and ``m``: (n_o, n_m)."""
    n_o = 0
    n_m = 0
    for i in range(rows.shape[1]):
        if np.isnan(rows[first, i]):
            m[n_m] = i
            n_m += 1
        else:
            o[n_o] = i
            n_o += 1
    return n_o, n_m


def _missing_stats(rows, starts, means, precision, chol, log_const, moments, cond_square,
                   tile, stored_numbers):  # pragma: no cover - compiled
    """The statistics of rows grouped by pattern (``starts``: where each pattern's rows begin,
    and n at the end), each with at least one value observed and one missing. Adds to
    ``moments`` (K×(d+1)×(d+1)) the lower triangle of Σ r y yᵀ, Σ r y in row d and Σ r at
    [d, d], y = δᵀP with δ filled by (11), and to ``cond_square`` (K×d×d) Σ r C on [m, m].
    Returns the log-likelihood; NaN when some Λ_mm is not positive definite.

    The rows go ``tile`` at a time: each row's filled δ (its pattern's factors computed when
    the pattern begins) into a transposed tile, then, as in the complete-data pass, the
    whitening, log-sum-exp and moments with every inner loop over the tile's rows. Σ r C is
    added per pattern at the end, from each pattern's Σ r."""
    n, d = rows.shape
    K = means.shape[0]
    n_patterns = starts.shape[0] - 1
    o = np.empty(d, dtype=np.int64)
    m = np.empty(d, dtype=np.int64)
    B = np.zeros((K, d, d))
    C = np.zeros((K, d, d))
    G = np.zeros((d, d))
    inverse = np.zeros((d, d))
    log_det_mm = np.zeros(K)
    D = np.empty((K, d, tile))
    Y = np.empty((K, d, tile))
    W = np.empty((d, tile))
    lp = np.empty((K, tile))
    top = np.empty(tile)
    total = np.empty(tile)
    pattern_at = np.empty(tile, dtype=np.int64)
    pattern_resp = np.zeros((n_patterns, K))
    # each pattern's C (K × n_m × n_m) kept for the end when they fit in ``stored_numbers``;
    # otherwise they are factored again there
    at = np.zeros(n_patterns + 1, dtype=np.int64)
    for q in range(n_patterns):
        n_o, n_m = _pattern_of(rows, starts[q], o, m)
        at[q + 1] = at[q] + K * n_m * n_m
    keep = at[n_patterns] <= stored_numbers
    stored = np.empty(at[n_patterns] if keep else 0)
    log_2pi = np.log(2.0 * np.pi)
    log_likelihood = 0.0
    p = -1
    n_o = 0
    n_m = 0
    for lo in range(0, n, tile):
        size = min(tile, n - lo)
        for t in range(size):
            u = lo + t
            if p < 0 or u == starts[p + 1]:
                p += 1
                n_o, n_m = _pattern_of(rows, u, o, m)
                for k in range(K):
                    log_det_mm[k] = _pattern_factors(precision[k], o, m, n_o, n_m, B[k], C[k],
                                                     G, inverse)
                    if np.isnan(log_det_mm[k]):
                        return np.nan
                    if keep:
                        base = at[p] + k * n_m * n_m
                        for a in range(n_m):
                            for b in range(n_m):
                                stored[base + a * n_m + b] = C[k, a, b]
            pattern_at[t] = p
            for k in range(K):
                for b in range(n_o):
                    D[k, o[b], t] = rows[u, o[b]] - means[k, o[b]]
                for a in range(n_m):
                    s = 0.0
                    for b in range(n_o):
                        s += B[k, a, b] * D[k, o[b], t]
                    D[k, m[a], t] = s
                lp[k, t] = log_const[k] - 0.5 * n_o * log_2pi - 0.5 * log_det_mm[k]
        for k in range(K):
            _whiten_tile(D[k], chol[k], Y[k], lp[k], size)
        log_likelihood += _normalise(lp, top, total, size)
        for k in range(K):
            for t in range(size):
                pattern_resp[pattern_at[t], k] += lp[k, t]
            _add_moments(lp[k], Y[k], W, moments[k], size)
    for p in range(n_patterns):
        n_o, n_m = _pattern_of(rows, starts[p], o, m)
        for k in range(K):
            if keep:
                base = at[p] + k * n_m * n_m
                for a in range(n_m):
                    for b in range(n_m):
                        C[k, a, b] = stored[base + a * n_m + b]
            else:
                _pattern_factors(precision[k], o, m, n_o, n_m, B[k], C[k], G, inverse)
            for a in range(n_m):
                for b in range(n_m):
                    cond_square[k, m[a], m[b]] += pattern_resp[p, k] * C[k, a, b]
    return log_likelihood


def _missing_posterior(rows, starts, means, precision, chol, log_const, resp, row_ll, imputed):
    # pragma: no cover - compiled
    """Responsibilities (n×K), each row's log-likelihood and the imputed rows
    Σ_k r_k (μ_k + δ_k) (observed values kept), for rows grouped by pattern as in
    ``_missing_stats``. Returns False when some Λ_mm is not positive definite."""
    K, d = means.shape
    o = np.empty(d, dtype=np.int64)
    m = np.empty(d, dtype=np.int64)
    B = np.zeros((K, d, d))
    C = np.zeros((K, d, d))
    log_det_mm = np.zeros(K)
    delta = np.zeros((K, d))
    Y = np.zeros((K, d))
    lp = np.zeros(K)
    G = np.zeros((d, d))
    inverse = np.zeros((d, d))
    for p in range(starts.shape[0] - 1):
        first = starts[p]
        n_o, n_m = _pattern_of(rows, first, o, m)
        for k in range(K):
            log_det_mm[k] = _pattern_factors(precision[k], o, m, n_o, n_m, B[k], C[k], G,
                                              inverse)
            if np.isnan(log_det_mm[k]):
                return False
        for u in range(first, starts[p + 1]):
            _row_estep(rows[u], o, m, n_o, n_m, means, chol, log_const, B, log_det_mm, delta,
                       Y, lp)
            row_ll[u] = _normalised_row(lp)
            for i in range(d):
                imputed[u, i] = rows[u, i]
            for a in range(n_m):
                s = 0.0
                for k in range(K):
                    s += lp[k] * (means[k, m[a]] + delta[k, m[a]])
                imputed[u, m[a]] = s
            for k in range(K):
                resp[u, k] = lp[k]
    return True


_loaded: dict = {}


def _loops() -> dict:
    if not _loaded:
        _loaded.update(compiled.compile_in(
            globals(), ("_pattern_factors", "_pattern_of", "_row_estep", "_normalised_row",
                        "_normalise", "_whiten_tile", "_add_moments"),
            ("_missing_stats", "_missing_posterior")))
    return _loaded


class _Grouped:
    """A block's rows sorted out: which have nothing missing, which nothing observed, and the
    others in order of their pattern of missing values (``starts``: where each begins)."""

    def __init__(self, X: np.ndarray):
        missing = np.isnan(X)
        n_missing = missing.sum(axis=1)
        self.complete = n_missing == 0
        self.empty = n_missing == X.shape[1]
        partial = np.flatnonzero(~self.complete & ~self.empty)
        if not partial.size:
            self.order, self.starts = partial, np.zeros(1, dtype=np.int64)
            return
        holes = missing[partial]
        if X.shape[1] <= 63:  # the pattern as the bits of one integer
            keys = holes @ (np.uint64(1) << np.arange(X.shape[1], dtype=np.uint64))
        else:
            keys = np.unique(np.packbits(holes, axis=1), axis=0, return_inverse=True)[1].ravel()
        by_pattern = np.argsort(keys, kind="stable")
        self.order = partial[by_pattern]
        keys = keys[by_pattern]
        changes = np.flatnonzero(keys[1:] != keys[:-1]) + 1
        self.starts = np.concatenate([[0], changes, [keys.size]]).astype(np.int64)


def _full_factors(prepared: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Λ, P, L) as K×d×d arrays for every covariance type: Λ = P Pᵀ = Σ⁻¹, L Lᵀ = Σ."""
    K, d = prepared.means.shape
    P, L = prepared.precision_chol, prepared.covariance_chol
    if prepared.covariance_type in ("full", "tied"):
        P, L = np.broadcast_to(P, (K, d, d)), np.broadcast_to(L, (K, d, d))
    else:
        scale_p = P if prepared.covariance_type == "diag" else np.repeat(P[:, None], d, axis=1)
        scale_l = L if prepared.covariance_type == "diag" else np.repeat(L[:, None], d, axis=1)
        P = scale_p[:, :, None] * np.eye(d)[None]
        L = scale_l[:, :, None] * np.eye(d)[None]
    P, L = np.ascontiguousarray(P), np.ascontiguousarray(L)
    return np.ascontiguousarray(P @ P.transpose(0, 2, 1)), P, L


def _log_const(prepared: Prepared) -> np.ndarray:
    """log w_k + log det P_k."""
    d = prepared.means.shape[1]
    return np.ascontiguousarray(prepared.log_norm + 0.5 * d * LOG_2PI)


def _not_definite() -> np.linalg.LinAlgError:
    return np.linalg.LinAlgError(
        "a covariance restricted to the values a row misses is not positive definite "
        "(the data may be collapsed or have a constant column): increase reg_covar")


def _partial_stats(rows: np.ndarray, starts: np.ndarray, prepared: Prepared) -> GaussianStats:
    K, d = prepared.means.shape
    precision, chol, cov_chol = _full_factors(prepared)
    moments, cond_square = np.zeros((K, d + 1, d + 1)), np.zeros((K, d, d))
    log_likelihood = _loops()["_missing_stats"](
        rows, starts, np.ascontiguousarray(prepared.means), precision, chol, _log_const(prepared),
        moments, cond_square, TILE_ROWS, STORED_NUMBERS)
    if np.isnan(log_likelihood):
        raise _not_definite()
    square = (cov_chol @ gaussian.symmetric_from_lower(moments[:, :d, :d])
              @ cov_chol.transpose(0, 2, 1))
    square += cond_square
    first = np.einsum("ke,kde->kd", moments[:, d, :d], cov_chol)
    if prepared.covariance_type in ("diag", "spherical"):
        square = np.diagonal(square, axis1=1, axis2=2).copy()
    return GaussianStats(float(log_likelihood), rows.shape[0], moments[:, d, d].copy(), first,
                         square)


def block_stats_many(X: np.ndarray, prepared: list[Prepared]) -> list[GaussianStats]:
    """``gaussian.block_stats_many`` for a block that may hold NaN: exact EM's expected
    statistics (13). Without a NaN, the complete-data pass itself."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    if not np.isnan(X).any():
        return gaussian.block_stats_many(X, prepared)
    grouped = _Grouped(X)
    complete = gaussian.block_stats_many(X[grouped.complete], prepared)
    if not grouped.order.size:
        return complete
    rows = X[grouped.order]
    return [add_fields(whole, _partial_stats(rows, grouped.starts, p))
            for whole, p in zip(complete, prepared)]


def block_stats(X: np.ndarray, prepared: Prepared) -> GaussianStats:
    return block_stats_many(X, [prepared])[0]


def posterior(X: np.ndarray, prepared: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Responsibilities (n×K), each row's log-likelihood of its observed values, and the rows
    with their missing values imputed by E[x_m | x_o] = Σ_k r_k x̂_k (observed values kept).
    A row with nothing observed has the weights as responsibilities, log-likelihood 0 and the
    imputation Σ_k w_k μ_k."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    n, d = X.shape
    K = prepared.means.shape[0]
    if not np.isnan(X).any():
        resp, row_ll = gaussian.posterior(X, prepared)
        return resp, row_ll, X.copy()
    grouped = _Grouped(X)
    resp, row_ll, imputed = np.empty((n, K)), np.zeros(n), X.copy()
    if grouped.complete.any():
        resp[grouped.complete], row_ll[grouped.complete] = gaussian.posterior(
            X[grouped.complete], prepared)
    weights = np.exp(prepared.log_weights)
    resp[grouped.empty] = weights
    imputed[grouped.empty] = weights @ prepared.means
    if grouped.order.size:
        rows = X[grouped.order]
        part_resp, part_ll, part_imputed = np.empty((len(rows), K)), np.empty(len(rows)), \
            np.empty_like(rows)
        precision, chol, _ = _full_factors(prepared)
        ok = _loops()["_missing_posterior"](
            rows, grouped.starts, np.ascontiguousarray(prepared.means), precision, chol,
            _log_const(prepared), part_resp, part_ll, part_imputed)
        if not ok:
            raise _not_definite()
        resp[grouped.order], row_ll[grouped.order] = part_resp, part_ll
        imputed[grouped.order] = part_imputed
    return resp, row_ll, imputed
