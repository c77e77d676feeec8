"""The flat modules of the previous release still import, with a DeprecationWarning, and
their names lead to the new homes."""

from __future__ import annotations

import importlib
import sys

import pytest


def fresh(old: str) -> None:
    """Forget an earlier import of ``old``, so that importing it again runs its alias."""
    import spark_em

    sys.modules.pop(old, None)
    short = old.split(".")[1]
    if short in vars(spark_em):
        delattr(spark_em, short)


@pytest.mark.parametrize(
    "old, name, new",
    [
        ("spark_em.blocks", "Block", "spark_em.engine.block:Block"),
        ("spark_em.blocks", "compact", "spark_em.kernels.arrays:compact"),
        ("spark_em.blocks", "summarize", "spark_em.engine.ops:summarize"),
        ("spark_em.gaussian", "GaussianMixture", "spark_em.kernels.gaussian:Mixture"),
        ("spark_em.gaussian", "kmeans_block_stats", "spark_em.kernels.kmeans:block_stats"),
        ("spark_em.mixture", "fit_all", "spark_em.models.gaussian:fit_all"),
        ("spark_em.mixture", "GaussianMixture", "spark_em.kernels.gaussian:Mixture"),
        ("spark_em.matrix_completion", "rmse", "spark_em.models.masked:rmse"),
        ("spark_em.regression", "classic", "spark_em.io.synthetic:wols_experiment"),
        ("spark_em.regression", "read_table", "spark_em.io.table:read_table"),
        ("spark_em.readers", "read_text", "spark_em.io.matrix:read_text"),
        ("spark_em.readers", "BYTES_PER_PARTITION", "spark_em.engine.block:BYTES_PER_PARTITION"),
        ("spark_em.frames", "map_blocks", "spark_em.engine.ops:collect"),
        ("spark_em.frames", "is_frame", "spark_em.engine.backend:is_frame"),
        ("spark_em.session", "get_spark", "spark_em.engine.session:get_spark"),
        ("spark_em.plots", "mixture_plot", "spark_em.cli.plots:mixture_plot"),
    ],
)
def test_old_names_lead_to_the_new_ones(old, name, new):
    fresh(old)
    with pytest.warns(DeprecationWarning, match=old.replace(".", r"\.")):
        module = importlib.import_module(old)
    module_name, new_name = new.split(":")
    assert getattr(module, name) is getattr(importlib.import_module(module_name), new_name)


def test_wrapped_old_functions_and_missing_names():
    fresh("spark_em.frames")
    fresh("spark_em.mixture")
    with pytest.warns(DeprecationWarning):
        from spark_em import frames, mixture
    assert callable(frames.backend_for) and callable(frames.from_array)
    assert callable(mixture.fit_kmeans)
    with pytest.raises(AttributeError, match="it moved"):
        frames.no_such_name
