"""Seeded synthetic data, generated on the executors: ratings from a planted mixture, points
around centres, Netflix-Prize-shaped sparse ratings and the weighted least-squares experiment.

Rows come in fixed chunks, each drawn from its own generator seeded by (seed, chunk), so the
same seed gives the same matrix for any number of partitions or block size.

``prize_blocks`` and ``prize_triples`` make sparse ratings shaped like the Netflix Prize data
(480,189 users, 17,770 items, 100,480,507 ratings by default; ``PrizeShape.scaled`` for a
fraction of it). The number of ratings a user gives is lognormal (σ 1.1, as the Prize's users:
median about half the mean, a few users rating thousands of items), at least 1 and at most
the number of items, scaled so the expected total is the requested one. Items are drawn with
replacement by lognormal popularity (σ 2.6, softly capped at 1,500 times the median weight; at
the Prize's size the median item then has about 520 ratings, the mean is 11 times that and the
most rated item reaches half the users, as in the Prize data) and repeats within a user are
dropped; each user draws a little more than their wanted count, as many as leave that count of
distinct items on average, so the total lands close to the request (a little below when many
users would rate most of the catalogue). Each user has one of ``n_types`` planted types (unequal
weights); a rating is the type's mean for the item (overall mean + item bias + the type's taste)
plus a user bias and noise, rounded and clipped to 1..5. Item-level numbers are drawn once on
the driver; users come in chunks of ``PRIZE_CHUNK_USERS``, each from its own generator seeded by
(seed, stream, chunk), so the data do not depend on the partitioning, and a chunk is generated
in one vectorised pass.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.special import ndtri

from spark_em.engine.backend import default_parallelism
from spark_em.engine.block import DEFAULT_BLOCK_ROWS, Block
from spark_em.engine.ops import generated
from spark_em.errors import InputError
from spark_em.io.table import RegressionData
from spark_em.kernels.arrays import compact, sparse_values

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


def _chunk(
    seed: int, chunk: int, rows: int, means: np.ndarray, observed_fraction: float, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, chunk])
    n_types, n_items = means.shape
    types = rng.integers(0, n_types, size=rows)
    truth = np.clip(np.rint(means[types] + rng.normal(0.0, noise, size=(rows, n_items))), 1, 5)
    seen = rng.random((rows, n_items)) < observed_fraction
    seen[np.arange(rows), rng.integers(0, n_items, size=rows)] = True  # no all-missing row
    return np.where(seen, truth, 0.0), truth


def planted_ratings(
    spark,
    n_users: int = 1200,
    n_items: int = 1200,
    n_types: int = 12,
    observed_fraction: float = 0.772,
    noise: float = 0.5,
    seed: int = 0,
    num_partitions: int | None = None,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    backend: str | None = None,
) -> PlantedRatings:
    """Integer ratings 1–5 of ``n_users`` users of ``n_types`` planted types; each entry is
    observed with probability ``observed_fraction`` (the course matrix's 77.2% by default).
    ``spark`` is a session or a SparkContext, ``backend`` ``rdd``, ``dataframe`` or None (what
    the session allows).

    Each type's mean rating per item is drawn once (item quality plus the type's taste,
    clipped to [1, 5]); a user's rating is their type's mean plus normal noise, rounded and
    clipped to 1..5.

    Parameters
    ----------
    spark : SparkSession or SparkContext
        The session (classic or Spark Connect), or a classic session's context.
    n_users, n_items : int, default 1200
        The matrix's rows and columns.
    n_types : int, default 12
        The planted user types.
    observed_fraction : float, default 0.772
        The probability that an entry is observed, in (0, 1] (every user has at least one).
    noise : float, default 0.5
        The standard deviation of the noise around a type's mean.
    seed : int, default 0
        The generators' seed: the same seed gives the same matrix for any partitioning.
    num_partitions : int, optional
        How many partitions; by default the cluster's parallelism (at most one per chunk
        of 512 users).
    block_rows : int, default 4096
        Rows per block.
    backend : {"rdd", "dataframe"}, optional
        Where the blocks live; by default what the session allows (RDD blocks in a classic
        session, the DataFrame backend under Spark Connect).

    Returns
    -------
    PlantedRatings
        ``observed`` (cached blocks of the ratings, 0 = missing) and ``truth`` (the complete
        ratings, blocks on the same rows), with ``n_users``, ``n_items`` and ``n_types``.

    Examples
    --------
    >>> from spark_em import get_spark, planted_ratings
    >>> from spark_em.models import masked
    >>> data = planted_ratings(get_spark(), n_users=300, n_items=80, n_types=3, seed=1)
    >>> run = masked.fit(data.observed, 3, 0)
    """
    if min(n_users, n_items, n_types) < 1 or not 0 < observed_fraction <= 1:
        raise ValueError("n_users, n_items, n_types must be >= 1 and observed_fraction in (0, 1]")
    means = type_means(n_items, n_types, seed)
    starts = list(range(0, n_users, CHUNK_ROWS))

    def make(start: int, which: int) -> list[Block]:
        rows = min(CHUNK_ROWS, n_users - start)
        matrices = _chunk(seed, start // CHUNK_ROWS, rows, means, observed_fraction, noise)
        step = max(1, min(block_rows, rows))
        return [
            Block(start + lo, compact(matrices[which][lo : lo + step]))
            for lo in range(0, rows, step)
        ]

    observed, truth = (
        generated(spark, starts, lambda start, w=which: make(start, w), num_partitions, backend)
        for which in (0, 1)
    )
    return PlantedRatings(observed, truth, n_users, n_items, n_types)


DEMO_CENTRES = ((4.0, 0.0), (6.0, 6.0), (0.0, 4.0))


def blobs(
    spark,
    centres=DEMO_CENTRES,
    rows_per_centre: int = 1000,
    seed: int = 0,
    num_partitions: int | None = None,
    backend: str | None = None,
):
    """Points around each centre with identity covariance (the three-cluster demo by default:
    3×1000 points around (4,0), (6,6), (0,4)); one seeded generator per centre, so the
    same seed gives the same points for any partitioning.

    Parameters
    ----------
    spark : SparkSession or SparkContext
        The session (classic or Spark Connect), or a classic session's context.
    centres : array_like, default ((4, 0), (6, 6), (0, 4))
        The centres, one row each (K × d).
    rows_per_centre : int, default 1000
        Points drawn around each centre.
    seed : int, default 0
        The generators' seed.
    num_partitions : int, optional
        How many partitions; by default the cluster's parallelism (at most one per centre).
    backend : {"rdd", "dataframe"}, optional
        Where the blocks live; by default what the session allows (RDD blocks in a classic
        session, the DataFrame backend under Spark Connect).

    Returns
    -------
    blocks
        Cached blocks of complete data (K · rows_per_centre rows, centre by centre).

    Examples
    --------
    >>> from spark_em import blobs, get_spark
    >>> from spark_em.models import gaussian
    >>> run = gaussian.fit(blobs(get_spark(), seed=1), 3, seed=0)
    >>> run.mixture.means
    """
    centres = np.asarray(centres, dtype=np.float64)

    def make(index: int):
        rng = np.random.default_rng([seed, index])
        points = centres[index] + rng.normal(size=(rows_per_centre, centres.shape[1]))
        return [Block(index * rows_per_centre, points)]

    return generated(spark, list(range(len(centres))), make, num_partitions, backend)


# --- Netflix-Prize-shaped sparse ratings --------------------------------------------------------

PRIZE_USERS = 480_189
PRIZE_ITEMS = 17_770
PRIZE_RATINGS = 100_480_507
PRIZE_CHUNK_USERS = 2048  # users per generator chunk: fixes the data, whatever the partitioning

USER_COUNT_SIGMA = 1.1  # log-sd of a user's number of ratings
ITEM_POPULARITY_SIGMA = 2.6  # log-sd of an item's popularity weight (median weight 1) ...
POPULARITY_CAP = 1500.0  # ... softly capped near this: w / (1 + w / cap)
MEAN_RATING = 3.6
ITEM_BIAS_SD = 0.5
TASTE_SD = 0.7  # how far a user type's mean for an item strays from the item's mean
USER_BIAS_SD = 0.35
NOISE_SD = 0.6
TYPE_CONCENTRATION = 4.0  # Dirichlet concentration of the (unequal) type weights
MAX_DRAWS_PER_ITEM = 4  # a user draws at most this many times the number of items
TRIPLES_SCHEMA = "user long, item long, rating int"

_PRIZE_ITEMS_STREAM = 2**32 - 2
_PRIZE_USERS_STREAM = 2**32 - 3
_NORMAL_QUANTILES = ndtri((np.arange(8192) + 0.5) / 8192)
_DRAW_GRID_POINTS = 256


class PrizeShape(NamedTuple):
    """The size of a synthetic ratings matrix (the Netflix Prize's by default) and its seed."""

    n_users: int = PRIZE_USERS
    n_items: int = PRIZE_ITEMS
    n_ratings: int = PRIZE_RATINGS
    n_types: int = 12
    seed: int = 0

    def scaled(self, fraction: float) -> PrizeShape:
        """This shape with users and ratings times ``fraction`` and items times its square root.

        Ratings per user stay as they are and ratings per item shrink with √fraction, so both
        remain in the range real catalogues show (1%: 4,802 users × 1,777 items, 1.0M ratings).
        """
        if not 0 < fraction <= 1:
            raise InputError(f"the fraction must be in (0, 1], got {fraction}")
        return self._replace(
            n_users=max(1, round(self.n_users * fraction)),
            n_items=max(1, round(self.n_items * math.sqrt(fraction))),
            n_ratings=max(1, round(self.n_ratings * fraction)),
        )

    @property
    def n_chunks(self) -> int:
        """The number of generator chunks (of ``PRIZE_CHUNK_USERS`` users)."""
        return -(-self.n_users // PRIZE_CHUNK_USERS)

    def validated(self) -> PrizeShape:
        """The same shape as plain ints; an ``InputError`` says what is impossible about it."""
        shape = PrizeShape(*(int(v) for v in self))
        problems = [
            (
                min(shape.n_users, shape.n_items, shape.n_types) < 1,
                "users, items and types must each be at least 1",
            ),
            (
                shape.n_ratings < shape.n_users,
                f"{shape.n_ratings} ratings is fewer than the {shape.n_users} users "
                "(each rates >= 1)",
            ),
            (
                shape.n_ratings > shape.n_users * shape.n_items,
                f"{shape.n_ratings} ratings do not fit in {shape.n_users} users x "
                f"{shape.n_items} items",
            ),
            (shape.seed < 0, f"the seed must be >= 0, got {shape.seed}"),
        ]
        for bad, message in problems:
            if bad:
                raise InputError(message)
        return shape


PRIZE = PrizeShape()  # the Netflix Prize's size


class PrizeParameters(NamedTuple):
    """What every chunk needs, drawn once on the driver (small: n_types × n_items)."""

    cumulative_popularity: np.ndarray  # (n_items,), ends at 1
    type_means: np.ndarray  # (n_types, n_items) float32: each type's mean rating per item
    type_weights: np.ndarray  # (n_types,)
    count_scale: float  # a user's wanted ratings = count_scale × lognormal(0, USER_COUNT_SIGMA)
    distinct_expected: np.ndarray  # expected distinct items after draw_grid draws (increasing)
    draw_grid: np.ndarray


def _expected_distinct(popularity: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """The expected number of distinct items among ``draws`` draws with replacement."""
    log_miss = np.log1p(-np.minimum(popularity, 1 - 1e-12))
    return np.array([-np.expm1(d * log_miss).sum() for d in draws])


def _draws_table(popularity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(expected distinct items, draws) on a grid, distinct strictly increasing for np.interp."""
    most = MAX_DRAWS_PER_ITEM * len(popularity)
    grid = np.unique(np.rint(np.geomspace(1, most, _DRAW_GRID_POINTS)))
    distinct = _expected_distinct(popularity, grid)
    rising = np.diff(distinct, prepend=-np.inf) > 1e-9
    return distinct[rising], grid[rising]


def _count_scale(mean_count: float, n_items: int, most_distinct: float) -> float:
    """The scale that gives users ``mean_count`` distinct ratings on average, after the floor of
    one rating, the ceiling of ``n_items`` and what ``MAX_DRAWS_PER_ITEM`` draws can reach."""
    spread = np.exp(USER_COUNT_SIGMA * _NORMAL_QUANTILES)

    def expected(log_scale: float) -> float:
        wanted = np.clip(np.exp(log_scale) * spread, 1, n_items)
        return float(np.minimum(wanted, most_distinct).mean())

    lo, hi = -30.0, math.log(n_items) + 30.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if expected(mid) < mean_count else (lo, mid)
    return math.exp((lo + hi) / 2)


def prize_parameters(shape: PrizeShape) -> PrizeParameters:
    """Item popularity, item biases, type means and type weights for ``shape`` (seeded)."""
    shape = shape.validated()
    rng = np.random.default_rng([shape.seed, _PRIZE_ITEMS_STREAM])
    weights = rng.lognormal(0.0, ITEM_POPULARITY_SIGMA, size=shape.n_items)
    weights /= 1 + weights / POPULARITY_CAP
    popularity = weights / weights.sum()
    cumulative = np.cumsum(popularity)
    cumulative[-1] = 1.0
    item_bias = rng.normal(0.0, ITEM_BIAS_SD, size=shape.n_items)
    taste = rng.normal(0.0, TASTE_SD, size=(shape.n_types, shape.n_items))
    type_means = (MEAN_RATING + item_bias[None, :] + taste).astype(np.float32)
    type_weights = rng.dirichlet(np.full(shape.n_types, TYPE_CONCENTRATION))
    distinct, grid = _draws_table(popularity)
    scale = _count_scale(shape.n_ratings / shape.n_users, shape.n_items, distinct[-1])
    return PrizeParameters(cumulative, type_means, type_weights, scale, distinct, grid)


def _chunk_users(shape: PrizeShape, chunk: int) -> tuple[int, int]:
    """(first global user, number of users) of a chunk."""
    start = chunk * PRIZE_CHUNK_USERS
    return start, min(PRIZE_CHUNK_USERS, shape.n_users - start)


def _draw_types(rng: np.random.Generator, rows: int, type_weights: np.ndarray) -> np.ndarray:
    """Each user's type: the first draw from a chunk's generator (``user_types`` repeats it)."""
    return rng.choice(len(type_weights), size=rows, p=type_weights)


def _draws_per_user(
    rng: np.random.Generator, rows: int, n_items: int, params: PrizeParameters
) -> np.ndarray:
    """Draws with replacement per user, enough to leave the wanted number of distinct items on
    average once repeats are dropped."""
    wanted = np.clip(
        np.rint(params.count_scale * rng.lognormal(0.0, USER_COUNT_SIGMA, rows)), 1, n_items
    )
    draws = np.interp(wanted, params.distinct_expected, params.draw_grid)
    return np.maximum(np.rint(draws), wanted).astype(np.int64)


def _distinct_items(
    rng: np.random.Generator, draws: np.ndarray, cumulative: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) pairs, sorted, repeats dropped, from ``draws[u]`` popularity-weighted draws
    with replacement for each user u.

    A user's uniforms are sorted before the search (the order of i.i.d. draws carries nothing):
    sorted queries make ``np.searchsorted`` several times faster and come out sorted by item.
    """
    users = np.repeat(np.arange(len(draws), dtype=np.int64), draws)
    uniforms = np.sort(users + rng.random(len(users))) - users  # sorted within each user
    items = np.minimum(np.searchsorted(cumulative, uniforms, side="right"), len(cumulative) - 1)
    first = np.ones(len(users), dtype=bool)
    first[1:] = (users[1:] != users[:-1]) | (items[1:] != items[:-1])
    return users[first], items[first]


def prize_chunk(
    shape: PrizeShape, params: PrizeParameters, chunk: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One chunk's ratings as (user within the chunk, item, rating) arrays, sorted by user then
    item, each (user, item) once; ratings are uint8 in 1..5."""
    _, rows = _chunk_users(shape, chunk)
    rng = np.random.default_rng([shape.seed, _PRIZE_USERS_STREAM, chunk])
    types = _draw_types(rng, rows, params.type_weights)
    draws = _draws_per_user(rng, rows, shape.n_items, params)
    user_bias = rng.normal(0.0, USER_BIAS_SD, size=rows)
    users, items = _distinct_items(rng, draws, params.cumulative_popularity)
    score = (
        params.type_means[types[users], items]
        + user_bias[users]
        + rng.normal(0.0, NOISE_SD, size=len(users))
    )
    ratings = np.clip(np.rint(score), 1, 5).astype(np.uint8)
    return users, items, ratings


def user_types(shape: PrizeShape) -> np.ndarray:
    """Every user's planted type (0..n_types-1), as the generator drew them, on the driver."""
    shape = shape.validated()
    params = prize_parameters(shape)
    pieces = []
    for chunk in range(shape.n_chunks):
        _, rows = _chunk_users(shape, chunk)
        rng = np.random.default_rng([shape.seed, _PRIZE_USERS_STREAM, chunk])
        pieces.append(_draw_types(rng, rows, params.type_weights))
    return np.concatenate(pieces)


def _partitions(shape: PrizeShape, num_partitions: int | None, default: int) -> int:
    if num_partitions is not None and num_partitions < 1:
        raise InputError(f"the number of partitions must be >= 1, got {num_partitions}")
    return max(1, min(shape.n_chunks, num_partitions or default))


def prize_blocks(
    spark,
    shape: PrizeShape = PRIZE,
    num_partitions: int | None = None,
    backend: str | None = None,
):
    """Cached blocks of sparse ratings in ``shape``, generated on the executors: one ``Block``
    per chunk of ``PRIZE_CHUNK_USERS`` users, its values a CSR array (users × n_items, uint8
    ratings, 0 = missing). The same seed gives the same blocks for any ``num_partitions``."""
    shape = shape.validated()
    params = prize_parameters(shape)

    def make(chunk: int) -> list[Block]:
        start, rows = _chunk_users(shape, chunk)
        users, items, ratings = prize_chunk(shape, params, chunk)
        # int32 positions keep the CSR's indptr and indices in one index dtype
        values = sparse_values(
            users.astype(np.int32), items.astype(np.int32), ratings, (rows, shape.n_items)
        )
        return [Block(start, values)]

    partitions = _partitions(shape, num_partitions, default_parallelism(spark))
    return generated(spark, list(range(shape.n_chunks)), make, partitions, backend)


def prize_triples(spark, shape: PrizeShape = PRIZE, num_partitions: int | None = None):
    """The ratings of ``prize_blocks`` (the very same entries) as a DataFrame
    ``user long, item long, rating int`` with global user and item indices, generated on the
    executors.

    Parameters
    ----------
    spark : SparkSession
        The session (classic or Spark Connect).
    shape : PrizeShape, default PRIZE
        Users, items, ratings, planted types and seed; by default the Netflix Prize's size
        (``PRIZE.scaled(0.01)``: 1% of its users and ratings).
    num_partitions : int, optional
        How many partitions; by default the cluster's parallelism (at most one per chunk
        of users).

    Returns
    -------
    pyspark.sql.DataFrame
        The ratings, ``user long, item long, rating int`` (1..5), one row per rating.

    Examples
    --------
    >>> from spark_em import MixtureRecommender, get_spark, prize_triples
    >>> from spark_em.io.synthetic import PRIZE
    >>> ratings = prize_triples(get_spark(), PRIZE.scaled(0.01))
    >>> model = MixtureRecommender(k=12).fit(ratings)
    """
    shape = shape.validated()
    params = prize_parameters(shape)

    def batches(chunk_batches):
        import pyarrow as pa

        for chunk_batch in chunk_batches:
            for chunk in chunk_batch.column(0).to_pylist():
                start, _ = _chunk_users(shape, chunk)
                users, items, ratings = prize_chunk(shape, params, chunk)
                yield pa.RecordBatch.from_arrays(
                    [pa.array(users + start), pa.array(items), pa.array(ratings.astype(np.int32))],
                    names=["user", "item", "rating"],
                )

    partitions = _partitions(shape, num_partitions, default_parallelism(spark))
    return spark.range(shape.n_chunks, numPartitions=partitions).mapInArrow(batches, TRIPLES_SCHEMA)


# --- the weighted least-squares experiment --------------------------------------------------

EXPERIMENT_ROWS = 1_000_000
EXPERIMENT_CHUNK_ROWS = 100_000


def _chunk_x(start: int, n_rows: int, seed: int, low: float, high: float):
    """The generator of the experiments' chunk of rows from ``start`` and its x ~ U(low,
    high)."""
    rng = np.random.default_rng([seed, start // EXPERIMENT_CHUNK_ROWS])
    return rng, rng.uniform(low, high, size=min(EXPERIMENT_CHUNK_ROWS, n_rows - start))


def wols_experiment(
    spark,
    n_rows: int = EXPERIMENT_ROWS,
    slope: float = 1.0,
    intercept: float = -4.0,
    noise_sd: float = 0.5,
    low: float = -4.0,
    high: float = 4.0,
    seed: int = 0,
    num_partitions: int | None = None,
    backend: str | None = None,
) -> RegressionData:
    """The 1M-point weighted least-squares experiment: x ~ U(low, high),
    y = slope·x + intercept + ε with ε ~ N(0, noise_sd²) (0.5 is the standard deviation),
    weight ``|1/x|``. Chunks of rows have their own seeded generators, so the data are the same
    for any number of partitions. A point at x = 0 exactly (weight ∞) is drawn again.

    Parameters
    ----------
    spark : SparkSession or SparkContext
        The session (classic or Spark Connect), or a classic session's context.
    n_rows : int, default 1000000
        The points.
    slope, intercept : float, default 1.0, -4.0
        The line the points are drawn around.
    noise_sd : float, default 0.5
        The standard deviation of ε.
    low, high : float, default -4.0, 4.0
        The range x is drawn from.
    seed : int, default 0
        The generators' seed.
    num_partitions : int, optional
        How many partitions; by default the cluster's parallelism (at most one per chunk
        of 100,000 rows).
    backend : {"rdd", "dataframe"}, optional
        Where the blocks live; by default what the session allows (RDD blocks in a classic
        session, the DataFrame backend under Spark Connect).

    Returns
    -------
    RegressionData
        Cached rows [y, x] with the weights ``|1/x|``, ``feature_names`` ``["x"]`` and
        ``n_rows``; ``models.wols.fit`` takes it.

    Examples
    --------
    >>> from spark_em import get_spark, wols_experiment
    >>> from spark_em.models import wols
    >>> result = wols.fit(wols_experiment(get_spark(), n_rows=100_000), "qr")
    >>> result.intercept, result.coefficients  # near -4 and [1]
    """
    starts = list(range(0, n_rows, EXPERIMENT_CHUNK_ROWS))

    def make(start: int) -> list[Block]:
        rng, x = _chunk_x(start, n_rows, seed, low, high)
        while np.any(x == 0):
            x[x == 0] = rng.uniform(low, high, size=int(np.sum(x == 0)))
        y = slope * x + intercept + rng.normal(0.0, noise_sd, size=len(x))
        return [Block(start, np.column_stack([y, x]), np.abs(1.0 / x))]

    return RegressionData(generated(spark, starts, make, num_partitions, backend), ["x"], n_rows)


TWO_REGIMES = ((1.0, -4.0), (-0.5, 1.0))  # (slope, intercept) of each regime


def mixreg_experiment(
    spark,
    n_rows: int = EXPERIMENT_ROWS,
    lines: tuple[tuple[float, float], ...] = TWO_REGIMES,
    weights: tuple[float, ...] | None = None,
    noise_sd: float = 0.5,
    low: float = -4.0,
    high: float = 4.0,
    seed: int = 0,
    num_partitions: int | None = None,
    backend: str | None = None,
) -> RegressionData:
    """Points from several regimes, the mixture of regressions' experiment: x ~ U(low, high),
    a regime k drawn with probability ``weights[k]`` (equal by default), and
    y = slope_k·x + intercept_k + ε with ε ~ N(0, noise_sd²). Every row weighs 1. Chunks of
    rows have their own seeded generators, so the data are the same for any number of
    partitions.

    Parameters
    ----------
    spark : SparkSession or SparkContext
        The session (classic or Spark Connect), or a classic session's context.
    n_rows : int, default 1000000
        The points.
    lines : tuple of (slope, intercept), default ((1.0, -4.0), (-0.5, 1.0))
        Each regime's line.
    weights : tuple of float, optional
        Each regime's probability (they are normalised); equal by default.
    noise_sd : float, default 0.5
        The standard deviation of ε in every regime.
    low, high : float, default -4.0, 4.0
        The range x is drawn from.
    seed : int, default 0
        The generators' seed.
    num_partitions : int, optional
        How many partitions; by default the cluster's parallelism (at most one per chunk
        of 100,000 rows).
    backend : {"rdd", "dataframe"}, optional
        Where the blocks live; by default what the session allows.

    Returns
    -------
    RegressionData
        Cached rows [y, x], ``feature_names`` ``["x"]`` and ``n_rows``;
        ``models.mixreg.fit`` takes its ``blocks``.

    Examples
    --------
    >>> from spark_em import get_spark, mixreg_experiment
    >>> from spark_em.models import mixreg
    >>> data = mixreg_experiment(get_spark(), n_rows=100_000)
    >>> mixreg.fit(data.blocks, 2, range(3)).mixture.coefficients  # near the two lines
    """
    slopes, intercepts = (np.asarray(v, dtype=np.float64) for v in zip(*lines))
    p = np.full(len(slopes), 1.0) if weights is None else np.asarray(weights, dtype=np.float64)
    if len(p) != len(slopes) or not np.all(p >= 0) or not p.sum() > 0:
        raise InputError("weights must be one probability (>= 0) per line, not all 0")
    p = p / p.sum()
    starts = list(range(0, n_rows, EXPERIMENT_CHUNK_ROWS))

    def make(start: int) -> list[Block]:
        rng, x = _chunk_x(start, n_rows, seed, low, high)
        regime = rng.choice(len(p), size=len(x), p=p)
        y = slopes[regime] * x + intercepts[regime] + rng.normal(0.0, noise_sd, size=len(x))
        return [Block(start, np.column_stack([y, x]))]

    return RegressionData(generated(spark, starts, make, num_partitions, backend), ["x"], n_rows)
