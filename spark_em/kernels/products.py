"""The terms the diagonal and factor passes share when they run as matrix products (equation
(11) of ``kernels.gaussian``): with p_k = 1/σ_k² per coordinate, x̃ = x − c the rows centred on
the block's shift c and δ_k = m_k − c, A = [x̃², x̃] and

    log w_k + log N(x; μ_k, diag σ_k²) = A [−½ p_k; p_k δ_k] + const_k,

and the statistics from rᵀA = [Σ r x̃², Σ r x̃]. Pure numpy."""

from __future__ import annotations

import numpy as np

CHUNK_ROWS = 2048


def density_terms(
    delta: np.ndarray, p: np.ndarray, log_norm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(B, const): B = [−½ p; p δ] (2d × K) and const_k = log_norm_k − ½ Σ_i p_ki δ_ki²."""
    d = delta.shape[1]
    B = np.empty((2 * d, delta.shape[0]))
    B[:d] = -0.5 * p.T
    B[d:] = (p * delta).T
    return B, log_norm - 0.5 * np.einsum("kd,kd->k", p * delta, delta)


def chunks(X: np.ndarray, shift: np.ndarray):
    """(row offset, A = [x̃², x̃]) a chunk of ``CHUNK_ROWS`` rows at a time (one buffer)."""
    d = X.shape[1]
    A = np.empty((min(CHUNK_ROWS, X.shape[0]), 2 * d))
    for lo in range(0, X.shape[0], CHUNK_ROWS):
        rows = X[lo : lo + CHUNK_ROWS]
        a = A[: rows.shape[0]]
        np.subtract(rows, shift, out=a[:, d:])
        np.multiply(a[:, d:], a[:, d:], out=a[:, :d])
        yield lo, a


def centred_moments(
    sums: np.ndarray, n_k: np.ndarray, delta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(S1, S2) about the means from [Σ r x̃², Σ r x̃] (K × 2d): S1 = Σ r x̃ − N δ and
    S2 = Σ r x̃² − 2 δ Σ r x̃ + N δ²."""
    d = delta.shape[1]
    square, first = sums[:, :d], sums[:, d:]
    centred_sum = first - n_k[:, None] * delta
    centred_square = square - 2.0 * delta * first + n_k[:, None] * delta * delta
    return centred_sum, centred_square
