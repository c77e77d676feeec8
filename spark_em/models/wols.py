"""Weighted least squares on cached blocks of [label, weight, features] rows: four solvers.

- ``qr`` (the default): one pass of TSQR (equation 15), the solution by a triangular solve,
  and the inference of ``wols_inference`` (a robust covariance takes one more pass). Accurate
  to about 16 − log10(cond(√W X)) digits, as far as the data allow.
- ``normal``: one pass for XᵀWX and XᵀWy, one solve (equation 14). Forming XᵀWX squares the
  condition number: digits are lost twice as fast as with ``qr`` (none left at cond ≈ 1e8).
- ``newton``: one pass for the gradient and Hessian at W₀ = 0, one Newton step (exact: f is
  quadratic), and a second pass that confirms the gradient is ~0 at the result; as accurate as
  ``normal``.
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
from spark_em.models import codec, wols_inference
from spark_em.models.wols_inference import COV_TYPES

SOLVERS = ("qr", "newton", "normal", "gd")
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
    fit_intercept: bool = True
    inference: dict | None = None  # qr: ``wols_inference.summary`` and the options behind it

    def summary(self) -> dict:
        return dict(solver=self.solver, coefficients=self.coefficients.tolist(),
                    intercept=self.intercept, n_iter=self.n_iter, passes=self.passes,
                    loss=self.loss, gradient_norm=self.gradient_norm, converged=self.converged,
                    seconds=round(self.seconds, 4), step=self.step,
                    fit_intercept=self.fit_intercept)

    def model_record(self, feature_names: list[str]) -> dict:
        """What ``model.json`` holds."""
        return {"features": feature_names, "intercept": self.intercept,
                "coefficients": self.coefficients.tolist(), "solver": self.solver,
                "fit_intercept": self.fit_intercept}


def _normal_sums(data: RegressionData, W: np.ndarray) -> wols.NormalStats:
    return ops.aggregate(data.blocks, wols.normal_stats, add_fields, W)


def _solve(hessian: np.ndarray, rhs: np.ndarray, names: list[str]) -> np.ndarray:
    """``names``: the coefficients', the intercept's included."""
    try:
        return wols.solve(hessian, rhs, names)
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


def check_options(solver: str, fit_intercept: bool, reg_param: float, cov_type: str) -> None:
    check_solver(solver)
    if not (np.isfinite(reg_param) and reg_param >= 0):
        raise InputError(f"{{param}} must be a number >= 0, got {reg_param}", param="reg_param")
    if reg_param > 0 and solver != "qr":
        raise InputError(f"{{param}} > 0 (ridge) needs the qr solver, not {solver!r}",
                         param="reg_param")
    if cov_type not in COV_TYPES:
        raise InputError(f"{{param}} must be one of {', '.join(COV_TYPES)}, not {cov_type!r}",
                         param="cov_type")
    if cov_type != "nonrobust" and solver != "qr":
        raise InputError(f"{{param}} {cov_type} (standard errors) needs the qr solver, not "
                         f"{solver!r}", param="cov_type")
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise InputError(f"{{param}} must be true or false, got {fit_intercept!r}",
                         param="fit_intercept")


def fit(data: RegressionData, solver: str = "qr", step="auto", tol: float = GD_TOL,
        max_iter: int = DEFAULT_MAX_ITER, on_iteration: Callable | None = None,
        checkpoint: Checkpoint | None = None, resume: bool = False, fit_intercept: bool = True,
        reg_param: float = 0.0, cov_type: str = "nonrobust",
        alpha: float = 0.05) -> RegressionResult:
    """Fit by ``solver``; ``step`` is ``"auto"`` or a learning rate (gd only). gd saves its
    state after every pass to a ``checkpoint`` (``checkpoint_for``) and with ``resume``
    continues from it. ``qr`` alone takes ``reg_param`` (ridge, ``wols_inference.solve``) and
    ``cov_type`` (nonrobust, HC0–HC3), and reports the inference, with intervals at
    1 − ``alpha``."""
    check_options(solver, fit_intercept, reg_param, cov_type)
    start = time.perf_counter()
    zero = np.zeros(len(data.feature_names) + int(fit_intercept))
    if solver == "qr":
        return _fit_qr(data, fit_intercept, reg_param, cov_type, alpha, start)
    names = ["intercept", *data.feature_names] if fit_intercept else data.feature_names
    if solver in ("normal", "newton"):
        stats = _normal_sums(data, zero)
        if solver == "normal":
            W = _solve(stats.hessian, stats.xwy, names)
            # f(W) from the same sums: ½ Σwy² − W·XᵀWy + ½ WᵀXᵀWX W  (2·f(0) = Σwy²)
            loss = stats.loss - W @ stats.xwy + 0.5 * W @ stats.hessian @ W
            gradient = stats.hessian @ W - stats.xwy
            return _result(solver, W, 1, 1, loss, gradient, True, start, None, [stats.loss],
                           fit_intercept)
        W = zero - _solve(stats.hessian, stats.gradient, names)  # one Newton step
        check = ops.aggregate(data.blocks, wols.gradient_stats, add_fields, W)
        return _result(solver, W, 1, 2, check.loss, check.gradient, True, start, None,
                       [stats.loss, check.loss], fit_intercept)
    return _gradient_descent(data, zero, step, tol, max_iter, on_iteration, start, checkpoint,
                             resume)


def checkpoint_for(directory, data: RegressionData, **options) -> Checkpoint:
    """A ``Checkpoint`` of gradient descent on ``data`` (fingerprinted by one pass of its
    sums) with these options."""
    sums = _normal_sums(data, np.zeros(len(data.feature_names) + 1))
    digest = hashlib.sha256(np.concatenate([np.ravel(sums.hessian), sums.xwy, [sums.loss, sums.weight_sum]])
                            .astype(np.float64).tobytes()).hexdigest()
    return Checkpoint(directory, {"model": "wols-gd", "n_rows": data.n_rows,
                                  "features": data.feature_names, "sums_sha256": digest, **options})


def _gradient_descent(data, zero, step, tol, max_iter, on_iteration, start, checkpoint=None,
                      resume=False) -> RegressionResult:
    passes = 0
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
                   result.converged, start, step, history, len(zero) > len(data.feature_names))


def _fit_qr(data: RegressionData, intercept: bool, reg_param: float, cov_type: str,
            alpha: float, start: float) -> RegressionResult:
    totals = ops.aggregate(data.blocks, wols.qr_stats, wols.add_qr, intercept)
    names = ["intercept", *data.feature_names] if intercept else data.feature_names
    try:
        solution = wols_inference.solve(totals, data.feature_names, intercept, reg_param)
    except np.linalg.LinAlgError as exc:
        raise InputError(str(exc)) from None
    passes, meat = 1, None
    if cov_type != "nonrobust":
        residuals = ops.aggregate(data.blocks, wols.residual_stats, add_fields,
                                  (solution.params, solution.R_inv, intercept,
                                   wols_inference.HC_POWER[cov_type]))
        passes, meat = 2, residuals.meat
    cov = wols_inference.covariance(solution, cov_type, meat)
    inference = dict(wols_inference.summary(solution, cov, cov_type != "nonrobust", alpha),
                     names=names, cov_type=cov_type, alpha=alpha, reg_param=reg_param,
                     n_rows=totals.n_rows, n_positive_weight=solution.n, covariance=cov)
    # f and ∇f from R̃: Σ w (xW − y)² = ‖R̃ [W; −1]‖², ∇f = (R̃ᵀ R̃ [W; −1]) without its last entry
    residual = totals.factor @ np.r_[solution.params, -1.0]
    gradient = (totals.factor.T @ residual)[:-1]
    return _result("qr", solution.params, 1, passes, 0.5 * solution.rss, gradient, True, start,
                   None, [0.5 * solution.rss], intercept, inference)


def _result(solver, W, n_iter, passes, loss, gradient, converged, start, step, history,
            intercept=True, inference=None):
    coefficients, constant = (W[1:], float(W[0])) if intercept else (W, 0.0)
    return RegressionResult(solver, np.asarray(coefficients), constant, n_iter, passes,
                            float(loss), float(np.linalg.norm(gradient)), converged,
                            time.perf_counter() - start, step, [float(v) for v in history],
                            intercept, inference)


def local_sample_fit(data: RegressionData, fraction: float = 0.01, seed: int = 0) -> dict:
    """Weighted least squares on a ``fraction`` sample fitted on the driver (as the original
    experiment did with scikit-learn), by √w scaling and ``lstsq``."""
    values = ops.sample_rows(data.blocks, fraction * data.n_rows, data.n_rows, seed)
    if len(values) < len(data.feature_names) + 1:
        return {"rows": int(len(values)), "intercept": None, "coefficients": None}
    W = wols.reference_fit(values[:, 2:], values[:, wols.LABEL], values[:, wols.WEIGHT])
    return {"rows": int(len(values)), "intercept": float(W[0]), "coefficients": W[1:].tolist()}
