"""Kernels of weighted ordinary least squares. Pure numpy.

A block's values hold one row per point: ``[label y, weight w, features x_1..x_p]``. With
X_i = (1, x_i) carrying the intercept:

(11) f(W) = ½ Σ_i w_i (W·X_i − y_i)²
(12) ∇f(W) = Σ_i w_i X_i (W·X_i − y_i)
(13) ∇²f = Σ_i w_i X_i X_iᵀ  (= XᵀWX, constant: f is quadratic)
(14) the optimum solves XᵀWX W = XᵀWy.

Unlike the MapReduce mapper of the original experiment, which left the intercept's component of
the gradient unweighted, (12) is the exact gradient of (11) in every component.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

LABEL, WEIGHT = 0, 1


def design(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X with a leading column of ones, y, w) of a block."""
    values = np.asarray(values, dtype=np.float64)
    X = np.empty((values.shape[0], values.shape[1] - 1))
    X[:, 0] = 1.0
    X[:, 1:] = values[:, 2:]
    return X, values[:, LABEL], values[:, WEIGHT]


class GradientStats(NamedTuple):
    loss: float  # (11) at W
    gradient: np.ndarray  # (12) at W
    weight_sum: float
    n_rows: int


class NormalStats(NamedTuple):
    """One pass's sums for the normal equations and for the gradient at a given W."""

    loss: float  # (11) at W
    gradient: np.ndarray  # (12) at W
    hessian: np.ndarray  # XᵀWX
    xwy: np.ndarray  # XᵀWy
    weight_sum: float
    n_rows: int


def gradient_stats(values: np.ndarray, W: np.ndarray) -> GradientStats:
    X, y, w = design(values)
    residual = X @ W - y
    weighted = w * residual
    return GradientStats(0.5 * float(weighted @ residual), X.T @ weighted, float(w.sum()), X.shape[0])


def normal_stats(values: np.ndarray, W: np.ndarray) -> NormalStats:
    X, y, w = design(values)
    residual = X @ W - y
    weighted = w * residual
    Xw = X * w[:, None]
    return NormalStats(0.5 * float(weighted @ residual), X.T @ weighted, Xw.T @ X, Xw.T @ y,
                       float(w.sum()), X.shape[0])


def solve(hessian: np.ndarray, rhs: np.ndarray, names: list[str]) -> np.ndarray:
    """H⁻¹ rhs by Cholesky; a singular design (a constant or collinear feature, or all weight
    on too few points) raises ``np.linalg.LinAlgError`` naming the features involved."""
    scale = np.sqrt(np.diag(hessian))
    if np.any(scale == 0):
        zero = [names[i] for i in np.flatnonzero(scale == 0)]
        raise np.linalg.LinAlgError(f"the design is singular: no weight on {', '.join(zero)}")
    # Solve the equilibrated system (unit diagonal) so the pivot test means the same at any scale.
    unit = hessian / np.outer(scale, scale)
    eigenvalues, eigenvectors = np.linalg.eigh(unit)
    if eigenvalues[0] <= 1e-12 * eigenvalues[-1]:
        involved = [names[i] for i in np.flatnonzero(np.abs(eigenvectors[:, 0]) > 0.1)]
        raise np.linalg.LinAlgError(
            "the design is singular: " + " and ".join(involved)
            + " are collinear (a constant feature is collinear with the intercept)")
    chol = np.linalg.cholesky(unit)
    z = np.linalg.solve(chol, rhs / scale)
    return np.linalg.solve(chol.T, z) / scale


def largest_eigenvalue(hessian: np.ndarray) -> float:
    return float(np.linalg.eigvalsh(hessian)[-1])


def reference_fit(X_features: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least squares in memory by √w scaling and ``lstsq``: [intercept, coefficients]."""
    X = np.column_stack([np.ones(len(y)), X_features])
    root = np.sqrt(w)
    return np.linalg.lstsq(X * root[:, None], y * root, rcond=None)[0]
