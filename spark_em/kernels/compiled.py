"""Compiled passes: the complete-data Gaussian statistics for rows of few dimensions, and the
masked mixture on CSR blocks (at the end of the module).

With d of a few tens, a block's work is many small products: numpy spends its time in calls
and temporaries and BLAS in its edges. These loops (compiled by numba) take the rows a tile at
a time, transposed so that every inner loop runs over the tile's rows and vectorises: per
component the whitened rows y_k = (x − μ_k) P_k (P_k upper triangular; x − μ_k is formed
before any product, so data far from the origin lose nothing), their log-densities,
the log-sum-exp over components, and the responsibility-weighted sums Σ r y_k and Σ r y_k y_kᵀ
(lower triangle), the same quantities as the numpy pass of ``gaussian``, summed in another
order. Floating-point flags allow reassociation and contraction only: infinities (a
component of weight 0) and NaN keep their meaning.

``ENABLED`` is false when numba is not installed or ``SPARK_EM_COMPILED=0`` is set; the
numpy passes are then used everywhere.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable

import numpy as np

# numba is imported on the first compiled call, not here: a Python worker that never runs
# these loops does not pay for it.
ENABLED = (
    importlib.util.find_spec("numba") is not None
    and os.environ.get("SPARK_EM_COMPILED", "1") != "0"
)
# Widest rows the compiled full/tied pass takes: it beats the BLAS pass by 1.1–3.5× up to 128
# dimensions (K=5, one core, 4096 rows) and ties at 200. The diagonal pass, linear in d, always
# wins (3–7×).
MAX_DIMS = 128
# Rows per tile: the tile's whitened rows (K × d × TILE_ROWS numbers) stay in L2.
TILE_ROWS = 256

_FLAGS = {"reassoc", "contract", "arcp"}
_loaded: dict = {}
# Compiling swaps a module's helpers for their compiled forms: one thread at a time (a pyfunc
# served by a threaded server calls the kernels from many threads at once).
_LOCK = threading.RLock()


def loaded_once(cache: dict, build: Callable[[], dict]) -> dict:
    """``cache``, filled by ``build()`` the first time, once whatever the threads."""
    if not cache:
        with _LOCK:
            if not cache:
                cache.update(build())
    return cache


def compile_in(namespace: dict, helpers: tuple[str, ...], loops: tuple[str, ...]) -> dict:
    """The functions named ``loops`` of a module (``namespace``: its globals), compiled (or
    read from numba's cache) on first use, by name. The ``helpers`` they call are swapped in
    ``namespace`` for their compiled forms first, as numba resolves them when it compiles.
    Without numba (``ENABLED`` false) the functions come back as they are, run by Python."""
    if not ENABLED:
        return {name: namespace[name] for name in loops}
    import numba
    from numba.core.dispatcher import Dispatcher

    jit = numba.njit(cache=True, nogil=True, fastmath=_FLAGS)

    def compiled(function):  # a helper compiled by an earlier, interrupted attempt stays so
        return function if isinstance(function, Dispatcher) else jit(function)

    with _LOCK:
        for name in helpers:
            namespace[name] = compiled(namespace[name])
        return {name: compiled(namespace[name]) for name in loops}


def _load() -> dict:
    return loaded_once(
        _loaded,
        lambda: compile_in(
            globals(),
            ("_transpose_tile", "_normalise", "_weigh", "_whiten_tile", "_add_moments"),
            ("_triangular_pass", "_diagonal_pass", "_masked_csr_pass"),
        ),
    )


def _triangular_pass(rows, means, precision, log_norm, moments, weights):  # pragma: no cover
    """Full and tied: ``rows`` n×d, ``means`` K×d, ``precision`` K×d×d upper triangular,
    ``log_norm`` K. Adds to ``moments`` (K×(d+1)×(d+1)) the lower triangle of Σ r y yᵀ, Σ r y
    in row d and Σ r at [d, d]; returns the log-likelihood. With ``weights`` (n; empty for
    none) each row's responsibilities and log-likelihood are multiplied by its weight."""
    weighted = weights.shape[0] > 0
    n, d = rows.shape
    K = means.shape[0]
    tile = TILE_ROWS
    Y = np.empty((K, d, tile))
    D = np.empty((d, tile))
    X = np.empty((d, tile))
    lp = np.empty((K, tile))
    top = np.empty(tile)
    total = np.empty(tile)
    log_likelihood = 0.0
    for lo in range(0, n, tile):
        m = min(tile, n - lo)
        _transpose_tile(rows, lo, m, X)
        for k in range(K):
            for i in range(d):
                for t in range(m):
                    D[i, t] = X[i, t] - means[k, i]
            for t in range(m):
                lp[k, t] = log_norm[k]
            _whiten_tile(D, precision[k], Y[k], lp[k], m)
        tile_ll = _normalise(lp, top, total, m)
        log_likelihood += _weigh(lp, top, weights, lo, m) if weighted else tile_ll
        for k in range(K):
            _add_moments(lp[k], Y[k], D, moments[k], m)
    return log_likelihood


def _diagonal_pass(
    rows, means, precision, log_norm, first, square, resp, weights
):  # pragma: no cover - compiled
    """Diag and spherical: ``precision`` K×d (1/σ per coordinate). Adds Σ r y to ``first``,
    Σ r y² to ``square`` (both K×d) and Σ r to ``resp``; returns the log-likelihood.
    ``weights`` as for ``_triangular_pass``."""
    weighted = weights.shape[0] > 0
    n, d = rows.shape
    K = means.shape[0]
    tile = TILE_ROWS
    Y = np.empty((K, d, tile))
    X = np.empty((d, tile))
    lp = np.empty((K, tile))
    top = np.empty(tile)
    total = np.empty(tile)
    log_likelihood = 0.0
    for lo in range(0, n, tile):
        m = min(tile, n - lo)
        _transpose_tile(rows, lo, m, X)
        for k in range(K):
            for t in range(m):
                lp[k, t] = 0.0
            for i in range(d):
                a = precision[k, i]
                b = means[k, i]
                for t in range(m):
                    y = (X[i, t] - b) * a
                    Y[k, i, t] = y
                    lp[k, t] += y * y
            for t in range(m):
                lp[k, t] = log_norm[k] - 0.5 * lp[k, t]
        tile_ll = _normalise(lp, top, total, m)
        log_likelihood += _weigh(lp, top, weights, lo, m) if weighted else tile_ll
        for k in range(K):
            for i in range(d):
                s1 = 0.0
                s2 = 0.0
                for t in range(m):
                    ry = lp[k, t] * Y[k, i, t]
                    s1 += ry
                    s2 += ry * Y[k, i, t]
                first[k, i] += s1
                square[k, i] += s2
            s = 0.0
            for t in range(m):
                s += lp[k, t]
            resp[k] += s
    return log_likelihood


def _whiten_rows(D, precision, Y, lp, m):  # pragma: no cover - compiled
    """For the first m columns of a tile: Y = the columns of ``D`` (d × tile) whitened by the
    upper-triangular ``precision``, y_j = Σ_{i≤j} δ_i P_ij, and ½‖y‖² taken from ``lp``."""
    d = D.shape[0]
    for j in range(d):
        for t in range(m):
            Y[j, t] = 0.0
        for i in range(j + 1):
            a = precision[i, j]
            for t in range(m):
                Y[j, t] += D[i, t] * a
        for t in range(m):
            lp[t] -= 0.5 * Y[j, t] * Y[j, t]


def _add_weighted_moments(r, Y, W, M, m):  # pragma: no cover - compiled
    """For the first m columns of a tile of whitened rows ``Y`` (d × tile) with
    responsibilities ``r``: the lower triangle of Σ r y yᵀ, Σ r y in row d and Σ r at [d, d]
    added to ``M`` ((d+1)×(d+1)); ``W`` (d × tile) is work space."""
    d = Y.shape[0]
    for i in range(d):
        for t in range(m):
            W[i, t] = r[t] * Y[i, t]
    for i in range(d):
        for j in range(i + 1):
            s = 0.0
            for t in range(m):
                s += W[i, t] * Y[j, t]
            M[i, j] += s
        s = 0.0
        for t in range(m):
            s += W[i, t]
        M[d, i] += s
    s = 0.0
    for t in range(m):
        s += r[t]
    M[d, d] += s


def _transpose_rows(rows, lo, m, out):  # pragma: no cover - compiled
    """Rows lo … lo+m−1 of ``rows`` into the first m columns of ``out`` (d × tile)."""
    d = rows.shape[1]
    for t in range(m):
        for i in range(d):
            out[i, t] = rows[lo + t, i]


def _normalise_rows(lp, top, total, m):  # pragma: no cover - compiled
    """The max-shifted log-sum-exp over components of the first ``m`` columns of ``lp``
    (K × tile), replacing them by the responsibilities; each row's log-likelihood is left in
    ``top`` and their sum returned."""
    K = lp.shape[0]
    for t in range(m):
        top[t] = lp[0, t]
    for k in range(1, K):
        for t in range(m):
            top[t] = max(top[t], lp[k, t])
    for t in range(m):
        total[t] = 0.0
    for k in range(K):
        for t in range(m):
            lp[k, t] = np.exp(lp[k, t] - top[t])
            total[t] += lp[k, t]
    log_likelihood = 0.0
    for t in range(m):
        top[t] += np.log(total[t])
        log_likelihood += top[t]
        total[t] = 1.0 / total[t]
    for k in range(K):
        for t in range(m):
            lp[k, t] *= total[t]
    return log_likelihood


def _weigh_rows(lp, row_ll, weights, lo, m):  # pragma: no cover - compiled
    """Multiply the responsibilities of the first m columns of ``lp`` (K × tile) by the weights
    of rows lo … lo+m−1; returns Σ w · (each row's log-likelihood, from ``row_ll``)."""
    K = lp.shape[0]
    log_likelihood = 0.0
    for t in range(m):
        log_likelihood += weights[lo + t] * row_ll[t]
    for k in range(K):
        for t in range(m):
            lp[k, t] *= weights[lo + t]
    return log_likelihood


# what the loops call: swapped for the compiled forms by ``_load``
_transpose_tile = _transpose_rows
_normalise = _normalise_rows
_weigh = _weigh_rows
_whiten_tile = _whiten_rows
_add_moments = _add_weighted_moments


NO_WEIGHTS = np.empty(0)


def triangular_pass(rows, means, precision, log_norm, moments, weights=None) -> float:
    """``_triangular_pass``, compiled."""
    weights = NO_WEIGHTS if weights is None else weights
    return _load()["_triangular_pass"](rows, means, precision, log_norm, moments, weights)


def diagonal_pass(rows, means, precision, log_norm, first, square, resp, weights=None) -> float:
    """``_diagonal_pass``, compiled."""
    weights = NO_WEIGHTS if weights is None else weights
    return _load()["_diagonal_pass"](rows, means, precision, log_norm, first, square, resp, weights)


def usable(d: int, covariance_type: str) -> bool:
    """Whether the compiled pass takes rows of ``d`` dimensions of this covariance type."""
    if not ENABLED or d <= 0:
        return False
    return covariance_type in ("diag", "spherical") or d <= MAX_DIMS


def _masked_csr_pass(
    indptr, indices, data, table, log_weight, var, resp, resp_sq_norm
):  # pragma: no cover - compiled
    """The masked spherical mixture on a CSR block (``masked``, equations (1)–(2) and the sums
    behind (3)–(5)), one row at a time over its observed entries only. ``table`` is d×3K, one
    row per column of the data: [μ_{·,i} | Σ p δ x | Σ p δ] side by side, so that an observed
    entry touches one contiguous stretch of memory; the two sums are added to in place.
    ``log_weight`` is log(p + 1e-16), ``var`` the variances. Adds Σ p(j|u) to ``resp`` and
    Σ p ‖x_C‖² to ``resp_sq_norm``; stored zeros are missing, and rows with no observed entry
    are left out. Returns (log-likelihood, rows counted)."""
    n = indptr.shape[0] - 1
    K = log_weight.shape[0]
    sq_dist = np.empty(K)
    f = np.empty(K)
    log_two_pi_var = np.log(2.0 * np.pi * var)
    half_inv_var = 0.5 / var
    log_likelihood = 0.0
    rows = 0
    for u in range(n):
        observed = 0
        sq_norm = 0.0
        sq_dist[:] = 0.0
        for e in range(indptr[u], indptr[u + 1]):
            x = np.float64(data[e])
            if x == 0.0:
                continue
            observed += 1
            sq_norm += x * x
            row = table[indices[e]]
            for k in range(K):
                diff = x - row[k]
                sq_dist[k] += diff * diff
        if observed == 0:
            continue
        rows += 1
        top = -np.inf
        for k in range(K):
            f[k] = log_weight[k] - 0.5 * observed * log_two_pi_var[k] - sq_dist[k] * half_inv_var[k]
            top = max(top, f[k])
        total = 0.0
        for k in range(K):
            f[k] = np.exp(f[k] - top)
            total += f[k]
        log_likelihood += top + np.log(total)
        inv = 1.0 / total
        for k in range(K):
            f[k] *= inv
            resp[k] += f[k]
            resp_sq_norm[k] += f[k] * sq_norm
        for e in range(indptr[u], indptr[u + 1]):
            x = np.float64(data[e])
            if x == 0.0:
                continue
            row = table[indices[e]]
            for k in range(K):
                row[K + k] += f[k] * x
                row[2 * K + k] += f[k]
    return log_likelihood, rows


def masked_csr_pass(indptr, indices, data, table, log_weight, var, resp, resp_sq_norm):
    """``_masked_csr_pass``, compiled."""
    return _load()["_masked_csr_pass"](
        indptr, indices, data, table, log_weight, var, resp, resp_sq_norm
    )
