"""The Netflix-Prize-shaped generator on small shapes: seeded, partition-independent, the same
entries as blocks and as triples, heavy-tailed, with real planted types; and its job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from spark_em.errors import InputError
from spark_em.io.synthetic import PrizeShape, prize_blocks, prize_triples, user_types

ROOT = Path(__file__).resolve().parents[2]
SHAPE = PrizeShape(n_users=5000, n_items=800, n_ratings=150_000, seed=11)
MANY_CHUNKS = PrizeShape(n_users=15_000, n_items=600, n_ratings=120_000, seed=5)  # 8 chunks


def sorted_triples(frame: pd.DataFrame) -> np.ndarray:
    """(user, item, rating) rows as an int64 array sorted by user, then item."""
    table = frame[["user", "item", "rating"]].to_numpy(dtype=np.int64)
    return table[np.lexsort((table[:, 1], table[:, 0]))]


def triples_of(spark, shape, partitions=None) -> np.ndarray:
    return sorted_triples(prize_triples(spark, shape, partitions).toPandas())


@pytest.fixture(scope="module")
def ratings(spark) -> np.ndarray:
    return triples_of(spark, SHAPE, 3)


def test_same_seed_same_data_for_any_partitioning(spark):
    frames = {p: prize_triples(spark, MANY_CHUNKS, p) for p in (1, 3, 7)}
    assert {p: f.rdd.getNumPartitions() for p, f in frames.items()} == {1: 1, 3: 3, 7: 7}
    one, three, seven = (sorted_triples(f.toPandas()) for f in frames.values())
    assert len(one) > 100_000
    np.testing.assert_array_equal(one, three)
    np.testing.assert_array_equal(one, seven)


def test_another_seed_gives_other_data(spark, ratings):
    other = triples_of(spark, SHAPE._replace(seed=12), 3)
    pairs = {tuple(r) for r in ratings[:, :2]}
    shared = sum(tuple(r) in pairs for r in other[:, :2])
    # Popular items are shared by chance, but nowhere near all of them.
    assert shared < 0.5 * min(len(ratings), len(other))
    assert not np.array_equal(np.bincount(ratings[:, 2]), np.bincount(other[:, 2]))


def test_blocks_hold_the_triples(sc, ratings):
    blocks = sorted(prize_blocks(sc, SHAPE, 2).collect(), key=lambda b: b.offset)
    assert [b.offset for b in blocks] == [0, 2048, 4096]
    assert sum(b.values.shape[0] for b in blocks) == SHAPE.n_users
    assert all(sparse.issparse(b.values) and b.values.format == "csr" for b in blocks)
    assert all(b.values.dtype == np.uint8 and b.values.shape[1] == SHAPE.n_items for b in blocks)
    pieces = []
    for block in blocks:
        coo = block.values.tocoo()
        pieces.append(np.column_stack([coo.row + block.offset, coo.col, coo.data]))
    from_blocks = sorted_triples(
        pd.DataFrame(np.concatenate(pieces), columns=["user", "item", "rating"])
    )
    np.testing.assert_array_equal(from_blocks, ratings)


def test_ratings_are_valid_distinct_and_about_as_many_as_asked(ratings):
    users, items, values = ratings.T
    assert set(np.unique(values)) <= {1, 2, 3, 4, 5}
    assert len(np.unique(values)) == 5
    assert users.min() >= 0 and users.max() < SHAPE.n_users
    assert items.min() >= 0 and items.max() < SHAPE.n_items
    assert len(np.unique(users * SHAPE.n_items + items)) == len(ratings)
    assert len(np.unique(users)) == SHAPE.n_users  # everyone rates at least one item
    assert abs(len(ratings) / SHAPE.n_ratings - 1) < 0.03


def test_ratings_per_user_and_per_item_are_heavy_tailed(ratings):
    per_user = np.bincount(ratings[:, 0], minlength=SHAPE.n_users)
    per_item = np.bincount(ratings[:, 1], minlength=SHAPE.n_items)
    assert per_user.max() > 5 * np.median(per_user)
    assert per_item.max() > 5 * np.median(per_item)
    # Heavy-tailed, not merely spread: the busiest 10% hold far more than 10% of the ratings.
    for counts in (per_user, per_item):
        top = np.sort(counts)[-len(counts) // 10 :]
        assert top.sum() > 0.3 * counts.sum()


def type_profiles(matrix: np.ndarray, rated: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Per item, the mean of the members' ratings (NaN where fewer than two rated it)."""
    count = rated[members].sum(axis=0)
    total = np.where(rated[members], matrix[members], 0.0).sum(axis=0)
    return np.where(count >= 2, total / np.maximum(count, 1), np.nan)


def test_users_of_one_planted_type_agree(ratings):
    """Split each type's users in two halves; a half's item profile (ratings with each user's
    and each item's mean removed) must match the other half of its own type better than any
    other type's half."""
    types = user_types(SHAPE)
    assert types.shape == (SHAPE.n_users,) and len(np.unique(types)) == SHAPE.n_types
    matrix = np.zeros((SHAPE.n_users, SHAPE.n_items))
    rated = np.zeros_like(matrix, dtype=bool)
    matrix[ratings[:, 0], ratings[:, 1]] = ratings[:, 2]
    rated[ratings[:, 0], ratings[:, 1]] = True
    user_mean = matrix.sum(axis=1) / rated.sum(axis=1)
    centred = matrix - user_mean[:, None]
    item_mean = np.where(rated, centred, 0).sum(axis=0) / np.maximum(rated.sum(axis=0), 1)
    centred -= item_mean[None, :]
    half = np.random.default_rng(0).random(SHAPE.n_users) < 0.5
    first = [type_profiles(centred, rated, (types == t) & half) for t in range(SHAPE.n_types)]
    second = [type_profiles(centred, rated, (types == t) & ~half) for t in range(SHAPE.n_types)]
    agreement = np.empty((SHAPE.n_types, SHAPE.n_types))
    for a in range(SHAPE.n_types):
        for b in range(SHAPE.n_types):
            both = ~np.isnan(first[a]) & ~np.isnan(second[b])
            agreement[a, b] = np.corrcoef(first[a][both], second[b][both])[0, 1]
    same = np.diag(agreement)
    other = agreement[~np.eye(SHAPE.n_types, dtype=bool)]
    assert (np.argmax(agreement, axis=1) == np.arange(SHAPE.n_types)).all()
    assert same.min() > 0.6
    assert other.max() < 0.3


def test_scaled_shapes():
    assert PrizeShape() == (480_189, 17_770, 100_480_507, 12, 0)
    assert PrizeShape().scaled(0.01)[:3] == (4802, 1777, 1_004_805)
    assert PrizeShape().scaled(0.1)[:3] == (48_019, 5619, 10_048_051)
    assert PrizeShape(n_types=3, seed=9).scaled(1.0) == PrizeShape(n_types=3, seed=9)
    for fraction in (0.0, 1.5, float("nan")):
        with pytest.raises(InputError, match="fraction"):
            PrizeShape().scaled(fraction)


@pytest.mark.parametrize(
    "shape, message",
    [
        (PrizeShape(10, 5, 9), "fewer than the 10 users"),
        (PrizeShape(10, 5, 51), "do not fit in 10 users x 5 items"),
        (PrizeShape(10, 0, 20), "at least 1"),
        (PrizeShape(10, 5, 20, seed=-1), "seed"),
    ],
)
def test_impossible_shapes_refused(sc, shape, message):
    with pytest.raises(InputError, match=message):
        prize_blocks(sc, shape)


def run_job(*args):
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    return subprocess.run(
        [sys.executable, str(ROOT / "jobs" / "make_ratings.py"), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


def test_job_writes_parquet_of_the_same_ratings(spark, tmp_path):
    shape = PrizeShape(n_users=3000, n_items=500, n_ratings=60_000, n_types=4, seed=2)
    out = tmp_path / "ratings"
    done = run_job(
        "--users",
        3000,
        "--items",
        500,
        "--ratings",
        60_000,
        "--types",
        4,
        "--seed",
        2,
        "--partitions",
        2,
        "--out",
        out,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    written = pd.read_parquet(out)
    assert report["ratings"] == len(written)
    assert (report["users"], report["items"], report["ratings_requested"]) == (3000, 500, 60_000)
    assert str(written.dtypes["user"]) == "int64" and str(written.dtypes["rating"]) == "int32"
    np.testing.assert_array_equal(sorted_triples(written), triples_of(spark, shape, 1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ratings"]  # no temporary left


@pytest.mark.parametrize(
    "args, message",
    [
        (["--fraction", "0"], "error: --fraction must be in (0, 1], got 0.0"),
        (["--fraction", "1.5"], "error: --fraction must be in (0, 1], got 1.5"),
        (["--users", "-3"], "error: --users must be >= 1, got -3"),
        (["--users", "100", "--ratings", "50"], "error: 50 ratings is fewer than the 100 users"),
    ],
)
def test_job_refuses_bad_values_in_one_line(tmp_path, args, message):
    failed = run_job(*args, "--out", tmp_path / "never")
    assert failed.returncode == 2
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message)
    assert not (tmp_path / "never").exists()
