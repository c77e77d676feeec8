"""Weighted least squares on cached blocks of [label, weight, features] rows: four solvers.

- ``qr`` (the default): one pass of TSQR (equation 15), the solution by a triangular solve,
  and the inference of ``wols_inference`` (a robust covariance takes one more pass). Accurate
  to about 16 − log10(cond(√W X)) digits, as far as the data allow.
- ``normal``: one pass for XᵀWX and XᵀWy, one solve (equation 14). Forming XᵀWX squares the
  condition number: digits are lost twice as fast as with ``qr`` (none left at cond ≈ 1e8).
- ``newton``: one pass for the gradient and Hessian at W₀ = 0, one Newton step (exact: f is
  quadratic), and a second pass that confirms the gradient is ~0 at the result; as accurate as
  ``normal``.
- ``gd``: gradient descent on f(W)/Σw (so a rate means the same on any amount of data).
  With ``step="auto"`` (the default) it is preconditioned: one extra pass gives the weighted
  means and standard deviations of the features, the descent runs on the standardised
  features (as MLlib does) with the step 1/L of their Hessian, and the coefficients are mapped
  back; a fixed ``step`` is the classic method on the raw features. The default stopping rule
  (``stop="gradient"``) measures optimality: ‖∇‖ ≤ tol·‖∇ at W₀ = 0‖ (tol 1e-9; the gradient
  of the standardised problem when preconditioned). ``stop="classic"`` is the rule of the
  original MapReduce experiment, ‖W_new − W_old‖² < tol (tol 1e-5), which stops wherever
  progress is slow; a run is reported converged only when its final gradient is below 1e-4 of
  the first, whatever rule stopped it. Plain gd needs about cond(XᵀWX) iterations.

Kernels are in ``spark_em.kernels.wols``; the data come from ``spark_em.io.table`` (files and
DataFrames) or ``spark_em.io.synthetic.wols_experiment``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

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
GD_STOPS = ("gradient", "classic")
GD_TOL = {"gradient": 1e-9, "classic": 1e-5}
# gd reports ``converged`` only when its final gradient is at most this fraction of the first
SMALL_GRADIENT = 1e-4


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
    stop: str | None = None  # gd: the stopping rule
    relative_gradient: float | None = None  # gd: final ‖∇‖ / first ‖∇‖ (scaled when preconditioned)

    def summary(self) -> dict:
        """What the job's metrics hold of the fit (non-finite numbers as None)."""
        return wols_inference.as_json(
            dict(
                solver=self.solver,
                coefficients=self.coefficients.tolist(),
                intercept=self.intercept,
                n_iter=self.n_iter,
                passes=self.passes,
                loss=self.loss,
                gradient_norm=self.gradient_norm,
                converged=self.converged,
                seconds=round(self.seconds, 4),
                step=self.step,
                fit_intercept=self.fit_intercept,
                stop=self.stop,
                relative_gradient=self.relative_gradient,
            )
        )

    def model_record(self, feature_names: list[str]) -> dict:
        """What ``model.json`` holds."""
        return {
            "features": feature_names,
            "intercept": self.intercept,
            "coefficients": self.coefficients.tolist(),
            "solver": self.solver,
            "fit_intercept": self.fit_intercept,
        }


def _normal_sums(data: RegressionData, W: np.ndarray) -> wols.NormalStats:
    return ops.aggregate(data.blocks, wols.normal_stats, add_fields, W)


def _solve(hessian: np.ndarray, rhs: np.ndarray, names: list[str]) -> np.ndarray:
    """``names``: the coefficients', the intercept's included."""
    try:
        return wols.solve(hessian, rhs, names)
    except np.linalg.LinAlgError as exc:
        raise InputError(str(exc)) from None


class GDState(NamedTuple):
    """Gradient descent's parameters between passes: W, and the norms of the (scaled) gradient
    at the point the last pass evaluated and at the first (∞ before any pass)."""

    W: np.ndarray
    gradient_norm: float = float("inf")
    first_gradient_norm: float = float("inf")


def _encode_state(state: GDState) -> dict:
    return {
        "W": np.asarray(state.W).tolist(),
        "gradient_norm": state.gradient_norm,
        "first_gradient_norm": state.first_gradient_norm,
    }


def _decode_state(saved) -> GDState:
    return GDState(
        codec.decode_vector(saved["W"]),
        float(saved["gradient_norm"]),
        float(saved["first_gradient_norm"]),
    )


def gd_family(
    step: float, tol: float, stop: str = "classic", scaling: np.ndarray | None = None
) -> Family:
    """Gradient descent on f(W)/Σw with a fixed ``step``. With ``scaling`` T (q×q, the map from
    standardised to raw coefficients) the step is W ← W − step·T Tᵀ ∇f/Σw, gradient descent on
    the standardised problem, whose gradient is Tᵀ∇f/Σw. ``stop``: "gradient" (‖that
    gradient‖ ≤ tol·its first norm) or "classic" (‖W_new − W_old‖² < tol)."""

    def update(stats: wols.GradientStats, state: GDState):
        gradient = stats.gradient / stats.weight_sum
        scaled = gradient if scaling is None else scaling.T @ gradient
        norm = float(np.linalg.norm(scaled))
        first = norm if not np.isfinite(state.first_gradient_norm) else state.first_gradient_norm
        direction = scaled if scaling is None else scaling @ scaled
        return GDState(state.W - step * direction, norm, first), stats.loss

    def moved_less(_new, _old, new: GDState, old: GDState) -> bool:
        return float((new.W - old.W) @ (new.W - old.W)) < tol

    def optimal(_new, _old, new: GDState, _old_state) -> bool:
        return new.gradient_norm <= tol * new.first_gradient_norm

    return Family(
        "wols-gd",
        wols.gradient_stats,
        update,
        converged=optimal if stop == "gradient" else moved_less,
        ship=lambda state: state.W,
        encode=_encode_state,
        decode=_decode_state,
        objective="loss",
    )


def standardising(
    hessian: np.ndarray, weight_sum: float, intercept: bool, names: list[str]
) -> np.ndarray:
    """T with W = T V, V the coefficients on the features standardised by their weighted means
    and standard deviations (by their root mean squares without an intercept), from XᵀWX and
    Σw. A feature with no spread is refused, naming it."""
    if not weight_sum > 0:
        raise InputError("every weight is 0: there is nothing to fit")
    q = hessian.shape[0]
    moments = np.diag(hessian) / weight_sum
    T = np.eye(q)
    if intercept:
        means = hessian[0, 1:] / weight_sum
        spread = np.sqrt(np.maximum(moments[1:] - means**2, 0.0))
    else:
        means, spread = np.zeros(q), np.sqrt(moments)
    flat = spread <= 1e-12 * np.sqrt(np.maximum(moments[int(intercept) :], 1e-300))
    if np.any(flat):
        bad = [names[int(intercept) + i] for i in np.flatnonzero(flat)]
        raise InputError(
            f"the design is singular: {', '.join(bad)} is constant"
            + (" (collinear with the intercept)" if intercept else "")
        )
    if intercept:
        T[0, 1:] = -means / spread
        T[np.arange(1, q), np.arange(1, q)] = 1.0 / spread
    else:
        T = np.diag(1.0 / spread)
    return T


def check_solver(solver: str) -> str:
    if solver not in SOLVERS:
        raise InputError(
            f"{{param}} must be one of {', '.join(SOLVERS)}, not {solver!r}", param="solver"
        )
    return solver


def check_options(solver: str, fit_intercept: bool, reg_param: float, cov_type: str) -> None:
    check_solver(solver)
    if not (np.isfinite(reg_param) and reg_param >= 0):
        raise InputError(f"{{param}} must be a number >= 0, got {reg_param}", param="reg_param")
    if reg_param > 0 and solver != "qr":
        raise InputError(
            f"{{param}} > 0 (ridge) needs the qr solver, not {solver!r}", param="reg_param"
        )
    if cov_type not in COV_TYPES:
        raise InputError(
            f"{{param}} must be one of {', '.join(COV_TYPES)}, not {cov_type!r}", param="cov_type"
        )
    if cov_type != "nonrobust" and solver != "qr":
        raise InputError(
            f"{{param}} {cov_type} (standard errors) needs the qr solver, not {solver!r}",
            param="cov_type",
        )
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise InputError(
            f"{{param}} must be true or false, got {fit_intercept!r}", param="fit_intercept"
        )


def fit(
    data: RegressionData,
    solver: str = "qr",
    step="auto",
    tol: float | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    on_iteration: Callable | None = None,
    checkpoint: Checkpoint | None = None,
    resume: bool = False,
    fit_intercept: bool = True,
    reg_param: float = 0.0,
    cov_type: str = "nonrobust",
    alpha: float = 0.05,
    stop: str = "gradient",
) -> RegressionResult:
    """Fit by ``solver``. For gd: ``step`` is ``"auto"`` (preconditioned) or a learning rate,
    ``stop`` the rule ("gradient" or "classic") and ``tol`` its tolerance (``GD_TOL`` by
    default); gd saves its state after every pass to a ``checkpoint`` (``checkpoint_for``) and
    with ``resume`` continues from it. ``qr`` alone takes ``reg_param`` (ridge,
    ``wols_inference.solve``) and ``cov_type`` (nonrobust, HC0–HC3), and reports the
    inference, with intervals at 1 − ``alpha``."""
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
            return _result(
                solver, W, 1, 1, loss, gradient, True, start, None, [stats.loss], fit_intercept
            )
        W = zero - _solve(stats.hessian, stats.gradient, names)  # one Newton step
        check = ops.aggregate(data.blocks, wols.gradient_stats, add_fields, W)
        return _result(
            solver,
            W,
            1,
            2,
            check.loss,
            check.gradient,
            True,
            start,
            None,
            [stats.loss, check.loss],
            fit_intercept,
        )
    if stop not in GD_STOPS:
        raise InputError(
            f"{{param}} must be one of {', '.join(GD_STOPS)}, not {stop!r}", param="stop"
        )
    tol = GD_TOL[stop] if tol is None else tol
    if not (np.isfinite(tol) and tol >= 0):
        raise InputError(f"{{param}} must be a number >= 0, got {tol}", param="tol")
    return _gradient_descent(
        data, names, zero, step, tol, stop, max_iter, on_iteration, start, checkpoint, resume
    )


def checkpoint_for(directory, data: RegressionData, **options) -> Checkpoint:
    """A ``Checkpoint`` of gradient descent on ``data`` (fingerprinted by one pass of its
    sums) with these options."""
    sums = _normal_sums(data, np.zeros(len(data.feature_names) + 1))
    digest = hashlib.sha256(
        np.concatenate([np.ravel(sums.hessian), sums.xwy, [sums.loss, sums.weight_sum]])
        .astype(np.float64)
        .tobytes()
    ).hexdigest()
    return Checkpoint(
        directory,
        {
            "model": "wols-gd",
            "n_rows": data.n_rows,
            "features": data.feature_names,
            "sums_sha256": digest,
            **options,
        },
    )


def _gradient_descent(
    data, names, zero, step, tol, stop, max_iter, on_iteration, start, checkpoint=None, resume=False
) -> RegressionResult:
    passes, scaling = 0, None
    intercept = len(zero) > len(data.feature_names)
    if step == "auto":
        stats = _normal_sums(data, zero)
        passes += 1
        scaling = standardising(stats.hessian, stats.weight_sum, intercept, names)
        step = 1.0 / wols.largest_eigenvalue(scaling.T @ stats.hessian @ scaling / stats.weight_sum)
    step = float(step)
    if not np.isfinite(step) or step <= 0:
        raise InputError(f"{{param}} must be 'auto' or a rate > 0, got {step}", param="step")
    result = run(
        data.blocks,
        gd_family(step, tol, stop, scaling),
        GDState(zero),
        max_iter,
        on_iteration,
        checkpoint,
        resume,
        label="gd",
    )
    state = result.params
    check = ops.aggregate(data.blocks, wols.gradient_stats, add_fields, state.W)
    gradient = check.gradient / check.weight_sum
    final = float(np.linalg.norm(gradient if scaling is None else scaling.T @ gradient))
    # whatever rule stopped it, a run whose gradient is not small has not converged
    converged = result.converged and final <= SMALL_GRADIENT * state.first_gradient_norm
    history = [h.objective for h in result.history] + [check.loss]
    out = _result(
        "gd",
        state.W,
        result.n_iter,
        passes + result.n_iter + 1,
        check.loss,
        check.gradient,
        converged,
        start,
        step,
        history,
        intercept,
    )
    out.stop = stop
    out.relative_gradient = (
        final / state.first_gradient_norm if state.first_gradient_norm > 0 else 0.0
    )
    return out


def reads_once(solver: str, cov_type: str) -> bool:
    """Whether a fit by ``solver`` with ``cov_type`` reads the data once (qr with the
    model-based covariance): its sums can then come straight from the source
    (``io.table.aggregate_dataframe`` with ``kernels.wols.qr_stats``, ``add_qr`` and the
    intercept flag) into ``fit_qr_sums``, with no blocks cached."""
    return check_solver(solver) == "qr" and cov_type == "nonrobust"


def fit_qr_sums(
    totals: wols.QRStats,
    feature_names: list[str],
    fit_intercept: bool = True,
    reg_param: float = 0.0,
    alpha: float = 0.05,
    start: float | None = None,
) -> RegressionResult:
    """The qr fit (``cov_type="nonrobust"``) from the data's TSQR sums, Σ
    ``kernels.wols.qr_stats`` (with ``fit_intercept``) merged by ``add_qr``: what ``fit`` gives
    for blocks holding the same rows. ``start`` (a ``time.perf_counter()`` reading) is when
    the fit began, for its elapsed time (by default now)."""
    check_options("qr", fit_intercept, reg_param, "nonrobust")
    start = time.perf_counter() if start is None else start
    return _qr_result(totals, feature_names, fit_intercept, reg_param, "nonrobust", alpha, start)


def _fit_qr(
    data: RegressionData,
    intercept: bool,
    reg_param: float,
    cov_type: str,
    alpha: float,
    start: float,
) -> RegressionResult:
    totals = ops.aggregate(data.blocks, wols.qr_stats, wols.add_qr, intercept)

    def residual_pass(solution) -> np.ndarray:
        return ops.aggregate(
            data.blocks,
            wols.residual_stats,
            wols.add_residuals,
            (solution.params, solution.R_inv, intercept, wols_inference.HC_POWER[cov_type]),
        ).meat

    return _qr_result(
        totals, data.feature_names, intercept, reg_param, cov_type, alpha, start, residual_pass
    )


def _qr_result(
    totals: wols.QRStats,
    feature_names: list[str],
    intercept: bool,
    reg_param: float,
    cov_type: str,
    alpha: float,
    start: float,
    residual_pass: Callable | None = None,
) -> RegressionResult:
    """The qr fit from its sums; a robust ``cov_type`` takes ``residual_pass(solution)``, the
    meat of the sandwich from a second pass."""
    names = ["intercept", *feature_names] if intercept else feature_names
    try:
        solution = wols_inference.solve(totals, feature_names, intercept, reg_param)
    except np.linalg.LinAlgError as exc:
        raise InputError(str(exc)) from None
    passes, meat = 1, None
    if cov_type != "nonrobust":
        if residual_pass is None:
            raise ValueError(f"cov_type {cov_type!r} needs a second pass over the data")
        passes, meat = 2, residual_pass(solution)
    cov = wols_inference.covariance(solution, cov_type, meat)
    inference = dict(
        wols_inference.summary(solution, cov, cov_type != "nonrobust", alpha),
        names=names,
        cov_type=cov_type,
        alpha=alpha,
        reg_param=reg_param,
        n_rows=totals.n_rows,
        n_positive_weight=solution.n,
        covariance=cov,
    )
    # f and ∇f from R̃: Σ w (xW − y)² = ‖R̃ [W; −1]‖², ∇f = (R̃ᵀ R̃ [W; −1]) without its last entry
    residual = totals.factor @ np.r_[solution.params, -1.0]
    gradient = (totals.factor.T @ residual)[:-1]
    return _result(
        "qr",
        solution.params,
        1,
        passes,
        0.5 * solution.rss,
        gradient,
        True,
        start,
        None,
        [0.5 * solution.rss],
        intercept,
        inference,
    )


def _result(
    solver,
    W,
    n_iter,
    passes,
    loss,
    gradient,
    converged,
    start,
    step,
    history,
    intercept=True,
    inference=None,
):
    coefficients, constant = (W[1:], float(W[0])) if intercept else (W, 0.0)
    return RegressionResult(
        solver,
        np.asarray(coefficients),
        constant,
        n_iter,
        passes,
        float(loss),
        float(np.linalg.norm(gradient)),
        converged,
        time.perf_counter() - start,
        step,
        [float(v) for v in history],
        intercept,
        inference,
    )


def local_sample_fit(
    data: RegressionData, fraction: float = 0.01, seed: int = 0, fit_intercept: bool = True
) -> dict:
    """Weighted least squares on a ``fraction`` sample fitted on the driver (as the original
    experiment did with scikit-learn) by QR; None for the coefficients when the sample cannot
    determine them (too few rows with weight, or a singular sample)."""
    values, weights = ops.sample_weighted_rows(
        data.blocks, fraction * data.n_rows, data.n_rows, seed
    )
    none = {"rows": int(len(values)), "intercept": None, "coefficients": None}
    if not len(values):
        return none
    try:
        W = wols_inference.solve(
            wols.qr_stats(values, fit_intercept, weights), data.feature_names, fit_intercept
        ).params
    except np.linalg.LinAlgError:
        return none
    if fit_intercept:
        return {"rows": int(len(values)), "intercept": float(W[0]), "coefficients": W[1:].tolist()}
    return {"rows": int(len(values)), "intercept": 0.0, "coefficients": W.tolist()}
