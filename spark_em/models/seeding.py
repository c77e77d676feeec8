"""Where the complete-data families start: the course's reference rows, greedy k-means++ and
uniform rows, each drawn on the cluster, and the checks weighted rows need.

Draws use a hash of (seed, draw, global row index) for each row, so the rows chosen do not
depend on how the data are partitioned or blocked. Rows are drawn in proportion to their
weight when they have one (a row of weight 0 is never drawn).
"""

from __future__ import annotations

import numpy as np

from spark_em.engine import ops
from spark_em.engine.ops import MatrixSummary
from spark_em.errors import InputError
from spark_em.kernels import masked
from spark_em.kernels.arrays import dense, row_uniforms
from spark_em.models.reference import reference_starts

INIT_MODES = ("reference", "kmeans++", "random")


def check_weighted(summary: MatrixSummary, pairs: list[tuple[int, int]]) -> None:
    """Weighted rows: some weight above 0, and each K at most the rows that weigh
    anything."""
    if summary.total_weight is None or summary.n_weighted_rows is None:
        return
    if summary.total_weight <= 0:
        raise InputError("every weight is 0: there is nothing to fit")
    for k, _ in pairs:
        if k > summary.n_weighted_rows:
            raise InputError(
                f"{{param}} {k} is larger than the number of rows with a weight "
                f"above 0 ({summary.n_weighted_rows})",
                param="k",
            )


def reference(
    blocks, pairs: list[tuple[int, int]], summary: MatrixSummary
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The course's ``common.init`` for each (K, seed): K rows as means and each mean's
    variance over all n·d entries. Rows chosen by index could weigh 0, so weighted rows get
    K rows drawn in proportion to weight instead (``check_weighted`` checks K against them)."""
    if summary.total_weight is None:
        return reference_starts(blocks, pairs, summary)  # also checks each K against the rows
    n = summary.total_weight
    return [
        (mu, masked.init_variances(summary.column_summary, n, mu))
        for mu in drawn_means(blocks, pairs, "random")
    ]


def drawn_means(blocks, pairs: list[tuple[int, int]], init: str) -> list[np.ndarray]:
    """The seeding rows of each (K, seed), by ``init`` (kmeans++ or random). A seed's draws for
    a smaller K are the first rows of its draws for a larger K (random rows come in key order;
    k-means++ adds one row at a time, so for Ks with the same number of candidates per draw),
    so they are drawn once."""
    by_plus_plus = init == "kmeans++"

    def group(k, seed):  # k-means++ also keeps the number of candidates per draw
        return (seed, n_candidates(k)) if by_plus_plus else (seed,)

    largest: dict[tuple, int] = {}
    for k, seed in pairs:
        largest[group(k, seed)] = max(k, largest.get(group(k, seed), 0))
    draw = plus_plus if by_plus_plus else random_rows
    rows = {key: draw(blocks, k, key[0]) for key, k in largest.items()}
    return [rows[group(k, seed)][:k] for k, seed in pairs]


def squared_distances(X, centres: np.ndarray) -> np.ndarray:
    """n×K squared Euclidean distances: k-means++'s D² on complete rows."""
    X = np.asarray(X, dtype=np.float64)
    return np.stack([np.einsum("ij,ij->i", X - c, X - c) for c in centres], axis=1)


def _row(X, i: int) -> np.ndarray:
    """Row ``i`` of a dense or CSR block as a dense float vector."""
    return np.asarray(dense(X[i : i + 1]), dtype=np.float64)[0]


def _draw(
    blocks,
    seed: int,
    draw: int,
    centres: np.ndarray | None,
    n_candidates: int,
    metric=squared_distances,
) -> list:
    """``n_candidates`` rows, each drawn with probability ∝ w·D² to ``centres`` (∝ w when
    there are none; w the row's weight, 1 without weights, D² by ``metric``) by its own
    smallest exponential clock −log(u)/(w·D²): one pass."""

    def best_of_block(block):
        X = block.values
        index = block.offset + np.arange(X.shape[0])
        w = np.ones(X.shape[0]) if block.weights is None else block.weights
        weight = w if centres is None else metric(X, centres).min(axis=1) * w
        # a row at D² = 0 is drawn only when no row is farther (then ∝ w); a row of weight 0 never
        tier = np.where(weight > 0, 0, np.where(w > 0, 1, 2))
        out = []
        for t in range(n_candidates):
            u = row_uniforms(seed, draw * n_candidates + t, index)
            with np.errstate(divide="ignore"):
                clock = -np.log(u) / np.where(tier == 0, weight, w)
            i = int(np.lexsort((index, clock, tier))[0])
            out.append((int(tier[i]), float(clock[i]), int(index[i]), _row(X, i)))
        return out

    def earlier(a, b):
        return [x if x[:3] <= y[:3] else y for x, y in zip(a, b)]

    return [row for *_, row in ops.reduce(blocks, best_of_block, earlier)]


def _potentials(blocks, centres: np.ndarray, candidates: list, metric) -> np.ndarray:
    """Σ_x w·min(D²(x), D²(x, c)) for each candidate c: one pass."""

    def of_block(block):
        X = block.values
        d2 = metric(X, centres).min(axis=1)
        to_candidates = metric(X, np.asarray(candidates))
        w = np.ones(X.shape[0]) if block.weights is None else block.weights
        return np.array(
            [w @ np.minimum(d2, np.ascontiguousarray(column)) for column in to_candidates.T]
        )

    return ops.reduce(blocks, of_block, np.add)


def n_candidates(k: int) -> int:
    """Greedy k-means++'s candidates per draw for K centres: 2 + ⌊ln K⌋ (scikit-learn's)."""
    return 2 + int(np.log(k))


def plus_plus(
    blocks, k: int, seed: int, metric=squared_distances, to_centre=lambda row: row
) -> np.ndarray:
    """K centres by greedy k-means++: the first row uniformly, then for each next one
    2 + ⌊ln K⌋ candidates drawn ∝ D² and the one that lowers the total D² most kept (two
    passes each). ``metric(X, centres)`` gives D² (squared Euclidean by default) and
    ``to_centre(row)`` the centre a drawn row stands for (the row itself by default)."""
    per_draw = n_candidates(k)
    centres = to_centre(_draw(blocks, seed, 0, None, 1, metric)[0])[None]
    for draw in range(1, k):
        candidates = [to_centre(r) for r in _draw(blocks, seed, draw, centres, per_draw, metric)]
        best = int(np.argmin(_potentials(blocks, centres, candidates, metric)))
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
