"""Kernels of weighted ordinary least squares. Pure numpy and LAPACK.

A block's values hold one row per point, ``[label y, features x_1..x_p]``, and its rows'
weights w arrive apart, as ``weights`` (the block's weights, as for every family; None: every
row weighs 1). With X_i = (1, x_i) carrying the intercept (or X_i = x_i without one):

(11) f(W) = ½ Σ_i w_i (W·X_i − y_i)²
(12) ∇f(W) = Σ_i w_i X_i (W·X_i − y_i)
(13) ∇²f = Σ_i w_i X_i X_iᵀ  (= XᵀWX, constant: f is quadratic)
(14) the optimum solves XᵀWX W = XᵀWy.

Unlike the MapReduce mapper of the original experiment, which left the intercept's component of
the gradient unweighted, (12) is the exact gradient of (11) in every component.

(15) TSQR: the rows √w_i·[X_i | y_i] of a block reduce, by LAPACK's Householder QR, to the
     upper triangle R̃ of their QR factorisation, (q+1)×(q+1) for q coefficients; two
     triangles combine by stacking them and factoring again. For all the rows,
     R̃ = [[R, z], [0, ρ]] with R W = z the least-squares solution, ρ² the weighted residual
     sum of squares and (RᵀR)⁻¹ = R⁻¹R⁻ᵀ, without XᵀWX ever being formed.
(16) With the intercept first, the first column of the orthogonal factor is √w/‖√w‖, so the
     weighted total sum of squares around the weighted mean is ‖z_{1..}‖² + ρ² (and ‖z‖² + ρ²
     around 0 without an intercept).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.linalg import lapack

from spark_em.kernels.arrays import record

LABEL = 0  # the label's column; the features follow it


def row_weights(values: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Each row's weight as float64: ``weights``, or 1 for every row."""
    if weights is None:
        return np.ones(values.shape[0])
    return np.asarray(weights, dtype=np.float64)


def design(
    values: np.ndarray, intercept: bool = True, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, with a leading column of ones when ``intercept``, y, w) of a block."""
    values = np.asarray(values, dtype=np.float64)
    w = row_weights(values, weights)
    if not intercept:
        return np.ascontiguousarray(values[:, 1:]), values[:, LABEL], w
    X = np.empty(values.shape)
    X[:, 0] = 1.0
    X[:, 1:] = values[:, 1:]
    return X, values[:, LABEL], w


@record
class QRStats(NamedTuple):
    """One pass's TSQR (15) and the sums the inference needs besides."""

    factor: np.ndarray  # R̃, (q+1)×(q+1) upper triangular
    weight_sum: float
    log_weight_sum: float  # Σ log w over the rows with w > 0
    n_positive: int  # rows with w > 0
    n_rows: int


GEQRF_COLUMNS = 64  # up to this many columns geqrf is the faster; geqrt's blocks above
GEQRT_BLOCK = 32


def triangle(A: np.ndarray) -> np.ndarray:
    """The upper-triangular factor of A's QR by Householder reflections, square: rows of zeros
    below when A has fewer rows than columns. ``A`` is overwritten when it is
    Fortran-ordered float64.

    On a few columns LAPACK's geqrf (one reflection at a time) is the faster: on one thread,
    as Spark's Python workers run BLAS (``OMP_NUM_THREADS`` = the task's cores), 3.2× geqrt's
    speed at 12 columns and 12,500 rows, 1.5× at 48, even at 64. Above ``GEQRF_COLUMNS``
    geqrt, which applies the reflections in blocks of ``GEQRT_BLOCK`` columns (level-3 BLAS),
    is."""
    m, n = A.shape
    R = np.zeros((n, n))
    if m == 0 or n == 0:
        return R
    if n <= GEQRF_COLUMNS:
        factored, _, _, info = lapack.dgeqrf(A, overwrite_a=1)
    else:
        factored, _, info = lapack.dgeqrt(max(1, min(m, n, GEQRT_BLOCK)), A, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK QR failed (info {info})")
    k = min(m, n)
    R[:k] = np.triu(factored[:k])
    return R


def qr_stats(values: np.ndarray, intercept: bool, weights: np.ndarray | None = None) -> QRStats:
    """(15) for a block: R̃ of √w·[X | y]."""
    values = np.asarray(values, dtype=np.float64)
    w = row_weights(values, weights)
    root = np.sqrt(w)
    q = values.shape[1] - 1 + int(intercept)
    columns = np.empty((q + 1, values.shape[0]))  # Aᵀ, row by row: A is then Fortran-ordered
    if intercept:
        columns[0] = root
    columns[int(intercept) : q] = values[:, 1:].T
    columns[int(intercept) : q] *= root
    np.multiply(values[:, LABEL], root, out=columns[q])
    positive = w > 0
    return QRStats(
        triangle(columns.T),
        float(w.sum()),
        float(np.log(w[positive]).sum()),
        int(positive.sum()),
        values.shape[0],
    )


def add_qr(a: QRStats, b: QRStats) -> QRStats:
    """Two blocks' (or two sums') TSQR as one: the stacked triangles factored again."""
    return QRStats(
        triangle(np.vstack([a.factor, b.factor])),
        a.weight_sum + b.weight_sum,
        a.log_weight_sum + b.log_weight_sum,
        a.n_positive + b.n_positive,
        a.n_rows + b.n_rows,
    )


@record
class ResidualStats(NamedTuple):
    """A pass over the residuals e = y − X W at the solution: the middle of a sandwich
    covariance and the sums behind the weighted errors. The labels and fitted values are
    summed as weighted means and centred sums of squares (merged by ``add_residuals``), so
    labels far from 0 lose nothing."""

    meat: np.ndarray  # Σ w² e² x xᵀ / (1 − h)^power
    abs_error: float  # Σ w |e|
    square_error: float  # Σ w e²
    label_mean: float  # ȳ_w
    label_spread: float  # Σ w (y − ȳ_w)²
    fitted_mean: float  # the weighted mean of ŷ
    fitted_spread: float  # Σ w (ŷ − its mean)²
    weight_sum: float
    n_rows: int


def _centred(values: np.ndarray, w: np.ndarray, total: float) -> tuple[float, float]:
    if total <= 0:
        return 0.0, 0.0
    mean = float(w @ values) / total
    deviation = values - mean
    return mean, float(w @ (deviation * deviation))


def _merged(mean_a, spread_a, w_a, mean_b, spread_b, w_b) -> tuple[float, float]:
    """Two groups' weighted means and centred sums of squares as one (Chan et al.)."""
    total = w_a + w_b
    if w_a <= 0 or w_b <= 0:
        return (mean_b, spread_b) if w_a <= 0 else (mean_a, spread_a)
    delta = mean_b - mean_a
    return mean_a + delta * w_b / total, spread_a + spread_b + delta * delta * w_a * w_b / total


def add_residuals(a: ResidualStats, b: ResidualStats) -> ResidualStats:
    label = _merged(
        a.label_mean, a.label_spread, a.weight_sum, b.label_mean, b.label_spread, b.weight_sum
    )
    fitted = _merged(
        a.fitted_mean, a.fitted_spread, a.weight_sum, b.fitted_mean, b.fitted_spread, b.weight_sum
    )
    return ResidualStats(
        a.meat + b.meat,
        a.abs_error + b.abs_error,
        a.square_error + b.square_error,
        *label,
        *fitted,
        a.weight_sum + b.weight_sum,
        a.n_rows + b.n_rows,
    )


def residual_stats(
    values: np.ndarray, params: tuple, weights: np.ndarray | None = None
) -> ResidualStats:
    """``params`` = (W, R⁻¹, intercept, power): with x̃ = √w x and ẽ = √w e, the leverage
    h = ‖x̃ᵀR⁻¹‖² (the diagonal of the weighted hat matrix, never formed) and
    Σ x̃ x̃ᵀ ẽ² / (1 − h)^power (power 0, 1, 2: HC0/HC1, HC2, HC3). A row with a residual and
    h = 1 to rounding (a column non-zero on that row alone) makes the middle NaN: HC2 and HC3
    are not defined there."""
    W, R_inv, intercept, power = params
    X, y, w = design(values, intercept, weights)
    error = y - X @ W
    root = np.sqrt(w)
    Xw = X * root[:, None]
    scale = w * error * error
    if power:
        rotated = Xw @ R_inv
        remainder = 1.0 - np.einsum("ij,ij->i", rotated, rotated)
        undefined = (scale > 0) & (remainder <= 1e-10)
        scale = np.where(scale > 0, scale / np.maximum(remainder, 1e-10) ** power, 0.0)
        scale[undefined] = np.nan
    total = float(w.sum())
    return ResidualStats(
        (Xw * scale[:, None]).T @ Xw,
        float(w @ np.abs(error)),
        float(w @ (error * error)),
        *_centred(y, w, total),
        *_centred(y - error, w, total),
        total,
        X.shape[0],
    )


@record
class GradientStats(NamedTuple):
    loss: float  # (11) at W
    gradient: np.ndarray  # (12) at W
    weight_sum: float
    n_rows: int


@record
class NormalStats(NamedTuple):
    """One pass's sums for the normal equations and for the gradient at a given W."""

    loss: float  # (11) at W
    gradient: np.ndarray  # (12) at W
    hessian: np.ndarray  # XᵀWX
    xwy: np.ndarray  # XᵀWy
    weight_sum: float
    n_rows: int


def _with_intercept(values: np.ndarray, W: np.ndarray) -> bool:
    """Whether W (one coefficient per feature, and the intercept first when there is one)
    carries an intercept."""
    return len(W) == values.shape[1]


def gradient_stats(
    values: np.ndarray, W: np.ndarray, weights: np.ndarray | None = None
) -> GradientStats:
    X, y, w = design(values, _with_intercept(values, W), weights)
    residual = X @ W - y
    weighted = w * residual
    return GradientStats(
        0.5 * float(weighted @ residual), X.T @ weighted, float(w.sum()), X.shape[0]
    )


def normal_stats(
    values: np.ndarray, W: np.ndarray, weights: np.ndarray | None = None
) -> NormalStats:
    X, y, w = design(values, _with_intercept(values, W), weights)
    residual = X @ W - y
    weighted = w * residual
    Xw = X * w[:, None]
    return NormalStats(
        0.5 * float(weighted @ residual),
        X.T @ weighted,
        Xw.T @ X,
        Xw.T @ y,
        float(w.sum()),
        X.shape[0],
    )


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
        if len(involved) == 2 and "intercept" in involved:
            other = involved[1] if involved[0] == "intercept" else involved[0]
            raise np.linalg.LinAlgError(
                f"the design is singular: {other} is constant (collinear with the intercept)"
            )
        raise np.linalg.LinAlgError(
            "the normal equations are singular at double precision (XᵀWX, its columns scaled, "
            f"has eigenvalues 1e12 apart): {', '.join(involved)} are collinear or nearly so; "
            "the qr solver, which never forms XᵀWX, keeps twice the digits"
        )
    chol = np.linalg.cholesky(unit)
    z = np.linalg.solve(chol, rhs / scale)
    return np.linalg.solve(chol.T, z) / scale


def largest_eigenvalue(hessian: np.ndarray) -> float:
    return float(np.linalg.eigvalsh(hessian)[-1])
