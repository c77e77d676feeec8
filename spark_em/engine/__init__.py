"""The engine: blocks on a backend (a cached RDD, or a cached DataFrame for Spark Connect),
operations on them that work on either (``ops``), the iteration loop over a named ``Family``
(``loop``), checkpoints and sessions. It knows nothing about Gaussians or regression, and it is
the only layer that knows which backend it runs on."""

from spark_em.engine.compat import require_pyspark

require_pyspark()

from spark_em.engine.loop import (
    DEFAULT_MAX_ITER,
    DEFAULT_TOL,
    Family,
    FitResult,
    Iteration,
    RunState,
    relative_rule,
    run,
    run_many,
)
from spark_em.engine.ops import aggregate

__all__ = [
    "DEFAULT_MAX_ITER",
    "DEFAULT_TOL",
    "Family",
    "FitResult",
    "Iteration",
    "RunState",
    "aggregate",
    "relative_rule",
    "run",
    "run_many",
]
