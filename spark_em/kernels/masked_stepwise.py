"""Updates of a fitted masked mixture from new ratings, without a refit.

Pure numpy/scipy. A fitted model keeps the summed statistics S of its ratings under its own
parameters (``MaskedStats``: Σ p(j|u), Σ p(j|u) δ x, Σ p(j|u) δ, Σ p(j|u) ‖x_C‖², rows); the
M-step of S is the model (``masked.update``). Two updates follow from it:

- **New rows** (``merged``), stepwise EM in sums: with a batch's statistics S_b over n_b rows
  and a step η, the normalised statistics move as s ← (1 − η) s + η s_b; in sums, with the
  model standing for n' = n_b / η rows afterwards,

  (12) S' = (1 − η) (n' / n) S + S_b,

  so η = n_b / (n + n_b) (the default) gives S + S_b, the batch counted as a refit on all the
  rows would count it, and η = 1 gives S_b: one batch EM iteration on the batch.
- **New ratings of users the model knows** (``user_changes``), incremental EM (Neal & Hinton
  1998): a user's contribution to S is replaced by the one of their ratings with the new
  ones added, both under the same parameters,

  (13) S' = S − S_U(old ratings of U) + S_U(old and new ratings of U) + S(new users),

  which, when S was computed under the current parameters (as after a fit), is exactly one
  EM iteration on all the ratings from them. New items enter as new columns (``widened``):
  their means start at their ratings' mean under every component, and S holds 0 for them.

With a prior on the means (``masked.MeanPrior``) its centre, each item's mean rating, is read
from S itself (``prior_centre``): Σ_j of the item's weighted sums and counts are its ratings'
sum and count, since the posteriors of a user sum to 1.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from spark_em.kernels import masked
from spark_em.kernels.masked import MaskedStats, SphericalMixture


def zero_stats(k: int, d: int) -> MaskedStats:
    """The statistics of no rows: K components, d columns."""
    return MaskedStats(0.0, 0, np.zeros(k), np.zeros((k, d)), np.zeros((k, d)), np.zeros(k))


def _combination(a: MaskedStats, x: float, b: MaskedStats, y: float) -> MaskedStats:
    """x·a + y·b, field by field."""
    return MaskedStats(
        log_likelihood=x * a.log_likelihood + y * b.log_likelihood,
        n_rows=x * a.n_rows + y * b.n_rows,
        resp=x * a.resp + y * b.resp,
        resp_x=x * a.resp_x + y * b.resp_x,
        resp_observed=x * a.resp_observed + y * b.resp_observed,
        resp_sq_norm=x * a.resp_sq_norm + y * b.resp_sq_norm,
    )


def difference(a: MaskedStats, b: MaskedStats) -> MaskedStats:
    """``a − b`` field by field: the statistics of rows in ``a`` and not in ``b``."""
    return _combination(a, 1.0, b, -1.0)


def merged(stats: MaskedStats | None, batch: MaskedStats, step: float | None = None) -> MaskedStats:
    """(12): the model's statistics ``stats`` after a stepwise update with ``batch``'s.

    Parameters
    ----------
    stats : kernels.masked.MaskedStats or None
        The model's summed statistics (over ``stats.n_rows`` rows); None only with a step
        of 1, which does not keep them.
    batch : kernels.masked.MaskedStats
        The batch's, under the model's parameters.
    step : float, optional
        η in (0, 1]; by default n_b / (n + n_b).

    Returns
    -------
    kernels.masked.MaskedStats
        S' of (12), over n' = n_b / η rows.

    Examples
    --------
    >>> from spark_em.kernels import masked, masked_stepwise
    >>> batch = masked.block_stats(X_new, mixture)
    >>> stats = masked_stepwise.merged(stats, batch)  # S + S_b
    """
    n_b = float(batch.n_rows)
    if n_b <= 0:
        raise ValueError("a batch needs rows")
    if step is not None and not 0.0 < float(step) <= 1.0:
        raise ValueError(f"stepSize must be in (0, 1], got {step}")
    if step is not None and float(step) == 1.0:
        return batch
    if stats is None or float(stats.n_rows) <= 0:
        raise ValueError("the model holds no statistics to keep (a step below 1 needs them)")
    n = float(stats.n_rows)
    eta = n_b / (n + n_b) if step is None else float(step)
    keep = (1.0 - eta) * (n_b / eta) / n
    return _combination(stats, keep, batch, 1.0)


def clipped(stats: MaskedStats) -> MaskedStats:
    """``stats`` with every sum of non-negative terms at least 0. Exact statistics are, up to
    rounding; after several incremental updates a user's contribution is removed under other
    parameters than it was added under, and a sum the user made up alone could go below 0."""
    return stats._replace(
        resp=np.maximum(stats.resp, 0.0),
        resp_x=np.maximum(stats.resp_x, 0.0),
        resp_observed=np.maximum(stats.resp_observed, 0.0),
        resp_sq_norm=np.maximum(stats.resp_sq_norm, 0.0),
    )


def prior_centre(stats: MaskedStats) -> np.ndarray:
    """Each column's mean rating read from the statistics (``masked.column_means``)."""
    return masked.column_means(stats.resp_x.sum(axis=0), stats.resp_observed.sum(axis=0))


def refreshed(
    stats: MaskedStats,
    mixture: SphericalMixture,
    min_variance: float = masked.MIN_VARIANCE,
    prior_strength: float = 0.0,
) -> SphericalMixture:
    """The M-step of ``stats`` (``masked.update``), with a prior of ``prior_strength`` centred
    on the columns' mean ratings in ``stats`` when it is > 0; ``mixture``'s means are kept
    where the course's rule keeps them."""
    prior = (
        masked.MeanPrior(float(prior_strength), prior_centre(stats)) if prior_strength > 0 else None
    )
    return masked.update(stats, mixture.means, min_variance, prior)


def widened(
    mixture: SphericalMixture,
    stats: MaskedStats | None,
    columns: np.ndarray,
    d: int,
    new_means: np.ndarray,
) -> tuple[SphericalMixture, MaskedStats | None]:
    """The mixture and statistics over ``d`` columns, the old column c moved to
    ``columns[c]``; each new column's mean is ``new_means`` (d, read at the new columns) under
    every component and its statistics are 0."""
    k = len(mixture.weights)
    new = np.setdiff1d(np.arange(d), columns)
    means = np.empty((k, d))
    means[:, columns] = mixture.means
    means[:, new] = np.asarray(new_means, dtype=np.float64)[new]

    def spread(a):
        out = np.zeros((k, d))
        out[:, columns] = a
        return out

    wide = SphericalMixture(np.asarray(mixture.weights, float), means, mixture.variances)
    if stats is None:
        return wide, None
    return wide, stats._replace(
        resp_x=spread(stats.resp_x), resp_observed=spread(stats.resp_observed)
    )


def user_changes(block_values, offset: int, params) -> tuple[MaskedStats, np.ndarray]:
    """(13)'s change for one block of users: S_U(old and new) − S_U(old) over the block's
    users that have new ratings, and a repeated rating found, if any.

    ``params`` is (mixture over the new columns, new ratings as a CSR array with one row per
    known user and the new columns, the new column of each old column). The second value is
    [count, row, column] of (user, item) pairs both old and new (row −1 when none).
    """
    mixture, new_ratings, columns = params
    k, d = mixture.means.shape
    rows = block_values.shape[0]
    new = sparse.csr_array(new_ratings[offset : offset + rows])
    hit = np.flatnonzero(np.diff(new.indptr))
    none = np.array([0, -1, -1], dtype=np.int64)
    if hit.size == 0:
        return zero_stats(k, d), none
    old = sparse.csr_array(block_values)[hit]
    old = sparse.csr_array((old.data, columns[old.indices], old.indptr), shape=(hit.size, d))
    new = new[hit]
    both = old.multiply(new).tocoo()
    if both.nnz:
        first = np.lexsort((both.col, both.row))[0]
        found = np.array([both.nnz, offset + hit[both.row[first]], both.col[first]])
        return zero_stats(k, d), found
    changed = difference(masked.block_stats(old + new, mixture), masked.block_stats(old, mixture))
    return changed, none


def first_repeat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two ``user_changes`` reports combined: the counts added, the first pair kept."""
    if a[0] == 0:
        return b
    if b[0] == 0:
        return a
    first = a if (a[1], a[2]) <= (b[1], b[2]) else b
    return np.array([a[0] + b[0], first[1], first[2]])
