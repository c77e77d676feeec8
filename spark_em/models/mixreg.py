"""Mixtures of linear regressions fitted by EM on cached blocks.

The kernels are in ``kernels.mixreg``; this module starts EM from random partitions of the
rows (one pass: each part's weighted least squares), runs it through the loop until the
relative rule, and keeps the best of several starts. A start whose M-step meets a component
with fewer effective rows than coefficients is dropped, and named if every start is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from spark_em.engine import ops
from spark_em.engine.loop import DEFAULT_MAX_ITER, DEFAULT_TOL, Family, relative_rule
from spark_em.errors import InputError
from spark_em.kernels import mixreg
from spark_em.kernels.mixreg import RegressionMixture
from spark_em.models import codec, selection
from spark_em.models.fitting import Run, Start, fit_starts

NAME = "mixreg"


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


def family(intercept: bool, reg_param: float = 0.0, tol: float = DEFAULT_TOL) -> Family:
    """EM for the mixture of regressions as the loop runs it: the relative rule on the
    log-likelihood."""

    def update(stats, _mixture):
        return mixreg.update(stats, intercept, reg_param), stats.log_likelihood

    return Family(
        NAME,
        mixreg.block_stats,
        update,
        converged=relative_rule(tol),
        add=mixreg.add,
        ship=lambda mixture: mixreg.Shipped(mixture, intercept),
        encode=codec.encode_mixreg,
        decode=codec.decode_mixreg,
    )


def partition_start(
    blocks, k: int, seed: int, intercept: bool, reg_param: float = 0.0
) -> RegressionMixture:
    """The M-step of a random partition of the rows into ``k`` parts (``kernels.mixreg.
    partition_stats``): the same for any partitioning of the data. One pass."""
    stats = ops.reduce(
        blocks,
        lambda b: mixreg.partition_stats(b.values, b.offset, (k, seed, intercept), b.weights),
        mixreg.add,
    )
    return mixreg.update(stats, intercept, reg_param)


def fit_from(
    blocks,
    start: RegressionMixture,
    intercept: bool = True,
    reg_param: float = 0.0,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
    seed: int = 0,
) -> MixRegRun:
    """EM from ``start`` until the relative rule (or ``max_iter``)."""
    k = len(start.weights)
    (run,) = fit_starts(
        blocks, family(intercept, reg_param, tol), [Start(k, seed)], [start], max_iter
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
) -> MixRegRun:
    """The best (highest log-likelihood) of EM from a random partition for each seed; a start
    that meets a degenerate component is dropped, and if every one does the last reason is
    an ``InputError``.

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
    max_iter : int, default 100
        At most this many iterations per start.

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
    runs, problem = [], None
    for seed in seeds:
        try:
            start = partition_start(blocks, k, seed, intercept, reg_param)
            runs.append(fit_from(blocks, start, intercept, reg_param, tol, max_iter, seed))
        except ValueError as exc:
            problem = str(exc)
    if not runs:
        raise InputError(f"no start of the mixture of regressions could be fitted: {problem}")
    return selection.best(runs)


def information(blocks, mixture: RegressionMixture, intercept: bool = True) -> np.ndarray:
    """The observed information J of the log-likelihood at ``mixture`` (``kernels.mixreg.
    information_stats``): one pass."""
    return ops.aggregate(
        blocks,
        mixreg.information_stats,
        mixreg.add_information,
        mixreg.Shipped(mixture, intercept),
    )
