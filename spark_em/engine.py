"""The iteration engine: one pass over the cached blocks per iteration.

Each iteration broadcasts the current parameters, sums a family's per-block statistics with
one ``treeAggregate`` and hands the sum to the family's update on the driver, then applies the
stopping rule. The engine knows nothing of the model: a family supplies

- ``block_stats(values, params) -> stats``: a block's statistics;
- ``add(a, b) -> stats``: the sum of two statistics;
- ``update(stats, params) -> (params, objective)``: the new parameters and the number the
  stopping rule watches (the log-likelihood of the pass for EM, the cost for K-means);
- ``converged(new, old) -> bool``: the stopping rule (by default the relative rule on a
  log-likelihood that rises).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

DEFAULT_TOL = 1e-6
DEFAULT_MAX_ITER = 1000


def aggregate(blocks, block_stats: Callable, add: Callable, params: Any, depth: int = 2):
    """Σ over blocks of ``block_stats(block.values, params)``: one Spark job.

    ``params`` travels once per executor as a broadcast, destroyed when the pass is done. A
    DataFrame of blocks (``spark_em.frames``) is summed by ``mapInArrow`` instead.
    """
    from spark_em import frames

    if frames.is_frame(blocks):
        return frames.aggregate(blocks, block_stats, add, params)
    broadcast = blocks.context.broadcast(params)

    def seq(acc, block):
        stats = block_stats(block.values, broadcast.value)
        return stats if acc is None else add(acc, stats)

    def comb(a, b):
        return b if a is None else a if b is None else add(a, b)

    try:
        total = blocks.treeAggregate(None, seq, comb, depth)
    finally:
        broadcast.destroy()
    if total is None:
        raise ValueError("the data holds no blocks")
    return total


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


def relative_rule(tol: float = DEFAULT_TOL) -> Callable[[float, float | None], bool]:
    """Stop when new − old ≤ tol·|new| (a log-likelihood that has stopped rising)."""
    return lambda new, old: old is not None and new - old <= tol * abs(new)


def run_many(blocks, starts: list, block_stats: Callable, add: Callable, update: Callable,
             converged: Callable[[float, float | None], bool] | None = None,
             max_iter: int = DEFAULT_MAX_ITER,
             on_iteration: Callable[[int, Iteration, Any], None] | None = None,
             block_stats_many: Callable | None = None, resume: RunState | None = None,
             on_pass: Callable[[RunState], None] | None = None) -> list[FitResult]:
    """Fit several starts together: each pass is one job that computes the statistics of every
    start still running; each start stops by its own rule and leaves the pass after that.
    ``block_stats_many(values, params_list)``, when a family has it, computes a block's
    statistics for all running starts at once (else ``block_stats`` is called for each).
    ``on_pass(state)`` sees the state after every pass; ``resume`` continues from such a state
    (its starts replace ``starts``) exactly as if the run had not stopped.

    The results are those of fitting each start alone (the same sums, in the same order).
    ``on_iteration(start_index, record, new_params)`` sees every pass of every start. A record's
    seconds are those of the shared pass.
    """
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    converged = converged or relative_rule()
    params = list(starts)
    previous: list[float | None] = [None] * len(params)
    history: list[list[Iteration]] = [[] for _ in params]
    results: dict[int, FitResult] = {}
    first = 1
    if resume is not None:
        params, previous, history = list(resume.params), list(resume.previous), resume.history
        for i, stopped_converged in resume.finished.items():
            results[i] = FitResult(params[i], history[i][-1].objective, history[i][-1].iteration,
                                   stopped_converged, history[i])
        first = resume.iteration + 1

    def stats_of_all(values, active_params):
        if block_stats_many is not None:
            return block_stats_many(values, active_params)
        return [block_stats(values, p) for p in active_params]

    def add_all(a, b):
        return [add(x, y) for x, y in zip(a, b)]

    for iteration in range(first, max_iter + 1):
        active = [i for i in range(len(params)) if i not in results]
        if not active:
            break
        start = time.perf_counter()
        sums = aggregate(blocks, stats_of_all, add_all, [params[i] for i in active])
        seconds = time.perf_counter() - start
        for i, stats in zip(active, sums):
            params[i], value = update(stats, params[i])
            value = float(value)
            old = previous[i]
            change = None if old is None or value == 0 else (value - old) / abs(value)
            history[i].append(Iteration(iteration, value, change, seconds))
            if on_iteration:
                on_iteration(i, history[i][-1], params[i])
            if converged(value, old):
                results[i] = FitResult(params[i], value, iteration, True, history[i])
            previous[i] = value
        if on_pass:
            on_pass(RunState(iteration, list(params), list(previous), history,
                             {i: r.converged for i, r in results.items()}))
    for i in range(len(params)):
        if i not in results:
            results[i] = FitResult(params[i], history[i][-1].objective, max_iter, False, history[i])
    return [results[i] for i in range(len(params))]


def run(blocks, params, block_stats: Callable, add: Callable, update: Callable,
        converged: Callable[[float, float | None], bool] | None = None,
        max_iter: int = DEFAULT_MAX_ITER,
        on_iteration: Callable[[Iteration, Any], None] | None = None,
        resume: RunState | None = None,
        on_pass: Callable[[RunState], None] | None = None) -> FitResult:
    """Iterate passes from one start until ``converged(new, old)`` or ``max_iter`` passes.

    As in the reference ``run``, the returned parameters are those after the last update and
    the returned objective is that of the last pass (for EM, the log-likelihood under the
    parameters before that update). ``on_iteration(record, new_params)`` sees every pass;
    ``resume`` and ``on_pass`` are as for ``run_many``.
    """
    report = (lambda _i, record, new: on_iteration(record, new)) if on_iteration else None
    return run_many(blocks, [params], block_stats, add, update, converged, max_iter, report,
                    resume=resume, on_pass=on_pass)[0]
