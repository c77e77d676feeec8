"""Mixtures of factor analysers on rows with values missing at random (NaN): the Woodbury form
of ``kernels.factor`` on each row's observed coordinates, batched over the rows, so that no
d × d matrix is formed and rows of different patterns need no grouping. Pure numpy.

For row u with observed coordinates o (ω_uj = 1 where x_uj is observed, else 0), component k
with mean μ, loadings Λ (rows Λ_j, q each) and noise variances ψ, y = x − μ zero-filled where
missing and a_j = ω_uj / ψ_j:

(18) M_u = I + Σ_j a_j Λ_j Λ_jᵀ = R_u R_uᵀ (one product of the rows' a with the d × q² table
     of the Λ_j Λ_jᵀ), b_u = Λᵀ (a ⊙ y), c_u = R_u⁻¹ b_u, and
     log N(x_o; μ_o, Σ_oo) = −½ (|o| log 2π + Σ_{j∈o} log ψ_j + 2 Σ log (R_u)_ii
     + Σ_j a_j y_j² − ‖c_u‖²) (Woodbury and the determinant lemma on Σ_oo = Λ_o Λ_oᵀ + Ψ_o);
(19) z | x_o ~ N(m_u, M_u⁻¹) with m_u = R_u⁻ᵀ c_u, S_u = E[z zᵀ | x_o] = M_u⁻¹ + m_u m_uᵀ; a
     missing y_j = Λ_jᵀ z + ε_j, so E[y_j] = Λ_jᵀ m_u, E[y_j zᵀ] = Λ_jᵀ S_u and
     E[y_j²] = Λ_jᵀ S_u Λ_j + ψ_j;
(20) the pass sums r times these into ``factor.FactorStats`` (16), centred on the means; the
     missing coordinates' terms all come from T = Σ_u r_u (1 − ω_u) ⊗ S_u (d × q², one
     product per component).

Work per row and component is d·q² (complete rows take ``kernels.factor``'s d·q). Rows with
nothing observed carry no information: they are left out of every sum and of the row count,
and their posterior is the weights (imputation Σ_k w_k μ_k), as in ``kernels.missing``.
"""

from __future__ import annotations

import numpy as np

from spark_em.kernels import factor, gaussian
from spark_em.kernels.gaussian import Prepared

LOG_2PI = gaussian.LOG_2PI
# A chunk's rows hold K × (q² + q) numbers of posterior moments and about ten n × d
# temporaries: at most this many numbers in all.
CHUNK_NUMBERS = 2_000_000
MAX_CHUNK_ROWS = 2048


class _Posterior:
    """A chunk's per-component posteriors of z: m (n × K × q) and M⁻¹ (n × K × q × q)."""

    def __init__(self, n: int, K: int, q: int):
        self.mean = np.empty((n, K, q))
        self.cov = np.empty((n, K, q, q))


def _outer_table(loadings: np.ndarray) -> np.ndarray:
    """Λ_j Λ_jᵀ of every row j of one component's loadings, flattened: d × q²."""
    d, q = loadings.shape
    return (loadings[:, :, None] * loadings[:, None, :]).reshape(d, q * q)


def _chunk_rows(K: int, d: int, q: int) -> int:
    return int(max(1, min(MAX_CHUNK_ROWS, CHUNK_NUMBERS // (K * (q * q + q) + 10 * d))))


def _log_weighted(X, observed, prepared: Prepared):
    """(18) of a chunk's rows: log w_k + log N(x_o; μ_o, Σ_oo) (n × K) and the posteriors of
    z (19)."""
    n = X.shape[0]
    K = prepared.means.shape[0]
    loadings = prepared.factor_loadings
    q = loadings.shape[2]
    noise = prepared.covariance_chol**2
    f, post = np.empty((n, K)), _Posterior(n, K, q)
    n_observed = observed.sum(axis=1)
    eye = np.eye(q)
    for k in range(K):
        y = np.where(observed, X - prepared.means[k], 0.0)
        a = observed / noise[k]
        ay = a * y
        quad = np.einsum("nd,nd->n", ay, y)
        log_det = observed @ np.log(noise[k])
        if q:
            M = (a @ _outer_table(loadings[k])).reshape(n, q, q) + eye
            R_inv = np.linalg.inv(np.linalg.cholesky(M))
            c = np.einsum("nij,nj->ni", R_inv, ay @ loadings[k])
            quad -= np.einsum("ni,ni->n", c, c)
            log_det -= 2.0 * np.log(np.diagonal(R_inv, axis1=1, axis2=2)).sum(axis=1)
            post.mean[:, k] = np.einsum("nij,ni->nj", R_inv, c)
            post.cov[:, k] = np.matmul(R_inv.transpose(0, 2, 1), R_inv)
        f[:, k] = prepared.log_weights[k] - 0.5 * (n_observed * LOG_2PI + log_det + quad)
    return f, post


def _chunks(X: np.ndarray, prepared: Prepared):
    """(row offset, rows, where they are observed) a chunk at a time. The d × q² tables of
    each component are made where they are used (K of them at once would outgrow the K d × d
    covariances when q² > d)."""
    K, d, q = prepared.factor_loadings.shape
    step = _chunk_rows(K, d, q)
    for lo in range(0, X.shape[0], step):
        rows = X[lo : lo + step]
        yield lo, rows, ~np.isnan(rows)


def block_stats(
    X: np.ndarray, prepared: Prepared, weights: np.ndarray | None = None
) -> factor.FactorStats:
    """(16) of a block of float64 rows with NaN for missing values, each row's terms times its
    weight when ``weights`` are given: exact EM's expected statistics (20)."""
    X = np.asarray(X, dtype=np.float64)
    seen = ~np.isnan(X).all(axis=1)
    X = X[seen]
    w = np.ones(X.shape[0]) if weights is None else np.asarray(weights, np.float64)[seen]
    loadings = prepared.factor_loadings
    K, d, q = loadings.shape
    noise = prepared.covariance_chol**2
    out = factor.FactorStats(
        0.0,
        float(w.sum()),
        np.zeros(K),
        np.zeros((K, d)),
        np.zeros((K, d)),
        np.zeros((K, d, q)),
        np.zeros((K, q)),
        np.zeros((K, q, q)),
    )
    log_likelihood = 0.0
    for lo, rows, observed in _chunks(X, prepared):
        f, post = _log_weighted(rows, observed, prepared)
        resp, row_ll = gaussian._normalised(f)
        rw = w[lo : lo + rows.shape[0]]
        log_likelihood += float(rw @ row_ll)
        resp *= rw[:, None]
        missing = 1.0 - observed
        for k in range(K):
            r, lam, m = resp[:, k], loadings[k], post.mean[:, k]
            y = np.where(observed, rows - prepared.means[k], 0.0)
            r_missing = r[:, None] * missing
            second = (post.cov[:, k] + m[:, :, None] * m[:, None, :]).reshape(rows.shape[0], q * q)
            T = r_missing.T @ second  # d × q²
            out.resp[k] += r.sum()
            out.centred_sum[k] += r @ y + np.einsum("nd,nd->d", r_missing, m @ lam.T)
            out.centred_square[k] += (
                r @ (y * y)
                + np.einsum("dp,dp->d", T, _outer_table(lam))
                + noise[k] * r_missing.sum(0)
            )
            out.factor_cross[k] += y.T @ (r[:, None] * m) + np.einsum(
                "dp,dpq->dq", lam, T.reshape(d, q, q)
            )
            out.factor_sum[k] += r @ m
            out.factor_square[k] += (r @ second).reshape(q, q)
    return out._replace(log_likelihood=log_likelihood)


def posterior(X: np.ndarray, prepared: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Responsibilities (n × K), each row's log-likelihood of its observed values, and the rows
    with their missing values imputed by E[x_m | x_o] = Σ_k r_k (μ_k + Λ_k m_k)_m (observed
    values kept). A row with nothing observed has the weights as responsibilities,
    log-likelihood 0 and the imputation Σ_k w_k μ_k."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    K = prepared.means.shape[0]
    resp, row_ll, imputed = np.empty((n, K)), np.empty(n), X.copy()
    for lo, rows, observed in _chunks(X, prepared):
        f, post = _log_weighted(rows, observed, prepared)
        r, ll = gaussian._normalised(f)
        ll[~observed.any(axis=1)] = 0.0  # log Σ w_k, which rounding may leave off 0
        filled = np.einsum("nk,kd->nd", r, prepared.means) + np.einsum(
            "nk,nkq,kdq->nd", r, post.mean, prepared.factor_loadings, optimize=True
        )
        hi = lo + rows.shape[0]
        resp[lo:hi], row_ll[lo:hi] = r, ll
        imputed[lo:hi] = np.where(observed, rows, filled)
    return resp, row_ll, imputed
