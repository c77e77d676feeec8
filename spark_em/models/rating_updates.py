"""A fitted masked mixture updated from new ratings without a refit, on cached blocks.

The kernels are in ``kernels.masked_stepwise``: the model keeps the statistics of its ratings
(``statistics``, one pass after a fit), and an update with new ratings of known users, new
users and new items (``with_ratings``) replaces the changed users' contributions in one pass
over the cached training blocks that computes only the rows of users with new ratings; new
users' rows are computed on the driver. The new ratings themselves are read by
``io.triples.read_triples`` and gathered to the driver: an update is meant for a day's
ratings, not for a data set's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from spark_em.engine import ops
from spark_em.errors import InputError
from spark_em.io.triples import RatingsIndex, TripleRatings, positions
from spark_em.kernels import masked, masked_stepwise
from spark_em.kernels.arrays import add_fields
from spark_em.kernels.masked import MaskedStats, SphericalMixture


def statistics(blocks, mixture: SphericalMixture) -> MaskedStats:
    """The summed statistics of the rows of ``blocks`` under ``mixture``: one pass."""
    return ops.aggregate(blocks, masked.block_stats, add_fields, mixture)


@dataclass
class RatingsUpdate:
    """What ``with_ratings`` gives: the updated mixture over ``items``, its statistics (their
    ``log_likelihood``: all the ratings' under the model before the update, exactly so after a
    fit) and the user ids now known."""

    mixture: SphericalMixture
    stats: MaskedStats
    items: np.ndarray
    users: np.ndarray


def _gathered(new: TripleRatings) -> sparse.csr_array:
    """The new ratings' blocks as one CSR array on the driver, users × items of their index."""
    pieces = sorted(ops.collect(new.blocks, lambda b: (b.offset, b.values)), key=lambda p: p[0])
    return sparse.csr_array(sparse.vstack([sparse.csr_array(v) for _, v in pieces], format="csr"))


def _merged_ids(known: np.ndarray, new: np.ndarray, what: str) -> np.ndarray:
    if (known.dtype.kind in "US") != (new.dtype.kind in "US"):
        raise InputError(
            f"the new ratings' {what} ids are {'text' if new.dtype.kind in 'US' else 'numbers'} "
            f"but the model's are {'text' if known.dtype.kind in 'US' else 'numbers'}"
        )
    return np.union1d(known, new)


def _spread(matrix: sparse.csr_array, rows: np.ndarray, n_rows: int) -> sparse.csr_array:
    """``matrix``'s row r moved to row ``rows[r]`` of an ``n_rows``-row array."""
    coo = matrix.tocoo()
    return sparse.csr_array((coo.data, (rows[coo.row], coo.col)), shape=(n_rows, matrix.shape[1]))


def with_ratings(
    blocks,
    index: RatingsIndex,
    mixture: SphericalMixture,
    stats: MaskedStats,
    new: TripleRatings,
    min_variance: float = masked.MIN_VARIANCE,
    prior_strength: float = 0.0,
) -> RatingsUpdate:
    """The model (``mixture`` fitted on ``blocks``, whose statistics are ``stats``) updated
    with the ratings ``new`` by (13) of ``kernels.masked_stepwise``: each user with new
    ratings contributes their old and new ratings instead of their old ones, new users and new
    items join, and the parameters are the M-step of the result (with a prior of
    ``prior_strength``, centred on the items' mean ratings, when it is > 0). A (user, item)
    pair rated in both is an ``InputError``.

    Parameters
    ----------
    blocks
        The cached training blocks (users × items of ``index``, CSR).
    index : io.triples.RatingsIndex
        Their user and item ids.
    mixture : kernels.masked.SphericalMixture
        The model.
    stats : kernels.masked.MaskedStats
        The statistics of the training ratings (under ``mixture`` after a fit).
    new : io.triples.TripleRatings
        The new ratings, as ``read_triples`` reads them.
    min_variance : float, default 0.25
        The variance floor of the M-step.
    prior_strength : float, default 0
        The prior of the M-step (``masked.MeanPrior``).

    Returns
    -------
    RatingsUpdate
        The updated mixture, its statistics, and the item and user ids.

    Examples
    --------
    >>> from spark_em.io.triples import read_triples
    >>> day = read_triples(todays_ratings, "userId", "movieId", "rating")
    >>> update = with_ratings(data.blocks, data.index, mixture, stats, day)
    >>> update.mixture.means.shape, update.items
    """
    day = _gathered(new)
    items = _merged_ids(index.items, new.index.items, "item")
    users = _merged_ids(index.users, new.index.users, "user")
    d = len(items)
    columns = positions(items, index.items)
    day = sparse.csr_array(
        (day.data, positions(items, new.index.items)[day.indices], day.indptr),
        shape=(day.shape[0], d),
    )
    day_means = masked.column_means(day.sum(axis=0), masked.column_counts(day))
    wide, wide_stats = masked_stepwise.widened(mixture, stats, columns, d, day_means)
    rows = index.rows_of(new.index.users)
    known = np.flatnonzero(rows >= 0)
    newcomers = np.flatnonzero(rows < 0)
    added = masked_stepwise.zero_stats(*wide.means.shape)
    if known.size:
        params = (wide, _spread(day[known], rows[known], len(index.users)), columns)
        added, repeat = ops.reduce(
            blocks,
            lambda b: masked_stepwise.user_changes(b.values, b.offset, params),
            lambda a, b: (add_fields(a[0], b[0]), masked_stepwise.first_repeat(a[1], b[1])),
        )
        if repeat[0]:
            user, item = index.users[repeat[1]].item(), items[repeat[2]].item()
            raise InputError(
                f"user {user!r} has already rated item {item!r} ({int(repeat[0])} such pairs "
                "in the new ratings): an update adds ratings; a changed rating needs a refit"
            )
    if newcomers.size:
        added = add_fields(added, masked.block_stats(day[newcomers], wide))
    total = masked_stepwise.clipped(add_fields(wide_stats, added))
    updated = masked_stepwise.refreshed(total, wide, min_variance, prior_strength)
    return RatingsUpdate(updated, total, items, users)
