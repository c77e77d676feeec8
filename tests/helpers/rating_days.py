"""Small ratings for the update tests: rows of three user types (0 = missing), the same as
(user, item, rating) records on items 0, 10, …, 110, a recommender fitted on them, and a day
that adds ratings of known users, two new users and a new item (55, between known ones)."""

from __future__ import annotations

import warnings

import numpy as np

from spark_em.errors import ConvergenceWarning

ITEMS = np.arange(12) * 10
SCHEMA = "u long, i long, r double"


def ratings(seed: int, n: int, d: int = 12, missing: float = 0.45) -> np.ndarray:
    """n users' rows of d ratings in (0.5, 5.5), three types, a share ``missing`` as 0."""
    rng = np.random.default_rng(seed)
    types = np.random.default_rng(0).integers(1, 6, size=(3, d)).astype(float)
    R = types[rng.integers(0, 3, size=n)] + rng.normal(scale=0.4, size=(n, d))
    return np.where(rng.random((n, d)) < missing, 0.0, np.clip(R, 0.5, 5.5))


def triples(R, users) -> list[tuple[int, int, float]]:
    """The observed entries of ``R`` as (user, item, rating), rows named by ``users``."""
    return [
        (int(u), int(ITEMS[i]), float(R[r, i]))
        for r, u in enumerate(users)
        for i in np.flatnonzero(R[r])
    ]


def fitted_recommender(spark, backend: str = "auto"):
    """(A recommender fitted by a few EM iterations on 60 users, their rating rows)."""
    from spark_em.ml import MixtureRecommender

    train = ratings(3, 60, missing=0.6)
    frame = spark.createDataFrame(triples(train, range(60)), SCHEMA)
    with warnings.catch_warnings():  # a few iterations are enough to update from
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MixtureRecommender(
            userCol="u",
            itemCol="i",
            ratingCol="r",
            k=3,
            nInit=1,
            maxIter=4,
            seed=2,
            backend=backend,
        ).fit(frame)
    return model, train


def a_day(train) -> list[tuple[int, int, float]]:
    """New ratings: unrated items of users 3, 7 and 20, users 100 and 101, item 55."""
    day = []
    for u in (3, 7, 20):
        for i in np.flatnonzero(train[u] == 0)[:3]:
            day.append((u, int(ITEMS[i]), float(1 + (u + i) % 5)))
    day += [(100, 0, 4.0), (100, 30, 2.0), (100, 55, 5.0), (101, 110, 1.0), (7, 55, 3.0)]
    return day
