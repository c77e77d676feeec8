"""Weighted least squares by TSQR against independent references: NIST's certified values,
extended-precision solutions (mpmath, 50 digits) of ill-conditioned designs, statsmodels WLS
for the inference, and the ridge's closed form."""

from __future__ import annotations

import functools

import mpmath
import numpy as np
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose

from spark_em.kernels import wols
from spark_em.models import wols_inference as inference
from tests.helpers import nist_strd


def design(values, intercept=True):
    """(X, y, w) of the tests' rows [label, weight, features], written out here."""
    X = values[:, 2:]
    if intercept:
        X = np.column_stack([np.ones(len(values)), X])
    return X, values[:, 0], values[:, 1]


def rows_and_weights(values):
    """The tests' rows [label, weight, features] as a block holds them: [label, features],
    and the weights apart."""
    return np.delete(values, 1, axis=1), values[:, 1]


def tsqr(values, intercept=True, block_rows=10_000):
    """The pass's sums, block by block, combined as ``treeAggregate`` would."""
    return functools.reduce(
        wols.add_qr,
        [
            wols.qr_stats(rows, intercept, w)
            for rows, w in (
                rows_and_weights(values[i : i + block_rows])
                for i in range(0, len(values), block_rows)
            )
        ],
    )


def fitted(values, intercept=True, cov_type="nonrobust", block_rows=10_000, reg_param=0.0):
    names = [f"x{i}" for i in range(1, values.shape[1] - 1)]
    solution = inference.solve(tsqr(values, intercept, block_rows), names, intercept, reg_param)
    meat = None
    if cov_type != "nonrobust":
        meat = functools.reduce(
            _add,
            [
                wols.residual_stats(
                    rows_and_weights(values[i : i + block_rows])[0],
                    (solution.params, solution.R_inv, intercept, inference.HC_POWER[cov_type]),
                    rows_and_weights(values[i : i + block_rows])[1],
                )
                for i in range(0, len(values), block_rows)
            ],
        ).meat
    cov = inference.covariance(solution, cov_type, meat)
    return solution, inference.summary(solution, cov, cov_type != "nonrobust")


def _add(a, b):
    return type(a)(*(x + y for x, y in zip(a, b)))


def digits(got, want):
    """Significant digits of agreement (relative to |want|; absolute where want is 0)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    error = np.abs(got - want) / np.where(want != 0, np.abs(want), 1.0)
    return float(-np.log10(max(error.max(), 1e-17)))


# Digits of the estimates LAPACK's Householder QR reaches on each set (bounded by
# cond·ε and, where the residuals are large, by cond²·ε·‖r‖/(‖A‖‖W‖)), and of the rest.
# Filip (cond ≈ 5e9 with its columns scaled) keeps 6.4 to 6.9 digits depending on the order in
# which the CPU's BLAS sums: the bound is the guaranteed part. Wampler3 (cond 6.4e6, large
# residuals) keeps 8.8 digits by geqrf and 9.1 by geqrt: rounding, inside the same bound.
NIST_ESTIMATE_DIGITS = {
    "Filip": 6.0,
    "Pontius": 11,
    "Wampler1": 8.5,
    "Wampler2": 12,
    "Wampler3": 8.5,
    "Wampler4": 7,
    "Wampler5": 5,
    "NoInt1": 14,
}


@pytest.mark.parametrize("name", sorted(NIST_ESTIMATE_DIGITS))
@pytest.mark.parametrize("block_rows", [5, 10_000])
def test_nist_certified_values(name, block_rows):
    data = nist_strd.datasets()[name]
    values = nist_strd.values_of(data.degree, data.y, data.x)
    solution, out = fitted(values, data.intercept, block_rows=block_rows)
    assert digits(solution.params, data.estimates) >= NIST_ESTIMATE_DIGITS[name]
    scale = np.abs(data.estimates).max()  # the exact fits (Wampler1, 2) certify 0
    assert_allclose(out["standard_errors"], data.standard_deviations, rtol=2e-7, atol=1e-8 * scale)
    assert out["residual_standard_error"] == pytest.approx(
        data.residual_standard_deviation, rel=1e-7, abs=1e-8 * scale
    )
    if data.r_squared is not None:
        assert out["r2"] == pytest.approx(data.r_squared, abs=1e-9)


def mp_reference(values, intercept=True):
    """The weighted least-squares solution at 50 digits (normal equations in mpmath: squaring
    the condition number costs nothing at that precision)."""
    mpmath.mp.dps = 50
    X, y, w = design(values, intercept)
    A = mpmath.matrix((X * w[:, None]).T.tolist())
    G = A * mpmath.matrix(X.tolist())
    b = A * mpmath.matrix(y.tolist())
    return np.array([float(v) for v in mpmath.lu_solve(G, b)])


def ill_conditioned(kind, rng):
    n = 300
    w = rng.uniform(0.5, 2.0, n)
    if kind == "polynomial degree 10":
        x = rng.uniform(0.0, 1.0, n)
        X = np.column_stack([x**k for k in range(1, 11)])
    elif kind == "polynomial degree 7 on [1, 2]":
        x = rng.uniform(1.0, 2.0, n)
        X = np.column_stack([x**k for k in range(1, 8)])
    elif kind == "near-collinear":
        a = rng.normal(size=n)
        X = np.column_stack([a, a + 1e-7 * rng.normal(size=n), rng.normal(size=n)])
    else:  # columns scaled 1e-6 … 1e6, two of them nearly collinear
        a = rng.normal(size=n)
        X = np.column_stack(
            [a * 1e-6, (a + 1e-6 * rng.normal(size=n)) * 1e6, rng.normal(size=n) * 1e3]
        )
    beta = rng.normal(size=X.shape[1]) / np.abs(X).max(axis=0)
    y = 1.0 + X @ beta + rng.normal(0, 1e-3, n)
    return np.column_stack([y, w, X])


@pytest.mark.parametrize(
    "kind",
    ["polynomial degree 10", "polynomial degree 7 on [1, 2]", "near-collinear", "scaled columns"],
)
def test_ill_conditioned_designs_keep_their_digits(kind):
    values = ill_conditioned(kind, np.random.default_rng(len(kind)))
    want = mp_reference(values)
    solution, _ = fitted(values, block_rows=64)
    assert digits(solution.params, want) >= 7
    X, y, w = design(values)
    normal = np.linalg.solve((X * w[:, None]).T @ X, (X * w[:, None]).T @ y)
    assert digits(normal, want) < 3  # the normal equations, on the same data


def heteroscedastic(rng, n=400, p=3, intercept=True):
    X = rng.normal(size=(n, p)) * [1.0, 3.0, 0.5][:p]
    w = rng.lognormal(0.0, 0.7, n)
    y = (
        (1.5 if intercept else 0.0)
        + X @ np.array([2.0, -0.5, 1.0][:p])
        + rng.normal(size=n) * (0.5 + np.abs(X[:, 0]))
    )
    return np.column_stack([y, w, X])


@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("cov_type", inference.COV_TYPES)
def test_inference_equals_statsmodels_wls(intercept, weighted, cov_type):
    rng = np.random.default_rng(int(intercept) + 2 * int(weighted))
    values = heteroscedastic(rng, intercept=intercept)
    if not weighted:
        values[:, 1] = 1.0
    X, y, w = design(values, intercept)
    ref = sm.WLS(y, X, weights=w).fit(cov_type=cov_type, use_t=True)  # Student t, as ours
    solution, out = fitted(values, intercept, cov_type, block_rows=97)
    assert_allclose(solution.params, ref.params, rtol=1e-10)
    for ours, theirs in (
        ("standard_errors", ref.bse),
        ("t_values", ref.tvalues),
        ("p_values", ref.pvalues),
        ("confidence_intervals", ref.conf_int()),
        ("r2", ref.rsquared),
        ("r2_adj", ref.rsquared_adj),
        ("f_statistic", ref.fvalue),
        ("f_p_value", ref.f_pvalue),
        ("log_likelihood", ref.llf),
        ("aic", ref.aic),
        ("bic", ref.bic),
        ("condition_number", ref.condition_number),
    ):
        assert_allclose(out[ours], theirs, rtol=1e-8, atol=1e-300, err_msg=ours)
    assert out["degrees_of_freedom"] == ref.df_resid
    assert out["residual_standard_error"] == pytest.approx(np.sqrt(ref.scale), rel=1e-10)


def test_ridge_equals_its_closed_form():
    rng = np.random.default_rng(3)
    values = heteroscedastic(rng)
    X, y, w = design(values)
    for lam in (0.01, 1.0, 50.0):
        penalty = lam * w.sum() * np.diag([0.0, 1.0, 1.0, 1.0])  # the intercept is free
        want = np.linalg.solve((X * w[:, None]).T @ X + penalty, (X * w[:, None]).T @ y)
        solution, out = fitted(values, reg_param=lam, block_rows=50)
        assert_allclose(solution.params, want, rtol=1e-10)
        residual = y - X @ want
        assert solution.rss == pytest.approx(float(w @ residual**2), rel=1e-10)
        assert out["standard_errors"] is None and out["p_values"] is None


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda v: v.__setitem__((slice(None), 3), 7.0),
            r"x2 is constant \(collinear with the intercept\)",
        ),
        (
            lambda v: v.__setitem__((slice(None), 4), 2 * v[:, 2] - v[:, 3]),
            r"x1, x2 and x3 are collinear \(one is a linear combination of the others\)",
        ),
        (lambda v: v.__setitem__((slice(None), 2), 0.0), r"x1 is 0 on every row with weight"),
        (
            lambda v: v.__setitem__((slice(3, None), 1), 0.0),
            r"all the weight is on 3 rows, fewer than the 4 coefficients",
        ),
    ],
)
def test_rank_deficient_designs_name_columns_and_cause(make, message):
    values = heteroscedastic(np.random.default_rng(8), n=60)
    make(values)
    with pytest.raises(np.linalg.LinAlgError, match=message):
        fitted(values, block_rows=16)


def test_a_constant_column_without_intercept_is_a_regressor():
    values = heteroscedastic(np.random.default_rng(9), intercept=False)
    values[:, 3] = 1.0
    X, y, w = design(values, False)
    solution, _ = fitted(values, intercept=False)
    assert_allclose(solution.params, sm.WLS(y, X, weights=w).fit().params, rtol=1e-10)


def test_edge_cases_give_numbers_or_nan_never_a_crash():
    rng = np.random.default_rng(11)
    # as many rows with weight as coefficients: an exact fit, no degrees of freedom left
    values = heteroscedastic(rng, n=4)
    solution, out = fitted(values)
    assert solution.df_resid == 0 and out["standard_errors"] is None
    assert np.isnan(inference.covariance(solution)).all()
    # labels all 0: R² undefined, an exact fit; strict JSON turns those into None
    values = heteroscedastic(rng, n=50)
    values[:, 0] = 0.0
    solution, out = fitted(values, cov_type="HC0")  # a zero middle: the Wald F by pseudo-inverse
    json_ready = inference.as_json(out)
    assert json_ready["r2"] is None and json_ready["log_likelihood"] is None
    import json

    json.dumps(json_ready, allow_nan=False)
    # a column non-zero on one row only: that row's leverage is 1, HC3 is not defined there
    values = heteroscedastic(rng, n=50)
    values[:, 4] = 0.0
    values[7, 4] = 1.0
    _, out = fitted(values, cov_type="HC3")
    assert np.isnan(out["standard_errors"][3]) and np.isnan(out["f_statistic"])


def test_evaluation_keeps_its_digits_on_labels_far_from_zero():
    rng = np.random.default_rng(12)
    values = heteroscedastic(rng, n=600)
    values[:, 0] += 1e8
    solution, _ = fitted(values, block_rows=64)
    sums = functools.reduce(
        wols.add_residuals,
        [
            wols.residual_stats(
                rows_and_weights(values[i : i + 64])[0],
                (solution.params, None, True, 0),
                rows_and_weights(values[i : i + 64])[1],
            )
            for i in range(0, len(values), 64)
        ],
    )
    got = inference.evaluation(sums, True)
    X, y, w = design(values)
    fitted_values = X @ solution.params
    mean = np.average(y, weights=w)
    r2 = 1 - w @ (y - fitted_values) ** 2 / (w @ (y - mean) ** 2)
    assert got["r2"] == pytest.approx(r2, rel=1e-9)
    assert got["explainedVariance"] == pytest.approx(
        w @ (fitted_values - mean) ** 2 / w.sum(), rel=1e-9
    )
    assert got["meanAbsoluteError"] == pytest.approx(
        w @ np.abs(y - fitted_values) / w.sum(), rel=1e-9
    )


def test_ridge_fits_designs_least_squares_cannot():
    rng = np.random.default_rng(13)
    values = heteroscedastic(rng, n=40)
    values[:, 4] = values[:, 2] + values[:, 3]  # collinear
    X, y, w = design(values)
    lam = 0.5
    penalty = lam * w.sum() * np.diag([0.0, 1.0, 1.0, 1.0])
    want = np.linalg.solve((X * w[:, None]).T @ X + penalty, (X * w[:, None]).T @ y)
    solution, _ = fitted(values, reg_param=lam, block_rows=16)
    assert_allclose(solution.params, want, rtol=1e-9)
