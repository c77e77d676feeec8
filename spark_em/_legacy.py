"""The flat modules of earlier releases (``spark_em.blocks``, ``spark_em.mixture``, ...) as
aliases of the packages that hold their contents now, for one release.

Importing one warns (DeprecationWarning) and gives a module whose attributes are looked up in
the new modules, in order, under their new names where they were renamed.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

# old module: (new modules to look in, {old name: "new.module:new_name"})
ALIASES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "spark_em.blocks": (
        ("spark_em.engine.block", "spark_em.kernels.arrays", "spark_em.engine.ops"),
        {
            "map_blocks": "spark_em.engine.ops:collect",
            "reduce_blocks": "spark_em.engine.ops:reduce",
        },
    ),
    "spark_em.frames": (
        (
            "spark_em.engine.ops",
            "spark_em.engine.frame",
            "spark_em.engine.block",
            "spark_em.engine.backend",
            "spark_em.engine.session",
        ),
        {
            "map_blocks": "spark_em.engine.ops:collect",
            "reduce_blocks": "spark_em.engine.ops:reduce",
        },
    ),
    "spark_em.gaussian": (
        ("spark_em.kernels.gaussian", "spark_em.kernels.kmeans"),
        {
            "GaussianMixture": "spark_em.kernels.gaussian:Mixture",
            "add_stats": "spark_em.kernels.arrays:add_fields",
            "kmeans_block_stats": "spark_em.kernels.kmeans:block_stats",
            "kmeans_update": "spark_em.kernels.kmeans:update",
            "kmeans_mixture": "spark_em.kernels.kmeans:as_mixture",
        },
    ),
    "spark_em.masked": (
        ("spark_em.kernels.masked",),
        {"add_stats": "spark_em.kernels.arrays:add_fields"},
    ),
    "spark_em.wols": (
        ("spark_em.kernels.wols",),
        {"add_stats": "spark_em.kernels.arrays:add_fields"},
    ),
    "spark_em.mixture": (
        ("spark_em.models.gaussian", "spark_em.models.selection"),
        {
            "GaussianMixture": "spark_em.kernels.gaussian:Mixture",
            "kmeans_plus_plus": "spark_em.models.kmeans:plus_plus",
            "random_rows": "spark_em.models.kmeans:random_rows",
            "KMEANS_TOL": "spark_em.models.kmeans:TOL",
            "encode_mixture": "spark_em.models.codec:encode_gaussian",
            "decode_mixture": "spark_em.models.codec:decode_gaussian",
        },
    ),
    "spark_em.matrix_completion": (
        ("spark_em.models.masked", "spark_em.models.reference"),
        {
            "encode_mixture": "spark_em.models.codec:encode_masked",
            "decode_mixture": "spark_em.models.codec:decode_masked",
        },
    ),
    "spark_em.regression": (
        ("spark_em.models.wols", "spark_em.io.table"),
        {
            "classic": "spark_em.io.synthetic:wols_experiment",
            "CLASSIC_ROWS": "spark_em.io.synthetic:EXPERIMENT_ROWS",
            "CHUNK_ROWS": "spark_em.io.synthetic:EXPERIMENT_CHUNK_ROWS",
        },
    ),
    "spark_em.readers": (("spark_em.io.matrix", "spark_em.engine.block"), {}),
    "spark_em.triples": (("spark_em.io.triples",), {}),
    "spark_em.synthetic": (
        ("spark_em.io.synthetic",),
        {"CLASSIC_CENTRES": "spark_em.io.synthetic:DEMO_CENTRES"},
    ),
    "spark_em.recommend": (("spark_em.models.recommend",), {}),
    "spark_em.plots": (("spark_em.cli.plots",), {}),
    "spark_em.session": (("spark_em.engine.session",), {}),
    "spark_em.checkpoint": (("spark_em.engine.checkpoint",), {}),
}


def _frames_backend_for(spark, backend=None) -> str:
    from spark_em.engine.backend import backend_for

    return backend_for(spark, backend).name


def _frames_from_array(spark, X, num_partitions: int = 2, block_rows: int = 4096):
    from spark_em.engine.ops import from_array

    return from_array(spark, X, num_partitions, block_rows, backend="dataframe")


def _frames_generated(spark, keys, make, num_partitions: int):
    from spark_em.engine.ops import generated

    return generated(spark, keys, make, num_partitions, backend="dataframe")


def _fit_kmeans(blocks, k: int, seed: int = 0, **options):
    from spark_em.models.gaussian import fit

    return fit(blocks, k, seed, model="kmeans", **options)


def _reference_init(blocks, k: int, seed: int, summary, min_variance: float = 0.25):
    from spark_em.models.masked import reference_mixtures

    return reference_mixtures(blocks, [(k, seed)], summary, min_variance)[0]


# old names whose signature or result changed: thin wrappers with the old behaviour
ADAPTED = {
    ("spark_em.frames", "backend_for"): _frames_backend_for,
    ("spark_em.frames", "from_array"): _frames_from_array,
    ("spark_em.frames", "generated"): _frames_generated,
    ("spark_em.mixture", "fit_kmeans"): _fit_kmeans,
    ("spark_em.matrix_completion", "reference_init"): _reference_init,
}


def _lookup(old: str, attr: str):
    sources, renamed = ALIASES[old]
    if (old, attr) in ADAPTED:
        return ADAPTED[old, attr]
    if attr in renamed:
        module, name = renamed[attr].split(":")
        return getattr(importlib.import_module(module), name)
    for source in sources:
        module = importlib.import_module(source)
        if hasattr(module, attr):
            return getattr(module, attr)
    raise AttributeError(
        f"module {old!r} has no attribute {attr!r} (it moved: see {', '.join(sources)})"
    )


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        return importlib.util.spec_from_loader(name, self) if name in ALIASES else None

    def create_module(self, spec):
        return types.ModuleType(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        old = module.__name__
        warnings.warn(
            f"{old} is deprecated and will be removed: import from "
            f"{ALIASES[old][0][0]} (and the modules beside it) instead",
            DeprecationWarning,
            stacklevel=2,
        )
        module.__getattr__ = lambda attr: _lookup(old, attr)


def install() -> None:
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
