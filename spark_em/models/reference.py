"""The course's initialisation (``common.init``) on the cluster, shared by the masked and the
complete-data mixtures: K rows chosen by ``np.random.seed(seed); choice(n, K)`` as means, and
for each the mean over all n·d entries of (X − μ_j)² as its variance."""

from __future__ import annotations

import numpy as np

from spark_em.engine.ops import MatrixSummary, rows_at
from spark_em.errors import InputError
from spark_em.kernels import masked


def check_k(k: int, n_rows: int) -> None:
    if k < 1:
        raise InputError(f"{{param}} must be at least 1, got {k}", param="k")
    if k > n_rows:
        raise InputError(f"{{param}} {k} is larger than the number of rows ({n_rows})", param="k")


def reference_starts(
    blocks, pairs: list[tuple[int, int]], summary: MatrixSummary
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Means and variances of ``common.init(X, K, seed)`` for each (K, seed): the mean rows of
    every start fetched by global index in one job, and σ_j² from the data's summary. X never
    reaches the driver."""
    for k, _ in pairs:
        check_k(k, summary.n_rows)
    chosen = [masked.reference_rows(summary.n_rows, k, seed) for k, seed in pairs]
    rows = rows_at(blocks, np.concatenate(chosen)).astype(np.float64)
    out, at = [], 0
    for index in chosen:
        mu = rows[at : at + len(index)]
        at += len(index)
        out.append((mu, variances_about(summary, mu)))
    return out


def variances_about(summary: MatrixSummary, mu: np.ndarray) -> np.ndarray:
    """For each row of ``mu``, the mean over all n·d entries of (X − μ_j)² (weighted rows
    count their weight), from the data's summary: no pass."""
    # weighted rows: the column sums are weighted, and n is the sum of the weights
    n = summary.total_weight if summary.weighted else summary.n_rows
    return masked.init_variances(summary.column_summary, n, mu)
