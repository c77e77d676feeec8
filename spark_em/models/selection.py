"""Choosing among runs: the best of several starts, the best of each K, and K by a criterion.

Every choice keeps the first run on ties, in run order, so the choice does not depend on
anything but the runs' order and numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable

from spark_em.errors import InputError

CRITERIA = ("bic", "aic")


def best(runs: Iterable, higher: bool = True, key: Callable = lambda run: run.objective):
    """The run with the highest ``key`` (the lowest, if not ``higher``); the first such."""
    return (max if higher else min)(runs, key=key)


def best_per(runs: Iterable, group: Callable[[object], Hashable], higher: bool = True) -> dict:
    """The best run of each group, groups in the order they first appear."""
    groups: dict = {}
    for run in runs:
        groups.setdefault(group(run), []).append(run)
    return {name: best(members, higher) for name, members in groups.items()}


def best_by(runs: Iterable, criterion: str):
    """The run with the lowest ``criterion`` (``bic`` or ``aic``: lower is better, as in
    scikit-learn and statsmodels); the first such."""
    return best(runs, higher=False, key=lambda run: getattr(run, check_criterion(criterion)))


def check_criterion(criterion: str) -> str:
    if criterion not in CRITERIA:
        raise InputError(
            f"{{param}} must be one of {', '.join(CRITERIA)}, not {criterion!r}", param="criterion"
        )
    return criterion
