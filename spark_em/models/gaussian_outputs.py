"""What a fitted Gaussian mixture gives besides its fit: draws from it, its log-likelihood on
other data, and the table of candidates a model selection compared.

Draws use a hash of (seed, draw, row index) for every number (``arrays.row_uniforms``), so
the rows drawn do not depend on how they are partitioned: row i of ``sample(n, seed)`` is the
same row whatever n or the cluster.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from spark_em.engine import ops
from spark_em.errors import InputError
from spark_em.kernels import factor, gaussian, missing
from spark_em.kernels.arrays import row_uniforms
from spark_em.kernels.gaussian import Mixture


def full_covariances(mixture: Mixture) -> np.ndarray:
    """Every component's covariance as a d×d matrix (K×d×d), whatever the type."""
    K, d = np.shape(mixture.means)
    cov = np.asarray(mixture.covariances, dtype=np.float64)
    kind = mixture.covariance_type
    if kind == "full":
        return cov.copy()
    if kind == "tied":
        return np.broadcast_to(cov, (K, d, d)).copy()
    if kind == "factor":
        return factor.full_covariances(np.asarray(mixture.loadings, dtype=np.float64), cov)
    diag = cov if kind == "diag" else np.repeat(cov[:, None], d, axis=1)
    return np.stack([np.diag(row) for row in diag])


def sample_rows(mixture: Mixture, rows: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows number ``rows`` of a sample from the mixture, and the component each came from:
    the component by inverting the weights' cumulative sum at one uniform, then
    μ_k + L_k z with z standard normal (one uniform per coordinate, by the inverse CDF)."""
    rows = np.asarray(rows, dtype=np.int64)
    weights = np.asarray(mixture.weights, dtype=np.float64)
    means = np.asarray(mixture.means, dtype=np.float64)
    d = means.shape[1]
    cumulative = np.cumsum(weights / weights.sum())
    labels = np.minimum(
        np.searchsorted(cumulative, row_uniforms(seed, 0, rows), side="right"), len(weights) - 1
    )
    z = (
        np.column_stack([ndtri(row_uniforms(seed, 1 + i, rows)) for i in range(d)])
        if len(rows)
        else np.empty((0, d))
    )
    chol = np.linalg.cholesky(full_covariances(mixture))
    X = means[labels] + np.einsum("nij,nj->ni", chol[labels], z)
    return X, labels.astype(np.int32)


def held_out(blocks, mixture: Mixture) -> dict:
    """The log-likelihood of the rows of ``blocks`` (weighted, if they are) under the mixture:
    total, mean per row (per unit of weight), the rows, and BIC and AIC on this data in both
    conventions (the course's, higher is better, and scikit-learn's −2× that, lower is
    better)."""
    prepared = gaussian.prepare(mixture)

    def of_block(block):
        row_ll = missing.posterior(block.values, prepared)[1]
        observed = ~np.all(np.isnan(np.asarray(block.values, dtype=np.float64)), axis=1)
        w = observed.astype(np.float64) if block.weights is None else block.weights * observed
        return np.array([w @ row_ll, w.sum(), block.values.shape[0]])

    total, n, rows = ops.reduce(blocks, of_block, np.add)
    if n <= 0:
        raise InputError("no row to score: every row is empty or weighs 0")
    k, d = np.shape(mixture.means)
    kind = (mixture.covariance_type, mixture.n_factors)
    return scores(float(total), float(n), int(rows), k, d, *kind)


def scores(
    log_likelihood: float, n: float, rows: int, k: int, d: int, kind: str, n_factors: int = 0
) -> dict:
    """A log-likelihood with its BIC and AIC (scikit-learn's convention, lower is better)
    and the course's BIC (higher is better)."""
    return {
        "logLikelihood": float(log_likelihood),
        "meanLogLikelihood": float(log_likelihood / n),
        "numRows": int(rows),
        "weightSum": float(n),
        "numParams": int(gaussian.n_parameters(k, d, kind, n_factors)),
        "bic": float(gaussian.bic(log_likelihood, k, d, n, kind, n_factors)),
        "aic": float(gaussian.aic(log_likelihood, k, d, kind, n_factors)),
        "courseBic": float(gaussian.course_bic(log_likelihood, k, d, n, kind, n_factors)),
    }


CANDIDATE_FIELDS = (
    "k",
    "covarianceType",
    "nFactors",
    "logLikelihood",
    "numParams",
    "bic",
    "aic",
    "courseBic",
    "numIter",
    "converged",
    "chosen",
)


def candidate_rows(runs: list, chosen) -> list[dict]:
    """One row per candidate (the best run of each covariance type and K), in fit order."""
    out = []
    for run in runs:
        kind = (run.mixture.covariance_type, run.mixture.n_factors)
        s = scores(run.log_likelihood, run.n_rows, 0, run.k, run.n_features, *kind)
        out.append(
            {
                "k": int(run.k),
                "covarianceType": kind[0],
                "nFactors": kind[1],
                "logLikelihood": float(run.log_likelihood),
                "numParams": int(s["numParams"]),
                "bic": float(s["bic"]),
                "aic": float(s["aic"]),
                "courseBic": float(s["courseBic"]),
                "numIter": int(run.n_iter),
                "converged": bool(run.converged),
                "chosen": run is chosen,
            }
        )
    return out
