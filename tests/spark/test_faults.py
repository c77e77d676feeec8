"""Numerical and layout faults of the masked model: none crashes or returns NaN, and the
layout of the data (empty partitions, one-row partitions) does not change the answer."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em.engine import ops as blk
from spark_em.engine.block import Block
from spark_em.engine.loop import run
from spark_em.kernels import masked
from spark_em.models import masked as mc
from tests.helpers.runs import same_passes


def ratings(seed=0, n=60, d=8, missing=0.4):
    rng = np.random.default_rng(seed)
    X = rng.integers(1, 6, size=(n, d)).astype(float)
    X[rng.random(X.shape) < missing] = 0
    X[X.sum(axis=1) == 0, 0] = 3.0
    return X


def assert_finite_run(run):
    for part in run.mixture:
        assert np.all(np.isfinite(part))
    assert np.isfinite(run.log_likelihood)
    assert run.mixture.weights.sum() == pytest.approx(1.0, rel=1e-12)
    assert np.all(run.mixture.variances >= masked.MIN_VARIANCE)


def fit_from(sc, X, start, max_iter=50, num_partitions=2):
    blocks = blk.from_array(sc, X, num_partitions)
    result = run(blocks, mc.family(), start, max_iter=max_iter)
    blocks.unpersist()
    return result


def test_a_component_whose_weight_goes_to_zero(sc):
    X = ratings()
    start = masked.reference_init(X, 3, 0)
    far = np.full(X.shape[1], 100.0)  # no row is anywhere near it
    start = masked.SphericalMixture(
        weights=np.array([0.5, 0.5, 0.0]),
        means=np.vstack([start.means[:2], far]),
        variances=start.variances,
    )
    result = fit_from(sc, X, start)
    assert result.params.weights[2] < 1e-12  # it stays empty
    assert_allclose(
        result.params.means[2], start.means[2]
    )  # its means keep their value (denominator < 1)
    assert (
        np.isfinite(result.params.variances[2])
        and result.params.variances[2] >= masked.MIN_VARIANCE
    )
    assert np.all(result.params.weights[:2] > 0.1)
    assert np.all(np.isfinite(result.params.means)) and np.isfinite(result.objective)
    assert result.params.weights.sum() == pytest.approx(1.0, rel=1e-12)


def test_variances_at_their_floor(sc):
    X = np.where(ratings(1) > 0, 4.0, 0.0)  # every observed rating the same
    run = mc.fit(blk.from_array(sc, X, 2), 2, 0)
    assert_finite_run(run)
    assert_allclose(run.mixture.variances, masked.MIN_VARIANCE)


def test_rows_with_a_single_observed_entry(sc):
    rng = np.random.default_rng(2)
    X = np.zeros((50, 6))
    X[np.arange(50), rng.integers(0, 6, 50)] = rng.integers(1, 6, 50)
    assert_finite_run(mc.fit(blk.from_array(sc, X, 2), 3, 0))


def test_rows_with_nothing_observed_are_counted_and_left_out(sc):
    X = ratings(3)
    with_empty = np.insert(X, [0, 10, 10, 60], 0.0, axis=0)
    mixture = masked.reference_init(X, 3, 0)
    a, b = masked.block_stats(with_empty, mixture), masked.block_stats(X, mixture)
    for x, y in zip(a, b):
        assert np.array_equal(np.asarray(x), np.asarray(y))
    blocks = blk.from_array(sc, with_empty, 3)
    assert blk.summarize(blocks).n_empty_rows == 4
    run = mc.fit(blocks, 3, 0)
    assert_finite_run(run)
    completed = blk.to_local(mc.completed(blocks, run.mixture))
    assert_allclose(completed[0], run.mixture.weights @ run.mixture.means)  # the prior's completion


def test_duplicated_rows(sc):
    X = ratings(4, n=30)
    run = mc.fit(blk.from_array(sc, np.vstack([X, X, X]), 2), 4, 0)
    assert_finite_run(run)


@pytest.mark.parametrize("layout", ["empty partitions", "one row per partition"])
def test_layout_does_not_change_the_answer(sc, layout):
    X = ratings(5, n=12)
    reference = mc.fit(blk.from_array(sc, X, 1, block_rows=12), 3, 0)
    if layout == "empty partitions":
        pieces = [Block(0, X[:5].astype(np.uint8)), Block(5, X[5:].astype(np.uint8))]
        blocks = sc.parallelize(pieces, 7).cache()  # 5 of the 7 partitions hold nothing
        assert sum(1 for n in blocks.glom().map(len).collect() if n == 0) == 5
    else:
        blocks = blk.from_array(sc, X, 12, block_rows=1)
        assert blocks.glom().map(len).collect() == [1] * 12
    run = mc.fit(blocks, 3, 0)
    if same_passes(run, reference, rtol=1e-12):
        for name in ("weights", "means", "variances"):
            assert_allclose(
                getattr(run.mixture, name), getattr(reference.mixture, name), rtol=1e-12
            )
