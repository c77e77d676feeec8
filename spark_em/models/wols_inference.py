"""What a weighted least-squares fit by TSQR reports: the solution from the triangle R̃
(``kernels.wols``, equations 15–16), its rank, and the inference, with statsmodels WLS's
definitions under MLlib's names where MLlib has the quantity.

n is the number of rows with a positive weight, q the number of coefficients (the intercept
first when there is one), RSS = Σ w e² and TSS = Σ w (y − ȳ_w)² around the weighted mean (Σ w y²
without an intercept, as statsmodels does).

Rank: the columns of R are scaled to unit length (equilibration: a column's scale does not
count) and the design is refused when the smallest singular value of the scaled R is at most
max(q, 10)·ε of the largest: at double precision those columns are exactly dependent. Anything
above that is solved, however ill-conditioned, and ``condition_number`` reports cond(√W X)
(statsmodels' definition, the ratio of the extreme singular values of the weighted design).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, stats

from spark_em.kernels import wols

COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3")
# the power of 1/(1 − h) in each robust covariance's middle
HC_POWER = {"HC0": 0, "HC1": 0, "HC2": 1, "HC3": 2}
RANK_EPS = float(np.finfo(np.float64).eps)


@dataclass
class Solution:
    """The weighted least-squares solution and what the inference is made of."""

    params: np.ndarray  # W, the intercept first when there is one
    R_inv: np.ndarray  # R⁻¹: (RᵀR)⁻¹ = R⁻¹R⁻ᵀ
    rss: float
    tss: float
    intercept: bool
    n: int  # rows with w > 0
    weight_sum: float
    log_weight_sum: float
    condition_number: float
    reg_param: float

    @property
    def q(self) -> int:
        return len(self.params)

    @property
    def df_resid(self) -> int:
        return self.n - self.q


def singular_design(message: str) -> np.linalg.LinAlgError:
    return np.linalg.LinAlgError(f"the design is singular: {message}")


def _check_rank(R: np.ndarray, names: list[str], intercept: bool, n_positive: int) -> float:
    """Raises for a design that is rank deficient at double precision, naming the columns and
    the cause; returns cond(R)."""
    q = R.shape[0]
    if n_positive < q:
        raise singular_design(
            f"all the weight is on {n_positive} rows, fewer than the {q} coefficients"
        )
    norms = np.linalg.norm(R, axis=0)
    if np.any(norms == 0):
        zero = [names[i] for i in np.flatnonzero(norms == 0)]
        raise singular_design(f"{', '.join(zero)} is 0 on every row with weight")
    _, scaled, vt = np.linalg.svd(R / norms)
    if scaled[-1] <= max(q, 10) * RANK_EPS * scaled[0]:
        weights = np.abs(vt[-1])
        involved = [i for i in np.argsort(-weights) if weights[i] > 0.1 * weights.max()]
        if intercept and len(involved) == 2 and 0 in involved:
            other = names[max(involved)]
            raise singular_design(f"{other} is constant (collinear with the intercept)")
        listed = [names[i] for i in sorted(involved)]
        raise singular_design(
            f"{', '.join(listed[:-1])} and {listed[-1]} are collinear (one "
            f"is a linear combination of the others)"
        )
    singular = np.linalg.svd(R, compute_uv=False)
    return float(singular[0] / singular[-1])


def solve(
    totals: wols.QRStats, names: list[str], intercept: bool, reg_param: float = 0.0
) -> Solution:
    """W from R̃ (raises ``np.linalg.LinAlgError`` for a rank-deficient design). With
    ``reg_param`` λ > 0 the solution minimises Σ w e² + λ·Σw·‖β‖² over the features'
    coefficients (the intercept is not penalised), by √(λΣw) rows appended to R̃ and factored
    again; that is the objective (1/2Σw) Σ w e² + (λ/2)‖β‖² on the raw features and label
    (MLlib standardises the label, and by default the features, before it penalises). A
    ridge design may be collinear or have more features than rows."""
    full = totals.factor
    q = full.shape[0] - 1
    columns = (["intercept"] if intercept else []) + list(names)
    R = full[:q, :q]
    if (
        reg_param > 0
    ):  # the penalty makes the features' part definite: only the intercept needs data
        if totals.n_positive == 0 or (intercept and R[0, 0] == 0):
            raise singular_design("no row has a positive weight")
        singular = np.linalg.svd(R, compute_uv=False)
        condition = float(singular[0] / singular[-1]) if singular[-1] > 0 else float("inf")
    else:
        condition = _check_rank(R, columns, intercept, totals.n_positive)
    z = full[:q, q]
    tss = float(z[1:] @ z[1:] if intercept else z @ z) + full[q, q] ** 2
    factor = full
    if reg_param > 0:
        penalty = np.zeros((q - intercept, q + 1))
        penalty[:, intercept:q] = np.sqrt(reg_param * totals.weight_sum) * np.eye(q - intercept)
        factor = wols.triangle(np.vstack([full, penalty]))
    R_inv = linalg.solve_triangular(factor[:q, :q], np.eye(q))
    params = R_inv @ factor[:q, q]
    if reg_param > 0:
        residual = full @ np.r_[params, -1.0]  # ‖R̃ [W; −1]‖² = Σ w (x W − y)²
        rss = float(residual @ residual)
    else:
        rss = float(full[q, q] ** 2)
    return Solution(
        params,
        R_inv,
        rss,
        tss,
        intercept,
        totals.n_positive,
        totals.weight_sum,
        totals.log_weight_sum,
        condition,
        reg_param,
    )


def covariance(
    solution: Solution, cov_type: str = "nonrobust", meat: np.ndarray | None = None
) -> np.ndarray:
    """Covariance of W: σ²(RᵀR)⁻¹ (σ² = RSS/(n − q)), or the sandwich
    (RᵀR)⁻¹ M (RᵀR)⁻¹ with the middle M of ``kernels.wols.residual_stats`` (times
    n/(n − q) for HC1), as statsmodels' ``get_robustcov_results``."""
    bread = solution.R_inv @ solution.R_inv.T
    df = solution.df_resid
    if cov_type == "nonrobust":
        return bread * (solution.rss / df if df > 0 else np.nan)
    if meat is None:
        raise ValueError("a robust covariance needs the pass over the residuals")
    sandwich = bread @ meat @ bread
    if cov_type == "HC1":
        return sandwich * (solution.n / df if df > 0 else np.nan)
    return sandwich


def summary(solution: Solution, cov: np.ndarray, robust: bool, alpha: float = 0.05) -> dict:
    """Standard errors, t and p values, confidence intervals (1 − ``alpha``), R², adjusted R²,
    the F test, log-likelihood, AIC, BIC, RMSE and the residual standard error. A ridge fit
    (λ > 0) reports no standard errors, tests or intervals: they would not hold."""
    n, q, df = solution.n, solution.q, solution.df_resid
    k_const = int(solution.intercept)
    r2 = 1.0 - solution.rss / solution.tss if solution.tss > 0 else float("nan")
    with np.errstate(divide="ignore"):  # an exact fit: RSS = 0, log-likelihood +∞
        llf = (
            -0.5 * n * np.log(solution.rss)
            - 0.5 * n * (1.0 + np.log(np.pi / (0.5 * n)))
            + 0.5 * solution.log_weight_sum
        )
    out = {
        "coefficients": solution.params,
        "degrees_of_freedom": df,
        "r2": r2,
        "r2_adj": 1.0 - (n - k_const) / df * (1.0 - r2) if df > 0 else float("nan"),
        "rmse": float(np.sqrt(solution.rss / solution.weight_sum)),
        "residual_standard_error": float(np.sqrt(solution.rss / df)) if df > 0 else float("nan"),
        "log_likelihood": float(llf),
        "aic": float(-2 * llf + 2 * q),
        "bic": float(-2 * llf + np.log(n) * q),
        "condition_number": solution.condition_number,
        "standard_errors": None,
        "t_values": None,
        "p_values": None,
        "confidence_intervals": None,
        "f_statistic": None,
        "f_p_value": None,
    }
    if solution.reg_param > 0 or df <= 0:
        return out
    se = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = solution.params / se
    out.update(
        standard_errors=se,
        t_values=t,
        p_values=2 * stats.t.sf(np.abs(t), df),
        confidence_intervals=confidence_intervals(solution.params, se, df, alpha),
    )
    df_model = q - k_const
    if df_model > 0:
        if robust:  # the Wald test that every coefficient but the intercept is 0
            b, V = solution.params[k_const:], cov[k_const:, k_const:]
            # the pseudo-inverse, as statsmodels' wald_test: V may be singular (a zero middle)
            f = (
                float(b @ np.linalg.pinv(V) @ b) / df_model
                if np.all(np.isfinite(V))
                else float("nan")
            )
        else:
            f = (solution.tss - solution.rss) / df_model / (solution.rss / df)
        out.update(f_statistic=float(f), f_p_value=float(stats.f.sf(f, df_model, df)))
    return out


def confidence_intervals(params, standard_errors, df: int, alpha: float = 0.05) -> np.ndarray:
    """[W − t·se, W + t·se], t the 1 − alpha/2 quantile of Student's t with ``df`` degrees of
    freedom (q × 2)."""
    half = stats.t.ppf(1 - alpha / 2, df) * np.asarray(standard_errors)
    return np.column_stack([np.asarray(params) - half, np.asarray(params) + half])


def evaluation(sums: wols.ResidualStats, intercept: bool) -> dict:
    """Weighted RMSE, MSE, MAE, R² (around the weighted mean with an intercept, around 0
    without) and explained variance Σ w (ŷ − ȳ_w)² / Σw, from a pass of ``residual_stats``
    (NaN throughout when no row has weight)."""
    W = sums.weight_sum
    out = {"numInstances": sums.n_rows, "weightSum": W}
    if W <= 0:
        return dict(
            out,
            rootMeanSquaredError=float("nan"),
            meanSquaredError=float("nan"),
            meanAbsoluteError=float("nan"),
            r2=float("nan"),
            explainedVariance=float("nan"),
        )
    tss = sums.label_spread + (0.0 if intercept else W * sums.label_mean**2)
    shift = sums.fitted_mean - sums.label_mean
    return dict(
        out,
        rootMeanSquaredError=float(np.sqrt(sums.square_error / W)),
        meanSquaredError=sums.square_error / W,
        meanAbsoluteError=sums.abs_error / W,
        r2=1.0 - sums.square_error / tss if tss > 0 else float("nan"),
        explainedVariance=(sums.fitted_spread + W * shift * shift) / W,
    )


def table(out: dict, names: list[str]) -> str:
    """The coefficient table, as statsmodels and R print it, and the fit's figures below."""
    level = 1 - out.get("alpha", 0.05)
    lo, hi = f"[{(1 - level) / 2:.3g}", f"{1 - (1 - level) / 2:.3g}]"
    width = max(12, *(len(n) for n in names))
    lines = [
        f"{'':<{width}} {'coef':>13} {'std err':>12} {'t':>10} {'P>|t|':>10} {lo:>13} {hi:>13}"
    ]
    for i, name in enumerate(names):
        if out["standard_errors"] is None:
            lines.append(f"{name:<{width}} {out['coefficients'][i]:>13.6g}")
            continue
        low, high = out["confidence_intervals"][i]
        lines.append(
            f"{name:<{width}} {out['coefficients'][i]:>13.6g} "
            f"{out['standard_errors'][i]:>12.5g} {out['t_values'][i]:>10.4g} "
            f"{out['p_values'][i]:>10.3g} {low:>13.6g} {high:>13.6g}"
        )
    f = (
        ""
        if out["f_statistic"] is None
        else f"   F {out['f_statistic']:.6g} (p {out['f_p_value']:.3g})"
    )
    lines.append(f"R² {out['r2']:.6g}   adjusted R² {out['r2_adj']:.6g}{f}")
    lines.append(
        f"residual standard error {out['residual_standard_error']:.6g} on "
        f"{out['degrees_of_freedom']} degrees of freedom   log-likelihood "
        f"{out['log_likelihood']:.6g}   AIC {out['aic']:.6g}   BIC {out['bic']:.6g}"
    )
    lines.append(
        f"covariance {out.get('cov_type', 'nonrobust')}   condition number "
        f"{out['condition_number']:.4g}"
    )
    return "\n".join(lines)


def finite_or_none(value):
    """``value`` with arrays as lists and every non-finite number (a NaN R² of a constant
    label, an infinite log-likelihood of an exact fit) as None: strict JSON."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value


def as_json(out: dict) -> dict:
    """The summary, JSON-ready (``finite_or_none``)."""
    return {k: finite_or_none(v) for k, v in out.items()}
