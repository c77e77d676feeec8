"""Seeded synthetic ratings from a planted mixture, generated on the executors.

Rows come in fixed chunks, each drawn from its own generator seeded by (seed, chunk), so the
same seed gives the same matrix for any number of partitions or block size.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from spark_em.blocks import DEFAULT_BLOCK_ROWS, Block, compact

CHUNK_ROWS = 512
_MEANS_STREAM = 2**32 - 1  # a generator stream apart from every chunk's


class PlantedRatings(NamedTuple):
    """The observed matrix (0 = missing) and the complete truth, as blocks on the same rows."""

    observed: object  # RDD of Block
    truth: object  # RDD of Block
    n_users: int
    n_items: int
    n_types: int


def type_means(n_items: int, n_types: int, seed: int) -> np.ndarray:
    """Each user type's mean rating per item, in [1, 5]."""
    rng = np.random.default_rng([seed, _MEANS_STREAM])
    item_quality = rng.normal(3.4, 0.6, size=n_items)
    taste = rng.normal(0.0, 1.0, size=(n_types, n_items))
    return np.clip(item_quality[None, :] + taste, 1.0, 5.0)


def _chunk(seed: int, chunk: int, rows: int, means: np.ndarray, observed_fraction: float,
           noise: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, chunk])
    n_types, n_items = means.shape
    types = rng.integers(0, n_types, size=rows)
    truth = np.clip(np.rint(means[types] + rng.normal(0.0, noise, size=(rows, n_items))), 1, 5)
    seen = rng.random((rows, n_items)) < observed_fraction
    seen[np.arange(rows), rng.integers(0, n_items, size=rows)] = True  # no all-missing row
    return np.where(seen, truth, 0.0), truth


def planted_ratings(sc, n_users: int = 1200, n_items: int = 1200, n_types: int = 12,
                    observed_fraction: float = 0.772, noise: float = 0.5, seed: int = 0,
                    num_partitions: int | None = None,
                    block_rows: int = DEFAULT_BLOCK_ROWS) -> PlantedRatings:
    """Integer ratings 1–5 of ``n_users`` users of ``n_types`` planted types; each entry is
    observed with probability ``observed_fraction`` (the course matrix's 77.2% by default)."""
    if min(n_users, n_items, n_types) < 1 or not 0 < observed_fraction <= 1:
        raise ValueError("n_users, n_items, n_types must be >= 1 and observed_fraction in (0, 1]")
    means = type_means(n_items, n_types, seed)
    starts = list(range(0, n_users, CHUNK_ROWS))
    partitions = min(len(starts), num_partitions or sc.defaultParallelism)

    def make(start: int):
        rows = min(CHUNK_ROWS, n_users - start)
        observed, truth = _chunk(seed, start // CHUNK_ROWS, rows, means, observed_fraction, noise)
        step = max(1, min(block_rows, rows))
        return [(start + lo, compact(observed[lo:lo + step]), compact(truth[lo:lo + step]))
                for lo in range(0, rows, step)]

    pieces = sc.parallelize(starts, partitions).flatMap(make).cache()
    observed = pieces.map(lambda p: Block(p[0], p[1])).cache()
    truth = pieces.map(lambda p: Block(p[0], p[2])).cache()
    observed.count()
    truth.count()
    pieces.unpersist()
    return PlantedRatings(observed, truth, n_users, n_items, n_types)


CLASSIC_CENTRES = ((4.0, 0.0), (6.0, 6.0), (0.0, 4.0))


def blobs(sc, centres=CLASSIC_CENTRES, rows_per_centre: int = 1000, seed: int = 0,
          num_partitions: int | None = None):
    """Points around each centre with identity covariance (the classic three-cluster example by
    default: 3×1000 points around (4,0), (6,6), (0,4)); one seeded generator per centre, so the
    same seed gives the same points for any partitioning. Returns cached blocks."""
    centres = np.asarray(centres, dtype=np.float64)

    def make(index: int):
        rng = np.random.default_rng([seed, index])
        points = centres[index] + rng.normal(size=(rows_per_centre, centres.shape[1]))
        return Block(index * rows_per_centre, points)

    partitions = min(len(centres), num_partitions or sc.defaultParallelism)
    blocks = sc.parallelize(range(len(centres)), partitions).map(make).cache()
    blocks.count()
    return blocks
