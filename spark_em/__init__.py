"""spark-em: expectation–maximisation and least squares on Spark.

The public API, by layer (each a package; see the README's layout section):

- ``spark_em.kernels``: pure numpy/scipy kernels (``gaussian``, ``kmeans``, ``masked``,
  ``wols``);
- ``spark_em.engine``: blocks on a backend, operations on them, the iteration loop;
- ``spark_em.io``: loaders and generators;
- ``spark_em.models``: the model families (``gaussian``, ``kmeans``, ``masked``, ``wols``);
- ``spark_em.ml``: spark.ml-style estimators;
- ``spark_em.cli``: the jobs' logic.

The names below are importable from ``spark_em`` itself; they are loaded on first use, so
``import spark_em.kernels.masked`` stays free of Spark.
"""

from __future__ import annotations

import importlib

_PUBLIC = {
    "InputError": "spark_em.errors",
    "get_spark": "spark_em.engine.session",
    "from_array": "spark_em.engine.ops",
    "summarize": "spark_em.engine.ops",
    "read_matrix": "spark_em.io.matrix",
    "read_text": "spark_em.io.matrix",
    "read_npy": "spark_em.io.matrix",
    "read_dataframe": "spark_em.io.matrix",
    "read_table": "spark_em.io.table",
    "read_frame": "spark_em.io.triples",
    "read_triples": "spark_em.io.triples",
    "planted_ratings": "spark_em.io.synthetic",
    "blobs": "spark_em.io.synthetic",
    "prize_triples": "spark_em.io.synthetic",
    "wols_experiment": "spark_em.io.synthetic",
    "GaussianMixture": "spark_em.ml",
    "GaussianMixtureModel": "spark_em.ml",
    "MaskedGaussianMixture": "spark_em.ml",
    "MaskedGaussianMixtureModel": "spark_em.ml",
    "KMeans": "spark_em.ml",
    "KMeansModel": "spark_em.ml",
    "MixtureRecommender": "spark_em.ml",
    "MixtureRecommenderModel": "spark_em.ml",
    "WeightedLinearRegression": "spark_em.ml",
    "WeightedLinearRegressionModel": "spark_em.ml",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'spark_em' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
