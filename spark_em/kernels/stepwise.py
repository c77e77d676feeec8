"""Stepwise (online) EM for the Gaussian mixture: one batch's statistics moved into the
model's by a step η.

Pure numpy. Stepwise EM (Cappé & Moulines 2009; Liang & Klein 2009 for mini-batches) keeps
the expected sufficient statistics per row, s, and after each batch b

(11) s ← (1 − η) s + η s_b,   then the parameters are the M-step (9)–(10) of s,

with s_b the batch's statistics under the current parameters, normalised by its rows (or
the sum of its weights). With η = 1 this is one batch EM iteration on b.

The statistics s are never stored: the model's own parameters imply them (w_k, μ_k and the
second central moment C_k = Σ_k − reg·I of each component; the tied type's M-step needs only
Σ_k w_k C_k and the spherical one only the trace of C_k, which is what those parameters keep).
(11) is applied in that centred form, as two sets of weighted moments are merged (Chan,
Golub & LeVeque): with a = (1 − η) w_k, b = η w_bk, δ = μ_bk − μ_k,

    w'_k = a + b,   μ'_k = μ_k + (b / w'_k) δ,
    w'_k C'_k = a C_k + b C_bk + (a b / w'_k) δ δᵀ,

which equals (11) on uncentred moments and keeps its digits for data far from the origin.

Step sizes (``step_size``): η_t = (t + 2)^(−α) after t earlier updates (``decay`` α in
(0.5, 1]); with a half-life of h rows, η = 1 − 2^(−n_b / h), so statistics h rows old weigh
half (a constant step, for data that drift); with neither, η = n_b / (n + n_b), the step
that adds the batch to the n rows the model stands for as a refit on all of them would
count it (the update of a model fitted in batch).
"""

from __future__ import annotations

import numpy as np

from spark_em.kernels.gaussian import EMPTY_COMPONENT, REG_COVAR, GaussianStats, Mixture

DECAY_RANGE = (0.5, 1.0)


def check_decay(decay: float) -> float:
    """``decay`` if it is in (0.5, 1] (the range where stepwise EM converges), else a
    ``ValueError``."""
    low, high = DECAY_RANGE
    if not (low < float(decay) <= high):
        raise ValueError(f"stepDecay must be in ({low}, {high}], got {decay}")
    return float(decay)


def step_size(
    n_batch: float,
    n_updates: int,
    n_seen: float,
    decay: float | None = None,
    half_life: float | None = None,
) -> float:
    """The step η of the next update (see the module's docstring): the half-life's when
    ``half_life`` is given, else (t + 2)^(−decay) with t = ``n_updates`` when ``decay`` is
    given, else n_b / (n + n_b) with n = ``n_seen``."""
    if n_batch <= 0:
        raise ValueError(f"a batch needs rows (a positive weight), got {n_batch}")
    if half_life is not None:
        if not half_life > 0:
            raise ValueError(f"halfLife must be > 0 rows, got {half_life}")
        return float(-np.expm1(-np.log(2.0) * n_batch / half_life))
    if decay is not None:
        return float((n_updates + 2.0) ** -check_decay(decay))
    return float(n_batch / (n_seen + n_batch))


def _own_moments(previous: Mixture, reg_covar: float) -> np.ndarray:
    """C_k implied by the parameters, one per component: K×d×d (full, tied) or K×d."""
    kind, cov = previous.covariance_type, np.asarray(previous.covariances, dtype=np.float64)
    K, d = previous.means.shape
    if kind == "full":
        return cov - reg_covar * np.eye(d)
    if kind == "tied":
        return np.broadcast_to(cov - reg_covar * np.eye(d), (K, d, d))
    if kind == "diag":
        return cov - reg_covar
    return np.repeat((cov - reg_covar)[:, None], d, axis=1)


def update(
    stats: GaussianStats, previous: Mixture, step: float, reg_covar: float = REG_COVAR
) -> Mixture:
    """The mixture after the stepwise update (11) with step ``step`` of the statistics
    ``stats`` (a batch's, centred on ``previous.means``) into ``previous``'s.

    A component the batch does not reach (Σ r < 1e-10) and the step leaves no weight keeps its
    mean and covariance, as in the batch M-step; with η = 1 the result is the batch M-step's
    up to rounding.

    Parameters
    ----------
    stats : kernels.gaussian.GaussianStats
        The batch's summed statistics under ``previous``.
    previous : kernels.gaussian.Mixture
        The current mixture.
    step : float
        η in (0, 1]; 1 is one batch EM iteration on the batch.
    reg_covar : float, default 1e-6
        Added to the variances, as in the batch M-step.

    Returns
    -------
    kernels.gaussian.Mixture
        The updated mixture, of ``previous``'s covariance type.

    Examples
    --------
    >>> from spark_em.kernels import gaussian, stepwise
    >>> stats = gaussian.block_stats(X_batch, gaussian.prepare(mixture))
    >>> mixture = stepwise.update(stats, mixture, step=0.1)
    """
    if not 0.0 < step <= 1.0:
        raise ValueError(f"stepSize must be in (0, 1], got {step}")
    kind = previous.covariance_type
    d = previous.means.shape[1]
    resp = np.asarray(stats.resp, dtype=np.float64)
    empty = resp < EMPTY_COMPONENT
    safe = np.where(empty, 1.0, resp)
    shift = np.where(empty[:, None], 0.0, stats.centred_sum / safe[:, None])
    full = kind in ("full", "tied")
    if full:
        outer = shift[:, :, None] * shift[:, None, :]
        batch_moments = stats.centred_square / safe[:, None, None] - outer
    else:
        outer = shift * shift
        batch_moments = stats.centred_square / safe[:, None] - outer
    batch_moments[empty] = 0.0
    a = (1.0 - step) * np.asarray(previous.weights, dtype=np.float64)
    b = step * resp / stats.n_rows
    b[empty] = 0.0
    w = a + b
    # nothing left to estimate from (the batch M-step's rule when η = 1): keep the component
    kept = empty & (a < EMPTY_COMPONENT)
    w_safe = np.where(kept, 1.0, w)
    frac = np.where(kept, 0.0, b / w_safe)
    means = previous.means + frac[:, None] * shift
    expand = (slice(None), None, None) if full else (slice(None), None)
    scatter = (
        a[expand] * _own_moments(previous, reg_covar)
        + b[expand] * batch_moments
        + (a * frac)[expand] * outer
    )
    cov_old = np.asarray(previous.covariances, dtype=np.float64)
    if kind == "tied":
        cov = scatter.sum(axis=0) / w.sum() + reg_covar * np.eye(d)
    elif kind == "full":
        cov = scatter / w_safe[:, None, None] + reg_covar * np.eye(d)
        cov[kept] = cov_old[kept]
    else:
        diag = scatter / w_safe[:, None] + reg_covar
        cov = diag if kind == "diag" else diag.mean(axis=1)
        cov[kept] = cov_old[kept]
    means[kept] = previous.means[kept]
    return Mixture(w / w.sum(), means, cov, kind)
