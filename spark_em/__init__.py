"""spark-em: expectation–maximisation and least squares on Spark.

The public API, by layer (each a package; see the README's layout section):

- ``spark_em.kernels``: pure numpy/scipy kernels (``gaussian``, ``kmeans``, ``masked``,
  ``wols``);
- ``spark_em.engine``: blocks on a backend, operations on them, the iteration loop;
- ``spark_em.io``: loaders and generators;
- ``spark_em.models``: the model families (``gaussian``, ``kmeans``, ``masked``, ``wols``);
- ``spark_em.ml``: spark.ml-style estimators, their models and summaries;
- ``spark_em.cli``: the jobs' logic.

The names below, and every name ``spark_em.ml`` exports, are importable from ``spark_em``
itself; they are loaded on first use, so ``import spark_em.kernels.masked`` stays free of
Spark.
"""

from __future__ import annotations

from typing import Any

from spark_em._version import __version__ as __version__


def _errors() -> Any:
    import spark_em.errors as module

    return module


def _session() -> Any:
    from spark_em.engine import session

    return session


def _ops() -> Any:
    from spark_em.engine import ops

    return ops


def _matrix() -> Any:
    from spark_em.io import matrix

    return matrix


def _table() -> Any:
    from spark_em.io import table

    return table


def _named() -> Any:
    from spark_em.io import named

    return named


def _triples() -> Any:
    from spark_em.io import triples

    return triples


def _synthetic() -> Any:
    from spark_em.io import synthetic

    return synthetic


def _ml() -> Any:
    import spark_em.ml as module

    return module


# each public name and the module that holds it
_PUBLIC = {
    "InputError": _errors,
    "ConvergenceWarning": _errors,
    "DegenerateFitWarning": _errors,
    "get_spark": _session,
    "from_array": _ops,
    "summarize": _ops,
    "read_matrix": _matrix,
    "read_text": _matrix,
    "read_npy": _matrix,
    "read_dataframe": _matrix,
    "read_columns": _matrix,
    "read_table": _table,
    "read_frame": _named,
    "read_triples": _triples,
    "planted_ratings": _synthetic,
    "blobs": _synthetic,
    "prize_triples": _synthetic,
    "wols_experiment": _synthetic,
    "mixreg_experiment": _synthetic,
}
__all__ = sorted(_PUBLIC)


# the packages themselves: found by the import system, never looked up here
_PACKAGES = {"errors", "kernels", "engine", "io", "models", "ml", "mlflow", "cli"}


def __getattr__(name: str):
    if name in _PACKAGES:
        raise AttributeError(f"module 'spark_em' has no attribute {name!r}")
    if name in _PUBLIC:
        return getattr(_PUBLIC[name](), name)
    if not name.startswith("_") and name in _ml().__all__:
        return getattr(_ml(), name)
    raise AttributeError(f"module 'spark_em' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
