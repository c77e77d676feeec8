"""The iteration engine: one pass over the cached blocks per iteration.

Each iteration broadcasts the current parameters, sums a family's per-block statistics with
one ``treeAggregate`` and hands the sum to the family's update on the driver, then applies the
stopping rule. The engine knows nothing of the model: a family supplies

- ``block_stats(values, params) -> stats``: a block's statistics (a tuple of numbers/arrays
  whose first field is the block's log-likelihood, or objective);
- ``add(a, b) -> stats``: the sum of two statistics;
- ``update(stats, params) -> params``: the new parameters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

DEFAULT_TOL = 1e-6
DEFAULT_MAX_ITER = 1000


def aggregate(blocks, block_stats: Callable, add: Callable, params: Any, depth: int = 2):
    """Σ over blocks of ``block_stats(block.values, params)``: one Spark job.

    ``params`` travels once per executor as a broadcast, destroyed when the pass is done.
    """
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
    """One pass: its number (from 1), log-likelihood, relative change and wall seconds."""

    iteration: int
    log_likelihood: float
    relative_change: float | None
    seconds: float


@dataclass
class FitResult:
    """Parameters after the last update, the last pass's log-likelihood, and the history."""

    params: Any
    log_likelihood: float
    n_iter: int
    converged: bool
    history: list[Iteration] = field(default_factory=list)


def converged(new: float, old: float | None, tol: float) -> bool:
    """The relative rule: stop when new − old ≤ tol·|new|."""
    return old is not None and new - old <= tol * abs(new)


def run(blocks, params, block_stats: Callable, add: Callable, update: Callable,
        tol: float = DEFAULT_TOL, max_iter: int = DEFAULT_MAX_ITER,
        on_iteration: Callable[[Iteration], None] | None = None) -> FitResult:
    """Iterate E-step/M-step passes until the relative rule holds or ``max_iter`` passes.

    As in the reference ``run``, the returned parameters are those after the last update and
    the returned log-likelihood is that of the last pass (computed under the parameters before
    that update).
    """
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    history: list[Iteration] = []
    previous = None
    for iteration in range(1, max_iter + 1):
        start = time.perf_counter()
        stats = aggregate(blocks, block_stats, add, params)
        params = update(stats, params)
        ll = float(stats[0])
        change = None if previous is None else (ll - previous) / abs(ll)
        history.append(Iteration(iteration, ll, change, time.perf_counter() - start))
        if on_iteration:
            on_iteration(history[-1])
        if converged(ll, previous, tol):
            return FitResult(params, ll, iteration, True, history)
        previous = ll
    return FitResult(params, history[-1].log_likelihood, max_iter, False, history)
