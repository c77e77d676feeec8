"""Weighted least squares on cached blocks of [label, weight, features] rows: three solvers.

- ``normal``: one pass for XᵀWX and XᵀWy, one solve (equation 14).
- ``newton``: one pass for the gradient and Hessian at W₀ = 0, one Newton step (exact: f is
  quadratic), and a second pass that confirms the gradient is ~0 at the result.
- ``gd``: gradient descent on f(W)/Σw (so a rate means the same on any amount of data) with
  the stopping rule of the original MapReduce experiment, ‖W_new − W_old‖² < tol;
  ``step="auto"`` takes 1/L, L the largest eigenvalue of XᵀWX/Σw, from one extra pass.

Kernels are in ``spark_em.kernels.wols``; the data come from ``spark_em.io.table`` (files and
DataFrames) or ``spark_em.io.synthetic.wols_experiment``.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from spark_em.engine import ops
from spark_em.engine.checkpoint import Checkpoint
from spark_em.engine.loop import DEFAULT_MAX_ITER, Family, run
from spark_em.errors import InputError
from spark_em.io.table import RegressionData
from spark_em.kernels import wols
from spark_em.kernels.arrays import add_fields
from spark_em.models import codec

SOLVERS = ("newton", "normal", "gd")
GD_TOL = 1e-5


@dataclass
class RegressionResult:
    solver: str
    coefficients: np.ndarray
    intercept: float
    n_iter: int
    passes: int
    loss: float
    gradient_norm: float
    converged: bool
    seconds: float
    step: float | None = None
    loss_history: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        return dict(solver=self.solver, coefficients=self.coefficients.tolist(),
                    intercept=self.intercept, n_iter=self.n_iter, passes=self.passes,
                    loss=self.loss, gradient_norm=self.gradient_norm, converged=self.converged,
                    seconds=round(self.seconds, 4), step=self.step)

    def model_record(self, feature_names: list[str]) -> dict:
        """What ``model.json`` holds."""
        return {"features": feature_names, "intercept": self.intercept,
                "coefficients": self.coefficients.tolist(), "solver": self.solver}


def _normal_sums(data: RegressionData, W: np.ndarray) -> wols.NormalStats:
    return ops.aggregate(data.blocks, wols.normal_stats, add_fields, W)


def _solve(hessian: np.ndarray, rhs: np.ndarray, names: list[str]) -> np.ndarray:
    try:
        return wols.solve(hessian, rhs, ["intercept", *names])
    except np.linalg.LinAlgError as exc:
        raise InputError(str(exc)) from None


def gd_family(step: float, tol: float = GD_TOL) -> Family:
    """Gradient descent on f(W)/Σw with a fixed ``step``: stops when ‖W_new − W_old‖² < tol."""
    def update(stats: wols.GradientStats, W):
        return W - step * stats.gradient / stats.weight_sum, stats.loss

    def moved_less(_new, _old, W_new, W_old) -> bool:
        return float((W_new - W_old) @ (W_new - W_old)) < tol

    return Family("wols-gd", wols.gradient_stats, update, converged=moved_less,
                  encode=codec.encode_vector, decode=codec.decode_vector)


def check_solver(solver: str) -> str:
    if solver not in SOLVERS:
        raise InputError(f"{{param}} must be one of {', '.join(SOLVERS)}, not {solver!r}",
                         param="solver")
    return solver


def fit(data: RegressionData, solver: str = "newton", step="auto", tol: float = GD_TOL,
        max_iter: int = DEFAULT_MAX_ITER, on_iteration: Callable | None = None,
        checkpoint: Checkpoint | None = None, resume: bool = False) -> RegressionResult:
    """Fit by ``solver``; ``step`` is ``"auto"`` or a learning rate (gd only). gd saves its
    state after every pass to a ``checkpoint`` (``checkpoint_for``) and with ``resume``
    continues from it."""
    check_solver(solver)
    start = time.perf_counter()
    zero = np.zeros(len(data.feature_names) + 1)
    if solver in ("normal", "newton"):
        stats = _normal_sums(data, zero)
        if solver == "normal":
            W = _solve(stats.hessian, stats.xwy, data.feature_names)
            # f(W) from the same sums: ½ Σwy² − W·XᵀWy + ½ WᵀXᵀWX W  (2·f(0) = Σwy²)
            loss = stats.loss - W @ stats.xwy + 0.5 * W @ stats.hessian @ W
            gradient = stats.hessian @ W - stats.xwy
            return _result(solver, W, 1, 1, loss, gradient, True, start, None, [stats.loss])
        W = zero - _solve(stats.hessian, stats.gradient, data.feature_names)  # one Newton step
        check = ops.aggregate(data.blocks, wols.gradient_stats, add_fields, W)
        return _result(solver, W, 1, 2, check.loss, check.gradient, True, start, None,
                       [stats.loss, check.loss])
    return _gradient_descent(data, step, tol, max_iter, on_iteration, start, checkpoint, resume)


def checkpoint_for(directory, data: RegressionData, **options) -> Checkpoint:
    """A ``Checkpoint`` of gradient descent on ``data`` (fingerprinted by one pass of its
    sums) with these options."""
    sums = _normal_sums(data, np.zeros(len(data.feature_names) + 1))
    digest = hashlib.sha256(np.concatenate([np.ravel(sums.hessian), sums.xwy, [sums.loss, sums.weight_sum]])
                            .astype(np.float64).tobytes()).hexdigest()
    return Checkpoint(directory, {"model": "wols-gd", "n_rows": data.n_rows,
                                  "features": data.feature_names, "sums_sha256": digest, **options})


def _gradient_descent(data, step, tol, max_iter, on_iteration, start, checkpoint=None,
                      resume=False) -> RegressionResult:
    passes = 0
    zero = np.zeros(len(data.feature_names) + 1)
    if step == "auto":
        stats = _normal_sums(data, zero)
        passes += 1
        step = 1.0 / wols.largest_eigenvalue(stats.hessian / stats.weight_sum)
    step = float(step)
    if not np.isfinite(step) or step <= 0:
        raise InputError(f"{{param}} must be 'auto' or a rate > 0, got {step}", param="step")
    result = run(data.blocks, gd_family(step, tol), zero, max_iter, on_iteration, checkpoint,
                 resume)
    W = result.params
    check = ops.aggregate(data.blocks, wols.gradient_stats, add_fields, W)
    history = [h.objective for h in result.history] + [check.loss]
    return _result("gd", W, result.n_iter, passes + result.n_iter + 1, check.loss, check.gradient,
                   result.converged, start, step, history)


def _result(solver, W, n_iter, passes, loss, gradient, converged, start, step, history):
    return RegressionResult(solver, np.asarray(W[1:]), float(W[0]), n_iter, passes, float(loss),
                            float(np.linalg.norm(gradient)), converged,
                            time.perf_counter() - start, step, [float(v) for v in history])


def local_sample_fit(data: RegressionData, fraction: float = 0.01, seed: int = 0) -> dict:
    """Weighted least squares on a ``fraction`` sample fitted on the driver (as the original
    experiment did with scikit-learn), by √w scaling and ``lstsq``."""
    values = ops.sample_rows(data.blocks, fraction * data.n_rows, data.n_rows, seed)
    if len(values) < len(data.feature_names) + 1:
        return {"rows": int(len(values)), "intercept": None, "coefficients": None}
    W = wols.reference_fit(values[:, 2:], values[:, wols.LABEL], values[:, wols.WEIGHT])
    return {"rows": int(len(values)), "intercept": float(W[0]), "coefficients": W[1:].tolist()}
