"""The iteration loop: one pass over the cached blocks per iteration, for any model family.

Each iteration ships the current parameters of every running start to the executors, sums
the family's per-block statistics with one aggregation (``ops.aggregate``) and hands each
start's sum to the family's update on the driver, then applies the family's stopping rule.
The loop knows nothing of the model: a ``Family`` names everything it needs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from spark_em.engine import ops, progress
from spark_em.errors import InputError
from spark_em.kernels.arrays import add_fields

DEFAULT_TOL = 1e-6
DEFAULT_MAX_ITER = 1000


def relative_rule(tol: float = DEFAULT_TOL) -> Callable:
    """Stop when new − old ≤ tol·|new| (a log-likelihood that has stopped rising)."""
    return lambda new, old, *_params: old is not None and new - old <= tol * abs(new)


def steady_rule(tol: float = DEFAULT_TOL) -> Callable:
    """Stop when |new − old| ≤ tol·|new|: a log-likelihood neither rising nor falling (for a
    step that is not an exact M-step, whose fall is not convergence)."""
    return lambda new, old, *_params: old is not None and abs(new - old) <= tol * abs(new)


def falling_rule(tol: float) -> Callable:
    """Stop when old − new ≤ tol (a cost that has stopped falling by more than ``tol``)."""
    return lambda new, old, *_params: old is not None and old - new <= tol


@dataclass(frozen=True)
class Family:
    """A model family as the loop sees it.

    - ``block_stats(values, shipped) -> stats``: one block's statistics under the parameters
      as shipped;
    - ``update(stats, params) -> (params, objective)``: the new parameters from summed
      statistics, and the number the stopping rule watches (the log-likelihood of the pass
      for EM, the cost for K-means, the loss for gradient descent);
    - ``converged(new, old, new_params, old_params) -> bool``: the stopping rule; ``old`` is
      None after the first pass;
    - ``add(a, b)``: the sum of two statistics (field by field by default);
    - ``ship(params)``: what travels to the executors (the parameters by default; EM adds the
      precision factors, computed once per pass on the driver);
    - ``block_stats_many(values, shipped_list)``: the statistics of several starts at once,
      when the family can share work between them;
    - ``encode(params)`` / ``decode(saved)``: the parameters as JSON and back, for checkpoints;
    - ``objective``: what the objective is called in progress lines.
    """

    name: str
    block_stats: Callable
    update: Callable
    converged: Callable = field(default_factory=relative_rule)
    add: Callable = add_fields
    ship: Callable = lambda params: params  # noqa: E731
    block_stats_many: Callable | None = None
    encode: Callable | None = None
    decode: Callable | None = None
    objective: str = "log-likelihood"


@dataclass
class Iteration:
    """One pass: its number (from 1), objective, relative change and wall seconds."""

    iteration: int
    objective: float
    relative_change: float | None
    seconds: float


@dataclass
class FitResult:
    """Parameters after the last update, the last pass's objective, and the history."""

    params: Any
    objective: float
    n_iter: int
    converged: bool
    history: list[Iteration] = field(default_factory=list)


@dataclass
class RunState:
    """Everything ``run_many`` needs to go on after a pass: what a checkpoint saves.

    ``finished`` maps each start that has stopped to whether it converged."""

    iteration: int
    params: list
    previous: list
    history: list
    finished: dict


def run_many(
    blocks,
    family: Family,
    starts: list,
    max_iter: int = DEFAULT_MAX_ITER,
    on_iteration: Callable[[int, Iteration, Any], None] | None = None,
    checkpoint=None,
    resume: bool = False,
    labels: list[str] | None = None,
) -> list[FitResult]:
    """Fit several starts together: each pass is one job that computes the statistics of every
    start still running; each start stops by its own rule and leaves the pass after that.

    The results are those of fitting each start alone (the same sums, in the same order).
    ``on_iteration(start_index, record, new_params)`` sees every pass of every start; a
    record's seconds are those of the shared pass. With a ``checkpoint``
    (``engine.checkpoint.Checkpoint``) the state is saved after every pass, and ``resume``
    continues from the saved state (its starts replace ``starts``) exactly as if the run had
    not stopped. Every pass of every start is reported to ``engine.progress`` under its label
    in ``labels`` (``start i`` by default).
    """
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    params = list(starts)
    previous: list[float | None] = [None] * len(params)
    history: list[list[Iteration]] = [[] for _ in params]
    results: dict[int, FitResult] = {}
    first = 1
    if checkpoint is not None and resume:
        state = checkpoint.load(family.decode)
        params, previous, history = list(state.params), list(state.previous), state.history
        for i, stopped_converged in state.finished.items():
            results[i] = FitResult(
                params[i],
                history[i][-1].objective,
                history[i][-1].iteration,
                stopped_converged,
                history[i],
            )
        first = state.iteration + 1

    many = family.block_stats_many
    block_stats = family.block_stats

    def stats_of_all(values, shipped, **weights):
        if many is not None:
            return many(values, shipped, **weights)
        return [block_stats(values, p, **weights) for p in shipped]

    add = family.add
    labels = labels or [f"{family.name} start {i}" for i in range(len(params))]

    def add_all(a, b):
        return [add(x, y) for x, y in zip(a, b)]

    for iteration in range(first, max_iter + 1):
        active = [i for i in range(len(params)) if i not in results]
        if not active:
            break
        start = time.perf_counter()
        shipped = [family.ship(params[i]) for i in active]
        sums = ops.aggregate(blocks, stats_of_all, add_all, shipped)
        seconds = time.perf_counter() - start
        for i, stats in zip(active, sums):
            old_params = params[i]
            params[i], value = family.update(stats, old_params)
            value = float(value)
            if not math.isfinite(value):  # never a NaN in a result: stop, saying where
                raise InputError(
                    f"the fit's {family.name} objective became {value} at pass {iteration}: "
                    "the data or the settings (a step too large, say) drive it out of range"
                )
            old = previous[i]
            change = None if old is None or value == 0 else (value - old) / abs(value)
            history[i].append(Iteration(iteration, value, change, seconds))
            progress.report(labels[i], history[i][-1], family.objective)
            if on_iteration:
                on_iteration(i, history[i][-1], params[i])
            if family.converged(value, old, params[i], old_params):
                results[i] = FitResult(params[i], value, iteration, True, history[i])
            previous[i] = value
        if checkpoint is not None:
            checkpoint.save(
                RunState(
                    iteration,
                    list(params),
                    list(previous),
                    history,
                    {i: r.converged for i, r in results.items()},
                ),
                family.encode,
            )
    for i in range(len(params)):
        if i not in results:
            results[i] = FitResult(params[i], history[i][-1].objective, max_iter, False, history[i])
    return [results[i] for i in range(len(params))]


def run(
    blocks,
    family: Family,
    params,
    max_iter: int = DEFAULT_MAX_ITER,
    on_iteration: Callable[[Iteration, Any], None] | None = None,
    checkpoint=None,
    resume: bool = False,
    label: str | None = None,
) -> FitResult:
    """Iterate passes from one start until the family's rule or ``max_iter`` passes.

    As in the reference ``run``, the returned parameters are those after the last update and
    the returned objective is that of the last pass (for EM, the log-likelihood under the
    parameters before that update). ``on_iteration(record, new_params)`` sees every pass;
    ``checkpoint`` and ``resume`` are as for ``run_many``; progress lines carry ``label``
    (the family's name by default).
    """
    report = (lambda _i, record, new: on_iteration(record, new)) if on_iteration else None
    labels = [label or family.name]
    return run_many(blocks, family, [params], max_iter, report, checkpoint, resume, labels)[0]
