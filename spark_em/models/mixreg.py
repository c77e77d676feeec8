"""Mixtures of linear regressions fitted by EM on cached blocks.

The kernels are in ``kernels.mixreg``; this module starts EM from random partitions of the
rows or from K-means clusters (each part's weighted least squares), runs it through the loop
until the relative rule, and keeps the best of several starts. A start whose M-step meets a
component with fewer effective rows than coefficients is dropped, and named if every start
is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from spark_em.engine import ops
from spark_em.engine.loop import (
    DEFAULT_MAX_ITER,
    DEFAULT_TOL,
    Family,
    relative_rule,
    steady_rule,
)
from spark_em.errors import InputError
from spark_em.kernels import mixreg
from spark_em.kernels.mixreg import RegressionMixture
from spark_em.models import codec, selection
from spark_em.models import kmeans as kmeans_model
from spark_em.models.fitting import Run, Start, fit_starts

NAME = "mixreg"
INIT_MODES = ("random", "kmeans")  # random partitions of the rows; K-means clusters on (y, x)


@dataclass(kw_only=True)
class MixRegRun(Run):
    """A fit of the mixture of regressions: its final mixture and the log-likelihood of its
    last E-step (``objective``)."""

    @property
    def mixture(self) -> RegressionMixture:
        return self.params

    @property
    def log_likelihood(self) -> float:
        return self.objective


def family(
    intercept: bool, reg_param: float = 0.0, tol: float = DEFAULT_TOL, gates: int = 0
) -> Family:
    """EM for the mixture of regressions as the loop runs it: the relative rule on the
    log-likelihood; with a gate of ``gates`` covariates (the rows' last columns), one Newton
    step of the gate an iteration, and a log-likelihood that falls by more than the rule's
    tolerance is not convergence (the gate's step is not an exact M-step)."""

    def update(stats, mixture):
        new = mixreg.update(stats, intercept, reg_param, mixture.gate)
        return new, stats.log_likelihood

    return Family(
        NAME,
        mixreg.block_stats,
        update,
        converged=relative_rule(tol) if gates == 0 else steady_rule(tol),
        add=mixreg.add,
        ship=lambda mixture: mixreg.Shipped(mixture, intercept, gates),
        encode=codec.encode_mixreg,
        decode=codec.decode_mixreg,
    )


def gated(mixture: RegressionMixture, gates: int) -> RegressionMixture:
    """``mixture`` with a gate of ``gates`` covariates whose weights are its own on every row
    (the gate's intercepts log π_k/π_1, its slopes 0); unchanged for ``gates`` = 0 or a
    mixture that has a gate."""
    if gates == 0 or mixture.gate is not None:
        return mixture
    gate = np.zeros((len(mixture.weights), gates + 1))
    logs = np.log(np.asarray(mixture.weights, dtype=np.float64))
    gate[:, 0] = logs - logs[0]
    return mixture._replace(gate=gate)


def kmeans_start(
    blocks, k: int, seed: int, intercept: bool, reg_param: float = 0.0, gates: int = 0
) -> RegressionMixture:
    """The M-step of the rows' K-means clusters on (y, x) (k-means++ from ``seed``, K-means
    run to its rule), each row wholly in its cluster: K-means' passes and one more. With a
    gate of ``gates`` covariates, the clusters are of (y, x, z) and the gate starts at their
    weights (``gated``)."""
    centres = kmeans_model.fit(blocks, k, seed, init="kmeans++").params.means
    stats = ops.reduce(
        blocks,
        lambda b: mixreg.assigned_stats(b.values, centres, intercept, b.weights, gates),
        mixreg.add,
    )
    return gated(mixreg.update(stats, intercept, reg_param), gates)


def partition_start(
    blocks, k: int, seed: int, intercept: bool, reg_param: float = 0.0, gates: int = 0
) -> RegressionMixture:
    """The M-step of a random partition of the rows into ``k`` parts (``kernels.mixreg.
    partition_stats``): the same for any partitioning of the data. One pass. With a gate of
    ``gates`` covariates, the gate starts at the parts' weights (``gated``)."""
    stats = ops.reduce(
        blocks,
        lambda b: mixreg.partition_stats(
            b.values, b.offset, (k, seed, intercept, gates), b.weights
        ),
        mixreg.add,
    )
    return gated(mixreg.update(stats, intercept, reg_param), gates)


def check_reg_param(reg_param: float) -> None:
    """A ridge λ is a finite number >= 0."""
    if not (np.isfinite(reg_param) and reg_param >= 0):
        raise InputError(f"{{param}} must be a number >= 0, got {reg_param}", param="reg_param")


def check_gate(k: int, gates: int) -> None:
    """A gate has something to fit only between two components or more."""
    if gates and k < 2:
        raise InputError(
            f"{{param}}: weights that depend on covariates need k >= 2 components, not {k}",
            param="gateCol",
        )


def fit_from(
    blocks,
    start: RegressionMixture,
    intercept: bool = True,
    reg_param: float = 0.0,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
    seed: int = 0,
    gates: int = 0,
) -> MixRegRun:
    """EM from ``start`` until the relative rule (or ``max_iter``); with a gate of ``gates``
    covariates (the rows' last columns), from ``gated(start)``."""
    check_reg_param(reg_param)
    k = len(start.weights)
    check_gate(k, gates)
    (run,) = fit_starts(
        blocks,
        family(intercept, reg_param, tol, gates),
        [Start(k, seed)],
        [gated(start, gates)],
        max_iter,
    )
    return MixRegRun(**run.shared())


def fit(
    blocks,
    k: int,
    seeds: Iterable[int],
    intercept: bool = True,
    reg_param: float = 0.0,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
    init: str = "random",
    gates: int = 0,
) -> MixRegRun:
    """The best (highest log-likelihood) of EM from one start for each seed: a random
    partition of the rows, or the K-means clusters of (y, x) (``init``); a start that meets a
    degenerate component is dropped, and if every one does the last reason is an
    ``InputError``.

    Parameters
    ----------
    blocks
        Cached blocks of rows ``[label, features…]`` (with weights, optionally).
    k : int
        Components (>= 1).
    seeds : iterable of int
        One start per seed.
    intercept : bool, default True
        Whether each component has an intercept.
    reg_param : float, default 0
        The ridge λ of every component's features.
    tol : float, default 1e-6
        The relative change of the log-likelihood at which EM stops.
    max_iter : int, default 1000
        At most this many iterations per start.
    init : {"random", "kmeans"}, default "random"
        Each start from a random partition of the rows (hashed on the row index), or from
        K-means (k-means++ seeded) on the rows' label and features, each row wholly in its
        cluster: the clusters are in the columns' own units, so scale features whose units
        differ much.
    gates : int, default 0
        The rows' last ``gates`` columns are the covariates of a gate (concomitant
        variables): the weights follow them through a multinomial logit, fitted by one
        Newton step an iteration (``kernels.mixreg``, (6)–(7)).

    Returns
    -------
    MixRegRun
        The best start's run.

    Examples
    --------
    >>> from spark_em.engine import ops
    >>> from spark_em.models import mixreg
    >>> blocks = ops.from_array(spark, np.column_stack([y, X]))
    >>> run = mixreg.fit(blocks, 2, range(5))
    >>> run.mixture.coefficients, run.log_likelihood
    """
    if k < 1:
        raise InputError(f"{{param}} must be at least 1, got {k}", param="k")
    if init not in INIT_MODES:
        raise InputError(
            f"{{param}} must be one of {', '.join(INIT_MODES)}, not {init!r}", param="init"
        )
    check_reg_param(reg_param)
    check_gate(k, gates)
    starter = kmeans_start if init == "kmeans" else partition_start
    runs, problem = [], None
    for seed in seeds:
        try:
            start = starter(blocks, k, seed, intercept, reg_param, gates)
            runs.append(fit_from(blocks, start, intercept, reg_param, tol, max_iter, seed, gates))
        except ValueError as exc:
            problem = str(exc)
    if not runs:
        raise InputError(f"no start of the mixture of regressions could be fitted: {problem}")
    return selection.best(runs)


def inference(
    blocks,
    mixture: RegressionMixture,
    intercept: bool = True,
    reg_param: float = 0.0,
    gates: int = 0,
) -> tuple[dict | None, str | None]:
    """The standard errors of every parameter at ``mixture`` from the observed information
    (one pass), as lists: ``coefficients`` (k × q), ``sigmas`` (k), and ``weights`` (k) or,
    with a gate, ``gate`` (k × (m+1)); or None and why there are none (a ridge fit, or an
    information that is not positive definite).

    Parameters
    ----------
    blocks
        The cached blocks the mixture was fitted on.
    mixture : RegressionMixture
        The fitted mixture.
    intercept : bool, default True
        Whether its coefficients start with the intercept.
    reg_param : float, default 0
        The fit's ridge λ: the likelihood's information does not describe a ridge fit.
    gates : int, default 0
        The gate's covariates (the rows' last columns), when the mixture has a gate.

    Returns
    -------
    tuple
        (standard errors or None, the reason there are none or None).

    Examples
    --------
    >>> run = mixreg.fit(blocks, 2, range(5))
    >>> errors, problem = mixreg.inference(blocks, run.mixture)
    """
    if reg_param > 0:
        return None, "standard errors are not given for a ridge fit"
    J = information(blocks, mixture, intercept, gates)
    k, q = mixture.coefficients.shape
    width = None if mixture.gate is None else mixture.gate.shape[1]
    try:
        errors = mixreg.standard_errors(J, k, q, width)
    except ValueError as exc:
        return None, str(exc)
    return {name: np.asarray(v).tolist() for name, v in errors.items()}, None


def z_tests(estimates: dict, errors: dict, alpha: float = 0.05) -> dict:
    """Each coefficient's z value, two-sided p-value (normal) and (1 − ``alpha``) interval,
    and with a gate the same of its coefficients (``gate_`` before each name; the reference
    component's row NaN).

    Parameters
    ----------
    estimates, errors : dict
        ``coefficients`` (k × q; ``codec.encode_mixreg``'s form) and, with a gate, ``gate``,
        and their standard errors (``inference``'s).
    alpha : float, default 0.05
        1 − the intervals' coverage.

    Returns
    -------
    dict
        ``z_values`` and ``p_values`` (k × q) and ``confidence_intervals`` (k × q × 2), as
        lists; with a gate ``gate_z_values``, ``gate_p_values`` and
        ``gate_confidence_intervals`` too.

    Examples
    --------
    >>> mixreg.z_tests(codec.encode_mixreg(run.mixture), errors)["p_values"]
    """
    from scipy.stats import norm

    def tests(values, value_errors, prefix=""):
        values = np.asarray(values, dtype=np.float64)
        value_errors = np.asarray(value_errors, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            z_values = np.where(value_errors > 0, values / value_errors, np.nan)
        half = np.where(value_errors > 0, norm.isf(alpha / 2) * value_errors, np.nan)
        return {
            prefix + "z_values": z_values.tolist(),
            prefix + "p_values": (2.0 * norm.sf(np.abs(z_values))).tolist(),
            prefix + "confidence_intervals": np.stack(
                [values - half, values + half], axis=-1
            ).tolist(),
        }

    out = tests(estimates["coefficients"], errors["coefficients"])
    if "gate" in estimates and "gate" in errors:
        out.update(tests(estimates["gate"], errors["gate"], "gate_"))
    return out


def table(
    estimates: dict,
    errors: dict,
    names: list[str],
    alpha: float = 0.05,
    gate_names: list[str] | None = None,
) -> str:
    """One table per component: coefficient, standard error, z, P>|z| and the (1 − ``alpha``)
    interval of each term, after the component's weight and σ with their errors; with a gate,
    one more table per component but the first (the reference) of the gate's coefficients.

    Parameters
    ----------
    estimates, errors : dict
        ``weights``, ``coefficients`` (k × q), ``sigmas`` and, with a gate, ``gate``
        (``codec.encode_mixreg``'s form), and their standard errors (``inference``'s).
    names : list of str
        The q terms' names (``intercept`` first when the fit has one).
    alpha : float, default 0.05
        1 − the intervals' coverage.
    gate_names : list of str, optional
        The gate's covariates' names (its intercept is named ``intercept``).

    Returns
    -------
    str
        The tables, for printing.

    Examples
    --------
    >>> print(mixreg.table(codec.encode_mixreg(run.mixture), errors, ["intercept", "x"]))
    """
    weights, sigmas = np.asarray(estimates["weights"]), np.asarray(estimates["sigmas"])
    tests = {name: np.asarray(v) for name, v in z_tests(estimates, errors, alpha).items()}
    terms = names + ["intercept", *(gate_names or [])]
    width = max(12, *(len(n) for n in terms))
    low, high = f"[{alpha / 2:g}", f"{1 - alpha / 2:g}]"
    head = f"{'':{width}} {'coef':>11} {'std err':>11} {'z':>9} {'P>|z|':>8} {low:>11} {high:>11}"

    def rows(labels, values, value_errors, z_values, p_values, intervals):
        for name, b, e, z, p, (lo, hi) in zip(
            labels, values, value_errors, z_values, p_values, intervals
        ):
            yield f"{name:{width}} {b:11.4g} {e:11.4g} {z:9.3f} {p:8.3g} {lo:11.4g} {hi:11.4g}"

    lines = []
    for k in range(len(weights)):
        weight = f"weight {weights[k]:.4g}"
        if "weights" in errors:
            weight += f" ({errors['weights'][k]:.3g})"
        else:
            weight = "mean " + weight
        lines.append(f"component {k}: {weight}, sigma {sigmas[k]:.4g} ({errors['sigmas'][k]:.3g})")
        lines.append(head)
        lines.extend(
            rows(
                names,
                np.asarray(estimates["coefficients"], dtype=np.float64)[k],
                np.asarray(errors["coefficients"], dtype=np.float64)[k],
                *(tests[t][k] for t in ("z_values", "p_values", "confidence_intervals")),
            )
        )
        lines.append("")
    if "gate" in estimates:
        gate_terms = ["intercept", *(gate_names or [])]
        for k in range(1, len(weights)):
            lines.append(f"gate of component {k} (log-odds against component 0)")
            lines.append(head)
            lines.extend(
                rows(
                    gate_terms,
                    np.asarray(estimates["gate"], dtype=np.float64)[k],
                    np.asarray(errors["gate"], dtype=np.float64)[k],
                    *(
                        tests["gate_" + t][k]
                        for t in ("z_values", "p_values", "confidence_intervals")
                    ),
                )
            )
            lines.append("")
    return "\n".join(lines).rstrip()


def information(
    blocks, mixture: RegressionMixture, intercept: bool = True, gates: int = 0
) -> np.ndarray:
    """The observed information J of the log-likelihood at ``mixture`` (``kernels.mixreg.
    information_stats``): one pass."""
    return ops.aggregate(
        blocks,
        mixreg.information_stats,
        mixreg.add_information,
        mixreg.Shipped(mixture, intercept, gates),
    )
