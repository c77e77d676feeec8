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

A mixture of factor analysers takes its own form of these equations, the Woodbury identity on
each row's observed values (``kernels.factor_missing``), for its rows with a missing value.

A block's rows are grouped by their pattern of missing values (hashed, then compared) and go
a tile at a time as in the complete-data pass of ``compiled``. In a tile, the rows of one
pattern (a run) share C = Λ_mm⁻¹ and log det Λ_mm, computed once per run and component; each
row's Λ_mo δ_o is a few sums over whole rows of Λ with δ zero-filled, and the whitening,
log-sum-exp and moments run with every inner loop over the tile's rows. Rows with nothing
missing are a pattern like any other. Rows with nothing observed carry no information: they
are left out of every sum and of the row count (their imputation is Σ_k w_k μ_k). The loops
are compiled by numba (``compiled.compile_in``); without it they run, slowly, as Python.
"""

from __future__ import annotations

import numpy as np

from spark_em.kernels import compiled, factor, factor_missing, gaussian
from spark_em.kernels.arrays import add_fields
from spark_em.kernels.compiled import (
    TILE_ROWS,
    _add_weighted_moments,
    _normalise_rows,
    _whiten_rows,
)
from spark_em.kernels.gaussian import GaussianStats, Prepared

LOG_2PI = gaussian.LOG_2PI
# the loops they share with the complete-data pass, swapped for compiled forms with the loops
_normalise = _normalise_rows
_whiten_tile = _whiten_rows
_add_moments = _add_weighted_moments
# A tile keeps its runs' conditional covariances, K × tile × d² numbers at most: tiles of wide
# rows are cut to keep that under this many (16 MB).
STORED_NUMBERS = 2_000_000


def _group_rows(rows, order, starts):  # pragma: no cover - compiled
    """The rows with at least one value observed, pattern of missing values after pattern
    (patterns in order of first appearance): their indices into ``order``, and where each
    pattern's rows begin into ``starts`` (the count of rows kept at the end). Patterns are
    hashed and then compared value by value, so rows of any width group exactly. Returns
    (rows kept, patterns)."""
    n, d = rows.shape
    size = 1
    while size < 2 * n:
        size *= 2
    table = np.full(size, -1, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    pattern = np.empty(n, dtype=np.int64)
    n_patterns = 0
    for u in range(n):
        h = 0
        n_m = 0
        for i in range(d):
            if np.isnan(rows[u, i]):
                h = ((h * 131) ^ (i + 1)) & 0xFFFFFFFFFF
                n_m += 1
        pattern[u] = -1
        if n_m == d:
            continue
        slot = (h ^ (h >> 17)) & (size - 1)
        while True:
            p = table[slot]
            if p < 0:
                p = n_patterns
                n_patterns += 1
                table[slot] = p
                first[p] = u
                break
            v = first[p]
            same = True
            for i in range(d):
                if np.isnan(rows[u, i]) != np.isnan(rows[v, i]):
                    same = False
                    break
            if same:
                break
            slot = (slot + 1) & (size - 1)
        pattern[u] = p
        count[p] += 1
    starts[0] = 0
    for p in range(n_patterns):
        starts[p + 1] = starts[p] + count[p]
    at = starts[:n_patterns].copy()
    for u in range(n):
        p = pattern[u]
        if p >= 0:
            order[at[p]] = u
            at[p] += 1
    return starts[n_patterns], n_patterns


def _pattern_columns(row, cols):  # pragma: no cover - compiled
    """The missing columns of ``row``, then the observed, into ``cols``; returns how many are
    missing."""
    d = row.shape[0]
    n_m = 0
    for i in range(d):
        if np.isnan(row[i]):
            cols[n_m] = i
            n_m += 1
    n_o = n_m
    for i in range(d):
        if not np.isnan(row[i]):
            cols[n_o] = i
            n_o += 1
    return n_m


def _factor_missing(precision, cols, n_m, F, base, U):  # pragma: no cover - compiled
    """C = Λ_mm⁻¹ for the missing columns ``cols[:n_m]`` into ``F[base:]`` (n_m×n_m, row by
    row), by Cholesky Λ_mm = G Gᵀ and C = U Uᵀ with U = G⁻ᵀ (``U``: d×d work space, every
    inner loop along rows). Returns log det Λ_mm, NaN when Λ_mm is not positive definite."""
    det = 1.0
    for j in range(
        n_m
    ):  # G, lower triangular, into the lower triangle of U, 1/G_jj on its diagonal
        s = precision[cols[j], cols[j]]
        for t in range(j):
            s -= U[j, t] * U[j, t]
        if not s > 0.0:
            return np.nan
        det *= s
        g = np.sqrt(s)
        U[j, j] = 1.0 / g
        for i in range(j + 1, n_m):
            s = precision[cols[i], cols[j]]
            for t in range(j):
                s -= U[i, t] * U[j, t]
            U[i, j] = s / g
    for j in range(n_m):  # G⁻ᵀ, upper triangular, row j into F (scratch) then U's upper triangle
        row = base + j * n_m
        F[row + j] = U[j, j]
        for i in range(j + 1, n_m):
            s = 0.0
            for t in range(j, i):
                s -= U[i, t] * F[row + t]
            F[row + i] = s * U[i, i]
    for j in range(n_m):
        row = base + j * n_m
        for i in range(j, n_m):
            U[j, i] = F[row + i]
    for a in range(n_m):  # C = U Uᵀ
        for b in range(a + 1):
            s = 0.0
            for t in range(a, n_m):
                s += U[a, t] * U[b, t]
            F[base + a * n_m + b] = s
            F[base + b * n_m + a] = s
    return np.log(det)


def _fill_run(D, t0, t1, precision, F, base, cols, n_m, s):  # pragma: no cover - compiled
    """(11) for the rows of one pattern at tile columns t0 … t1−1 of ``D`` (d × tile, δ with
    zeros at the missing values): δ_m = −C Λ_mo δ_o (C in ``F[base:]``) into the missing
    entries; Λ_mo δ_o as n_m sums over whole rows of Λ (``s``: d numbers)."""
    d = D.shape[0]
    for t in range(t0, t1):
        for a in range(n_m):
            c = cols[a]
            v = 0.0
            for i in range(d):
                v += precision[c, i] * D[i, t]
            s[a] = v
        for a in range(n_m):
            row = base + a * n_m
            v = 0.0
            for b in range(n_m):
                v -= F[row + b] * s[b]
            D[cols[a], t] = v


def _add_conditional(F, base, cols, n_m, weight, out):  # pragma: no cover - compiled
    """``weight`` · C (in ``F[base:]``) added to ``out`` (d×d) on [m, m]."""
    for a in range(n_m):
        row = base + a * n_m
        for b in range(n_m):
            out[cols[a], cols[b]] += weight * F[row + b]


def _tile_runs(rows, order, starts, lo, size, p, K, runs, cols):  # pragma: no cover - compiled
    """The patterns met in positions lo … lo+size−1 of ``order``, the first being ``p``: per
    run, into ``runs`` (tile × 4) its first and last+1 column in the tile, its count n_m of
    missing values and where its components' C (K n_m² numbers) begin in the tile's store,
    and into ``cols`` (tile × d) its columns, missing first. Returns the number of runs."""
    r = 0
    t = 0
    offset = 0
    while t < size:
        end = min(starts[p + 1] - lo, size)
        n_m = _pattern_columns(rows[order[starts[p]]], cols[r])
        runs[r, 0] = t
        runs[r, 1] = end
        runs[r, 2] = n_m
        runs[r, 3] = offset
        offset += K * n_m * n_m
        r += 1
        t = end
        p += 1
    return r


def _tile_work(K, d, tile):  # pragma: no cover - compiled
    """The work space of ``_estep_tile``: X (d × tile), D and Y (K × d × tile), lp (K × tile),
    U (d×d), s (d), the runs' C (K × tile × d² numbers), runs (tile × 4) and cols (tile × d)."""
    return (
        np.empty((d, tile)),
        np.empty((K, d, tile)),
        np.empty((K, d, tile)),
        np.empty((K, tile)),
        np.zeros((d, d)),
        np.empty(d),
        np.empty(K * tile * d * d),
        np.empty((tile, 4), dtype=np.int64),
        np.empty((tile, d), dtype=np.int64),
    )


def _estep_tile(rows, order, starts, lo, size, means, precision, chol, log_const, work):
    # pragma: no cover - compiled
    """For the rows at positions lo … lo+size−1 of ``order`` and every component k, into
    ``work`` (``_tile_work``): the tile's runs (``_tile_runs``), C = Λ_mm⁻¹ of each run, δ
    filled by (11) into D[k], the whitened y = δᵀP into Y[k] and log w_k + (12) into lp[k].
    Returns the number of runs, −1 when some Λ_mm is not positive definite."""
    X, D, Y, lp, U, s, store, runs, cols = work
    K, d = means.shape
    log_2pi = np.log(2.0 * np.pi)
    p = np.searchsorted(starts, lo, side="right") - 1
    n_runs = _tile_runs(rows, order, starts, lo, size, p, K, runs, cols)
    for t in range(size):
        u = order[lo + t]
        for i in range(d):
            X[i, t] = rows[u, i]
    for k in range(K):
        Dk = D[k]
        for i in range(d):
            c = means[k, i]
            for t in range(size):
                v = X[i, t] - c
                Dk[i, t] = v if v == v else 0.0
        for r in range(n_runs):
            t0, t1, n_m = runs[r, 0], runs[r, 1], runs[r, 2]
            base = runs[r, 3] + k * n_m * n_m
            log_det = _factor_missing(precision[k], cols[r], n_m, store, base, U)
            if np.isnan(log_det):
                return -1
            if n_m > 0:
                _fill_run(Dk, t0, t1, precision[k], store, base, cols[r], n_m, s)
            c = log_const[k] - 0.5 * (d - n_m) * log_2pi - 0.5 * log_det
            for t in range(t0, t1):
                lp[k, t] = c
        _whiten_tile(Dk, chol[k], Y[k], lp[k], size)
    return n_runs


def _missing_stats(
    rows, order, starts, means, precision, chol, log_const, moments, cond_square, tile, w
):  # pragma: no cover - compiled
    """The statistics of the rows ``order`` of ``rows``, grouped by pattern (``starts``, from
    ``_group_rows``). Adds to ``moments`` (K×(d+1)×(d+1)) Σ r δ δᵀ, Σ r δ in row d and Σ r
    at [d, d], δ filled by (11), and to ``cond_square`` (K×d×d) Σ r C on [m, m], each row's
    r multiplied by its weight ``w`` (indexed like ``rows``). Returns the weighted
    log-likelihood; NaN when some Λ_mm is not positive definite.

    The rows go ``tile`` at a time, as in the complete-data pass: δ transposed into a tile,
    the missing entries filled run by run (a run: the tile's rows of one pattern), then the
    whitening, log-sum-exp and moments with every inner loop over the tile's rows, and each
    run's Σ r C from its C, kept for the tile (at most K × tile × d² numbers)."""
    d = rows.shape[1]
    K = means.shape[0]
    work = _tile_work(K, d, tile)
    D, lp, store, runs, cols = work[1], work[3], work[6], work[7], work[8]
    W = np.empty((d, tile))
    top = np.empty(tile)
    total = np.empty(tile)
    log_likelihood = 0.0
    n = starts[starts.shape[0] - 1]
    for lo in range(0, n, tile):
        size = min(tile, n - lo)
        n_runs = _estep_tile(rows, order, starts, lo, size, means, precision, chol, log_const, work)
        if n_runs < 0:
            return np.nan
        _normalise(lp, top, total, size)
        for t in range(size):  # each row's log-likelihood is in top: weighted
            weight_t = w[order[lo + t]]
            log_likelihood += weight_t * top[t]
            for k in range(K):
                lp[k, t] *= weight_t
        for k in range(K):
            for r in range(n_runs):
                n_m = runs[r, 2]
                if n_m > 0:
                    weight = 0.0
                    for t in range(runs[r, 0], runs[r, 1]):
                        weight += lp[k, t]
                    _add_conditional(
                        store, runs[r, 3] + k * n_m * n_m, cols[r], n_m, weight, cond_square[k]
                    )
            _add_moments(lp[k], D[k], W, moments[k], size)
    for k in range(K):
        for i in range(d):
            for j in range(i):
                moments[k, j, i] = moments[k, i, j]
    return log_likelihood


def _missing_posterior(
    rows, order, starts, means, precision, chol, log_const, resp, row_ll, imputed, tile
):  # pragma: no cover - compiled
    """Responsibilities (n×K), each row's log-likelihood and the rows with their missing
    values imputed by Σ_k r_k (μ_k + δ_k), for the rows ``order`` of ``rows`` grouped as in
    ``_missing_stats`` (others untouched). Returns False when some Λ_mm is not positive
    definite."""
    K, d = means.shape
    work = _tile_work(K, d, tile)
    D, lp, runs, cols = work[1], work[3], work[7], work[8]
    n = starts[starts.shape[0] - 1]
    for lo in range(0, n, tile):
        size = min(tile, n - lo)
        n_runs = _estep_tile(rows, order, starts, lo, size, means, precision, chol, log_const, work)
        if n_runs < 0:
            return False
        for t in range(size):
            top = lp[0, t]
            for k in range(1, K):
                top = max(top, lp[k, t])
            total = 0.0
            for k in range(K):
                lp[k, t] = np.exp(lp[k, t] - top)
                total += lp[k, t]
            u = order[lo + t]
            row_ll[u] = top + np.log(total)
            for k in range(K):
                lp[k, t] /= total
                resp[u, k] = lp[k, t]
        for r in range(n_runs):
            for t in range(runs[r, 0], runs[r, 1]):
                u = order[lo + t]
                for i in range(d):
                    imputed[u, i] = rows[u, i]
                for a in range(runs[r, 2]):
                    i = cols[r, a]
                    v = 0.0
                    for k in range(K):
                        v += lp[k, t] * (means[k, i] + D[k, i, t])
                    imputed[u, i] = v
    return True


_loaded: dict = {}


def _loops() -> dict:
    return compiled.loaded_once(
        _loaded,
        lambda: compiled.compile_in(
            globals(),
            (
                "_pattern_columns",
                "_factor_missing",
                "_fill_run",
                "_add_conditional",
                "_tile_runs",
                "_tile_work",
                "_estep_tile",
                "_normalise",
                "_whiten_tile",
                "_add_moments",
            ),
            ("_group_rows", "_missing_stats", "_missing_posterior"),
        ),
    )


def _full_factors(prepared: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """(Λ, P) as K×d×d arrays for every covariance type: Λ = P Pᵀ = Σ⁻¹."""
    K, d = prepared.means.shape
    P = prepared.precision_chol
    if prepared.covariance_type in ("full", "tied"):
        P = np.ascontiguousarray(np.broadcast_to(P, (K, d, d)))
    else:
        scale = P if prepared.covariance_type == "diag" else np.repeat(P[:, None], d, axis=1)
        P = np.ascontiguousarray(scale[:, :, None] * np.eye(d)[None])
    return np.ascontiguousarray(P @ P.transpose(0, 2, 1)), P


def _log_const(prepared: Prepared) -> np.ndarray:
    """log w_k + log det P_k."""
    d = prepared.means.shape[1]
    return np.ascontiguousarray(prepared.log_norm + 0.5 * d * LOG_2PI)


def _tile_rows(K: int, d: int) -> int:
    """Rows per tile: ``TILE_ROWS``, fewer when the tile's conditional covariances would take
    more than ``STORED_NUMBERS``."""
    return int(max(1, min(TILE_ROWS, STORED_NUMBERS // (K * d * d))))


def _not_definite() -> np.linalg.LinAlgError:
    return np.linalg.LinAlgError(
        "a covariance restricted to the values a row misses is not positive definite "
        "(the data may be collapsed or have a constant column): increase reg_covar"
    )


def _partial_stats(
    X: np.ndarray, order: np.ndarray, starts: np.ndarray, prepared: Prepared, w: np.ndarray
) -> GaussianStats:
    K, d = prepared.means.shape
    precision, chol = _full_factors(prepared)
    moments, cond_square = np.zeros((K, d + 1, d + 1)), np.zeros((K, d, d))
    log_likelihood = _loops()["_missing_stats"](
        X,
        order,
        starts,
        np.ascontiguousarray(prepared.means),
        precision,
        chol,
        _log_const(prepared),
        moments,
        cond_square,
        _tile_rows(K, d),
        w,
    )
    if np.isnan(log_likelihood):
        raise _not_definite()
    square = moments[:, :d, :d] + cond_square
    first = moments[:, d, :d].copy()
    if prepared.covariance_type in ("diag", "spherical"):
        square = np.diagonal(square, axis1=1, axis2=2).copy()
    return GaussianStats(
        float(log_likelihood), float(w[order].sum()), moments[:, d, d].copy(), first, square
    )


def _grouped(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_group_rows``: the rows with something observed, grouped by pattern, and where each
    pattern begins."""
    order, starts = np.empty(X.shape[0], dtype=np.int64), np.empty(X.shape[0] + 1, dtype=np.int64)
    kept, n_patterns = _loops()["_group_rows"](X, order, starts)
    return order[:kept], starts[: n_patterns + 1]


def block_stats_many(
    X: np.ndarray, prepared: list[Prepared], weights: np.ndarray | None = None
) -> list[gaussian.Stats]:
    """``gaussian.block_stats_many`` for a block that may hold NaN: exact EM's expected
    statistics (13), each row's terms multiplied by its weight when ``weights`` are given
    (an integer weight m counts the row m times). Without a NaN, the complete-data pass
    itself."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    if not np.isnan(X).any():
        return gaussian.block_stats_many(X, prepared, weights)
    w = np.ones(X.shape[0]) if weights is None else np.ascontiguousarray(weights, np.float64)
    grouped = None  # the rows by pattern, which only the other types' pass reads
    stats: list[gaussian.Stats] = []
    for p in prepared:
        if p.covariance_type == "factor":
            stats.append(_factor_stats(X, p, w))
            continue
        grouped = grouped or _grouped(X)
        order, starts = grouped
        if not order.size:  # nothing observed
            stats.append(gaussian.block_stats(X[:0], p))
        else:
            stats.append(_partial_stats(X, order, starts, p, w))
    return stats


def _factor_stats(X: np.ndarray, prepared: Prepared, w: np.ndarray) -> factor.FactorStats:
    """A mixture of factor analysers: its complete rows by ``kernels.factor``, the others by
    the Woodbury form on their observed values (``kernels.factor_missing``)."""
    complete = ~np.isnan(X).any(axis=1)
    return add_fields(
        gaussian.block_stats(X[complete], prepared, w[complete]),
        factor_missing.block_stats(X[~complete], prepared, w[~complete]),
    )


def _factor_posterior(X: np.ndarray, prepared: Prepared):
    """``posterior`` of a mixture of factor analysers: complete rows by ``kernels.factor``."""
    complete = ~np.isnan(X).any(axis=1)
    resp, row_ll, imputed = factor_missing.posterior(X[~complete], prepared)
    out = np.empty((X.shape[0], resp.shape[1])), np.empty(X.shape[0]), X.copy()
    out[0][complete], out[1][complete] = gaussian.posterior(X[complete], prepared)
    out[0][~complete], out[1][~complete], out[2][~complete] = resp, row_ll, imputed
    return out


def block_stats(
    X: np.ndarray, prepared: Prepared, weights: np.ndarray | None = None
) -> gaussian.Stats:
    return block_stats_many(X, [prepared], weights)[0]


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
    if prepared.covariance_type == "factor":
        return _factor_posterior(X, prepared)
    order, starts = _grouped(X)
    weights = np.exp(prepared.log_weights)
    resp, row_ll = np.empty((n, K)), np.zeros(n)
    resp[:], imputed = weights, np.empty_like(X)
    imputed[:] = weights @ prepared.means
    precision, chol = _full_factors(prepared)
    ok = _loops()["_missing_posterior"](
        X,
        order,
        starts,
        np.ascontiguousarray(prepared.means),
        precision,
        chol,
        _log_const(prepared),
        resp,
        row_ll,
        imputed,
        _tile_rows(K, d),
    )
    if not ok:
        raise _not_definite()
    return resp, row_ll, imputed
