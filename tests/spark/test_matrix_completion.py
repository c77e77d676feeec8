"""The Spark engine end to end on the course data: the known results, exactly."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spark_em.engine import ops as blk
from spark_em.io import matrix as readers
from spark_em.models import masked as mc
from tests.helpers import reference
from tests.helpers.runs import same_passes

# The course's published results on netflix_incomplete.txt (../shared/data/README.md).
K1_LL = -1521060.9539852
K12_BEST_SEED, K12_BEST_LL, K12_RMSE = 1, -1390234.4223469, 0.4804908505


@pytest.fixture(scope="module")
def netflix(sc, netflix_dir):
    X = readers.read_text(sc, str(netflix_dir / "netflix_incomplete.txt"))
    gold = readers.read_text(sc, str(netflix_dir / "netflix_complete.txt"))
    yield X, gold, blk.summarize(X)
    X.unpersist()
    gold.unpersist()


def test_course_example_through_spark(sc, netflix_dir):
    ref = reference.load(netflix_dir / "test_solutions.txt")
    X = readers.read_text(
        sc, str(netflix_dir / "test_incomplete.txt"), num_partitions=3, block_rows=4
    )
    first = mc.fit(X, ref["K"], 0, max_iter=1)
    assert first.log_likelihood == pytest.approx(ref["first_ll"], rel=1e-12)
    assert_allclose(first.mixture.means, ref["first_m"]["mu"], rtol=0, atol=1e-8)
    assert_allclose(first.mixture.variances, ref["first_m"]["var"], rtol=0, atol=1e-8)
    assert not first.converged

    run = mc.fit(X, ref["K"], 0)
    assert run.converged
    assert run.log_likelihood == pytest.approx(ref["run"]["ll"], rel=1e-8)
    for name, course_name in (("weights", "p"), ("means", "mu"), ("variances", "var")):
        assert_allclose(getattr(run.mixture, name), ref["run"][course_name], rtol=0, atol=1e-8)
    X_pred = blk.to_local(mc.completed(X, run.mixture))
    assert_allclose(X_pred, ref["X_pred"], rtol=0, atol=1e-8)
    gold = readers.read_text(sc, str(netflix_dir / "test_complete.txt"), num_partitions=2)
    rmse, _ = mc.rmse(X, run.mixture, gold)
    assert rmse == pytest.approx(ref["rmse"], rel=1e-8)


def test_netflix_k1_every_seed(netflix):
    X, _, summary = netflix
    for run in mc.fit_all(X, [1], range(5), summary=summary):
        assert run.log_likelihood == pytest.approx(K1_LL, rel=1e-9)


@pytest.fixture(scope="module")
def k12_runs(netflix):
    X, _, summary = netflix
    return mc.fit_all(X, [12], range(5), summary=summary)


def test_netflix_k12_seeds_0_to_4(netflix, k12_runs):
    X, gold, _ = netflix
    runs = k12_runs
    best = mc.best(runs)
    assert best.seed == K12_BEST_SEED
    assert best.log_likelihood == pytest.approx(K12_BEST_LL, rel=1e-9)
    assert all(r.converged for r in runs)
    rmse, rmse_missing = mc.rmse(X, best.mixture, gold)
    assert rmse == pytest.approx(K12_RMSE, rel=1e-9)
    # Over the missing entries only: an independent in-memory computation on the driver.
    X_local, gold_local = blk.to_local(X).astype(float), blk.to_local(gold).astype(float)
    X_pred = blk.to_local(mc.completed(X, best.mixture))
    missing = X_local == 0
    assert rmse_missing == pytest.approx(
        np.sqrt(((X_pred - gold_local)[missing] ** 2).mean()), rel=1e-12
    )


@pytest.mark.parametrize("partitions, block_rows", [(1, 4096), (3, 150), (8, 37)])
def test_same_result_for_any_partitioning(sc, netflix_dir, k12_runs, partitions, block_rows):
    other = readers.read_text(
        sc,
        str(netflix_dir / "netflix_incomplete.txt"),
        num_partitions=partitions,
        block_rows=block_rows,
    )
    assert other.getNumPartitions() >= partitions
    got = mc.fit(other, 12, K12_BEST_SEED)
    assert got.log_likelihood == pytest.approx(K12_BEST_LL, rel=1e-9)
    want = next(r for r in k12_runs if r.seed == K12_BEST_SEED)
    if same_passes(got, want):
        for a, b in zip(got.mixture, want.mixture):
            assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    other.unpersist()
