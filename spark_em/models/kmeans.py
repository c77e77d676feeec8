"""The course's K-means on cached blocks: its family, and the seeding draws the complete-data
mixtures share (k-means++ and uniform rows).

Kernels are in ``spark_em.kernels.kmeans``. A K-means run's parameters are a spherical
``gaussian.Mixture`` (p = n_k/n, σ² = SSE_k/(d·n_k)), so it reads as a mixture. Draws use a
hash of (seed, draw, global row index) for each row, so the rows chosen do not depend on how
the data are partitioned or blocked.
"""

from __future__ import annotations

import numpy as np

from spark_em.engine import ops
from spark_em.engine.loop import Family, falling_rule
from spark_em.kernels import kmeans
from spark_em.kernels.arrays import row_uniforms
from spark_em.kernels.gaussian import Mixture
from spark_em.models import codec

TOL = 1e-4


def family(tol: float = TOL) -> Family:
    """K-means as the loop runs it: stops when the cost falls by ≤ ``tol``."""

    def update(stats: kmeans.KMeansStats, mixture: Mixture):
        new_means, sse, cost = kmeans.update(stats, mixture.means)
        return kmeans.as_mixture(new_means, sse, stats.counts, stats.n_rows), cost

    return Family(
        "kmeans",
        lambda values, mixture, weights=None: kmeans.block_stats(values, mixture.means, weights),
        update,
        converged=falling_rule(tol),
        encode=codec.encode_gaussian,
        decode=codec.decode_gaussian,
    )


def start(mixture: Mixture) -> Mixture:
    """A K-means start from a mixture's means."""
    return Mixture(mixture.weights, mixture.means, np.ones(len(mixture.means)), "spherical")


def _draw(blocks, seed: int, draw: int, centres: np.ndarray | None, n_candidates: int) -> list:
    """``n_candidates`` rows, each drawn with probability ∝ w·D² to ``centres`` (∝ w when
    there are none; w the row's weight, 1 without weights) by its own smallest exponential
    clock −log(u)/(w·D²): one pass."""

    def best_of_block(block):
        X = np.asarray(block.values, dtype=np.float64)
        index = block.offset + np.arange(X.shape[0])
        w = np.ones(X.shape[0]) if block.weights is None else block.weights
        weight = w if centres is None else kmeans.nearest(X, centres)[1] * w
        # a row at D² = 0 is drawn only when no row is farther (then ∝ w); a row of weight 0 never
        tier = np.where(weight > 0, 0, np.where(w > 0, 1, 2))
        out = []
        for t in range(n_candidates):
            u = row_uniforms(seed, draw * n_candidates + t, index)
            with np.errstate(divide="ignore"):
                clock = -np.log(u) / np.where(tier == 0, weight, w)
            i = int(np.lexsort((index, clock, tier))[0])
            out.append((int(tier[i]), float(clock[i]), int(index[i]), X[i]))
        return out

    def earlier(a, b):
        return [x if x[:3] <= y[:3] else y for x, y in zip(a, b)]

    return [row for *_, row in ops.reduce(blocks, best_of_block, earlier)]


def _potentials(blocks, centres: np.ndarray, candidates: list) -> np.ndarray:
    """Σ_x w·min(D²(x), ‖x − c‖²) for each candidate c: one pass."""

    def of_block(block):
        X = np.asarray(block.values, dtype=np.float64)
        d2 = kmeans.nearest(X, centres)[1]
        w = np.ones(X.shape[0]) if block.weights is None else block.weights
        return np.array(
            [w @ np.minimum(d2, np.einsum("ij,ij->i", X - c, X - c)) for c in candidates]
        )

    return ops.reduce(blocks, of_block, np.add)


def n_candidates(k: int) -> int:
    """Greedy k-means++'s candidates per draw for K centres: 2 + ⌊ln K⌋ (scikit-learn's)."""
    return 2 + int(np.log(k))


def plus_plus(blocks, k: int, seed: int) -> np.ndarray:
    """K rows by greedy k-means++: the first uniformly, then for each next one 2 + ⌊ln K⌋
    candidates drawn ∝ D² and the one that lowers the total D² most kept (two passes each)."""
    per_draw = n_candidates(k)
    centres = np.asarray(_draw(blocks, seed, 0, None, 1)[0])[None]
    for draw in range(1, k):
        candidates = _draw(blocks, seed, draw, centres, per_draw)
        best = int(np.argmin(_potentials(blocks, centres, candidates)))
        centres = np.vstack([centres, candidates[best]])
    return centres


def random_rows(blocks, k: int, seed: int) -> np.ndarray:
    """K distinct rows drawn uniformly (∝ weight, for weighted rows, by the keys −log(u)/w):
    those with the K smallest hashed keys (one pass)."""

    def smallest(block):
        keys = row_uniforms(seed, 0, block.offset + np.arange(block.values.shape[0]))
        if block.weights is not None:
            with np.errstate(divide="ignore"):
                keys = -np.log(keys) / block.weights
        keep = np.argsort(keys)[:k]
        return [
            (float(keys[i]), block.offset + int(i), np.asarray(block.values[i], np.float64))
            for i in keep
        ]

    chosen = sorted(
        (r for rows in ops.collect(blocks, smallest) for r in rows), key=lambda r: (r[0], r[1])
    )[:k]
    return np.stack([row for _, _, row in chosen])
