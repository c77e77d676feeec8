"""The one fitter every EM-style family shares: fit these starts together, then keep the best
restart of each.

A fit is a list of ``Start`` records (K, seed and, for families that have them, a variant such
as the covariance type), in the order the caller wants its runs, each with ``n_init``
consecutive restarts (seeds seed, seed + 1, …). ``fit_starts`` runs every start in the same
passes over the data (``engine.loop.run_many``, which also saves and resumes checkpoints),
turns each result into a ``Run`` and keeps the best restart of each group. A family supplies
its ``Family`` (the engine's view: statistics, update, stopping rule), its starting
parameters, and what its runs add (``Run`` subclasses: the log-likelihood's BIC, K-means'
cluster sizes, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

from spark_em.engine.checkpoint import Checkpoint
from spark_em.engine.loop import Family, Iteration, run_many
from spark_em.errors import InputError
from spark_em.models import selection


class Start(NamedTuple):
    """One start: K, its seed, and the family's variant (a covariance type, say) or None."""

    k: int
    seed: int
    variant: str | None = None


def starts_of(
    ks: Iterable[int], seeds: Iterable[int], n_init: int = 1, variants: Iterable = (None,)
) -> list[Start]:
    """Every (variant, K, seed) in that order, each with ``n_init`` restarts: restart r of a
    seed starts from seed + r."""
    if n_init < 1:
        raise InputError(f"{{param}} must be at least 1, got {n_init}", param="n_init")
    seeds = list(seeds)
    return [
        Start(k, seed + restart, variant)
        for variant in variants
        for k in ks
        for seed in seeds
        for restart in range(n_init)
    ]


@dataclass(kw_only=True)
class Run:
    """One fit: where it started, its final parameters, the objective of its last pass (the
    log-likelihood of the last E-step, the cost, the loss), and how it went."""

    k: int
    seed: int
    params: Any
    objective: float
    n_iter: int
    converged: bool
    seconds: float  # the passes it took part in (shared with the other starts)
    history: list[Iteration] = field(default_factory=list)
    initial: Any = None  # the parameters it started from
    variant: str | None = None

    def shared(self) -> dict[str, Any]:
        """This run's fields as ``Run`` has them: what a family's own run class is built from."""
        return {f.name: getattr(self, f.name) for f in fields(Run)}


def label(start: Start) -> str:
    """A start as progress lines name it: ``k=3 seed=0``, after its variant if it has one."""
    return " ".join([*([start.variant] if start.variant else []), f"k={start.k} seed={start.seed}"])


def fit_starts(
    blocks,
    family: Family,
    starts: list[Start],
    params: list,
    max_iter: int,
    *,
    n_init: int = 1,
    higher: bool = True,
    on_iteration: Callable[[Start, Iteration, Any], None] | None = None,
    checkpoint: Checkpoint | None = None,
    resume: bool = False,
) -> list[Run]:
    """Fit ``params[i]`` (the starting parameters of ``starts[i]``) for every start in the same
    passes, and keep the best of each ``n_init`` consecutive restarts (the highest objective,
    or the lowest if not ``higher``; the first on ties).

    ``on_iteration(start, record, new_params)`` sees every pass of every start. With a
    ``checkpoint`` the state is saved after every pass and ``resume`` continues from it.
    """
    if len(starts) != len(params) or len(starts) % n_init:
        raise ValueError(f"{len(starts)} starts, {len(params)} parameters, {n_init} restarts each")
    report = (lambda i, record, new: on_iteration(starts[i], record, new)) if on_iteration else None
    results = run_many(
        blocks, family, params, max_iter, report, checkpoint, resume, [label(s) for s in starts]
    )
    runs = [
        Run(
            k=start.k,
            seed=start.seed,
            params=result.params,
            objective=result.objective,
            n_iter=result.n_iter,
            converged=result.converged,
            seconds=sum(h.seconds for h in result.history),
            history=result.history,
            initial=first,
            variant=start.variant,
        )
        for start, first, result in zip(starts, params, results)
    ]
    return [selection.best(runs[i : i + n_init], higher) for i in range(0, len(runs), n_init)]
