"""Where the complete-data families start: the course's reference rows, greedy k-means++,
k-means|| and uniform rows, each drawn on the cluster, and the checks weighted rows need.

Draws use a hash of (seed, draw, global row index) for each row, so the rows chosen do not
depend on how the data are partitioned or blocked. Rows are drawn in proportion to their
weight when they have one (a row of weight 0 is never drawn).
"""

from __future__ import annotations

import numpy as np

from spark_em.engine import ops
from spark_em.engine.ops import MatrixSummary
from spark_em.errors import InputError
from spark_em.kernels import kmeans
from spark_em.kernels.arrays import dense, row_uniforms
from spark_em.models.reference import reference_starts, variances_about

INIT_MODES = ("reference", "kmeans++", "random")
PARALLEL = "k-means||"  # K-means' scalable k-means++ (``parallel``), MLlib's name
INIT_STEPS = 2  # k-means|| rounds: MLlib's default initSteps
_PARALLEL_STREAM = 2**30  # k-means||'s draw numbers (first row, then rounds), apart from others


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
    return [(mu, variances_about(summary, mu)) for mu in drawn_means(blocks, pairs, "random")]


def drawn_means(
    blocks, pairs: list[tuple[int, int]], init: str, metric=kmeans.costs
) -> list[np.ndarray]:
    """The seeding rows of each (K, seed), by ``init`` (kmeans++ or random; k-means++ draws
    ∝ ``metric``, the squared Euclidean distance by default). A seed's draws for a smaller K
    are the first rows of its draws for a larger K (random rows come in key order; k-means++
    adds one row at a time, so for Ks with the same number of candidates per draw), so they
    are drawn once."""
    by_plus_plus = init == "kmeans++"

    def group(k, seed):  # k-means++ also keeps the number of candidates per draw
        return (seed, n_candidates(k)) if by_plus_plus else (seed,)

    largest: dict[tuple, int] = {}
    for k, seed in pairs:
        largest[group(k, seed)] = max(k, largest.get(group(k, seed), 0))
    rows = {
        key: plus_plus(blocks, k, key[0], metric)
        if by_plus_plus
        else random_rows(blocks, k, key[0])
        for key, k in largest.items()
    }
    return [rows[group(k, seed)][:k] for k, seed in pairs]


def _row(X, i: int) -> np.ndarray:
    """Row ``i`` of a dense or CSR block as a dense float vector."""
    return np.asarray(dense(X[i : i + 1]), dtype=np.float64)[0]


def _drawn_rows(block, weights: list, seed: int, draw: int, n_candidates: int) -> list[list]:
    """For each entry of ``weights`` (D² of every row, or None: the row weights w alone), the
    block's entrant in each of ``n_candidates`` draws ∝ w·D²: (tier, clock, row index, row),
    the row with the smallest exponential clock −log(u)/(w·D²). A row at D² = 0 enters only
    when no row is farther (then ∝ w), a row of w = 0 never. The uniforms u are those of
    (seed, draw, row), the same for every entry."""
    X = block.values
    index = block.offset + np.arange(X.shape[0])
    w = np.ones(X.shape[0]) if block.weights is None else block.weights
    exponentials = [
        -np.log(row_uniforms(seed, draw * n_candidates + t, index)) for t in range(n_candidates)
    ]
    out = []
    for weight in weights:
        weight = w if weight is None else weight * w
        tier = np.where(weight > 0, 0, np.where(w > 0, 1, 2))
        rate = np.where(tier == 0, weight, w)
        first = tier == tier.min()
        entrants = []
        for exponential in exponentials:
            with np.errstate(divide="ignore"):
                clock = np.where(first, exponential / rate, np.inf)
            # the smallest (tier, clock, index): the first row (indices rise) at the least clock
            i = int(np.flatnonzero(first & (clock == clock.min()))[0])
            entrants.append((int(tier[i]), float(clock[i]), int(index[i]), _row(X, i)))
        out.append(entrants)
    return out


def _earlier(a: list, b: list) -> list:
    """Of two blocks' entrants for the same draws, the winners."""
    return [x if x[:3] <= y[:3] else y for x, y in zip(a, b)]


def _draw(
    blocks,
    seed: int,
    draw: int,
    centres: np.ndarray | None,
    n_candidates: int,
    metric=kmeans.costs,
) -> list:
    """``n_candidates`` rows, each drawn with probability ∝ w·D² to ``centres`` (∝ w when
    there are none; w the row's weight, 1 without weights, D² by ``metric``) by its own
    smallest exponential clock −log(u)/(w·D²): one pass."""

    def best_of_block(block):
        weight = None if centres is None else metric(block.values, centres).min(axis=1)
        return _drawn_rows(block, [weight], seed, draw, n_candidates)[0]

    return [row for *_, row in ops.reduce(blocks, best_of_block, _earlier)]


def _potentials_and_draws(
    blocks,
    centres: np.ndarray,
    candidates: list,
    metric,
    next_draw: tuple[int, int, int] | None,
) -> tuple[np.ndarray, list[list]]:
    """Σ_x w·min(D²(x), D²(x, c)) for each candidate c and, with ``next_draw`` = (seed, draw,
    n_candidates), the rows ``_draw`` would draw next were c added to ``centres``, for every c:
    one pass where k-means++ would make two (the draws are those ``_draw`` makes)."""
    # kmeans.costs gives each centre's column on its own, so D² to centres + c is the least
    # of D² to centres and to c; another metric (a product of matrices) is asked again
    separable = metric is kmeans.costs
    options = [] if separable else [np.vstack([centres, c]) for c in candidates]

    def of_block(block):
        X = block.values
        d2 = metric(X, centres).min(axis=1)
        to_candidates = metric(X, np.asarray(candidates))
        w = np.ones(X.shape[0]) if block.weights is None else block.weights
        nearer = [np.minimum(d2, np.ascontiguousarray(column)) for column in to_candidates.T]
        potentials = np.array([w @ d for d in nearer])
        if next_draw is None:
            return potentials, []
        seed, draw, n = next_draw
        if not separable:
            nearer = [metric(X, option).min(axis=1) for option in options]
        return potentials, _drawn_rows(block, nearer, seed, draw, n)

    def merged(a, b):
        return a[0] + b[0], [_earlier(x, y) for x, y in zip(a[1], b[1])]

    potentials, drawn = ops.reduce(blocks, of_block, merged)
    return potentials, [[row for *_, row in rows] for rows in drawn]


def n_candidates(k: int) -> int:
    """Greedy k-means++'s candidates per draw for K centres: 2 + ⌊ln K⌋ (scikit-learn's)."""
    return 2 + int(np.log(k))


def plus_plus(
    blocks, k: int, seed: int, metric=kmeans.costs, to_centre=lambda row: row
) -> np.ndarray:
    """K centres by greedy k-means++: the first row uniformly, then for each next one
    2 + ⌊ln K⌋ candidates drawn ∝ D² and the one that lowers the total D² most kept.
    ``metric(X, centres)`` gives D² (squared Euclidean by default) and ``to_centre(row)`` the
    centre a drawn row stands for (the row itself by default). K + 1 passes: the pass that
    weighs a draw's candidates also makes the next draw for each of them."""
    per_draw = n_candidates(k)
    centres = to_centre(_draw(blocks, seed, 0, None, 1, metric)[0])[None]
    if k == 1:
        return centres
    candidates = [to_centre(r) for r in _draw(blocks, seed, 1, centres, per_draw, metric)]
    for draw in range(1, k):
        following = (seed, draw + 1, per_draw) if draw + 1 < k else None
        potentials, drawn = _potentials_and_draws(blocks, centres, candidates, metric, following)
        best = int(np.argmin(potentials))
        centres = np.vstack([centres, candidates[best]])
        if following is not None:
            candidates = [to_centre(r) for r in drawn[best]]
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


def parallel(
    blocks,
    pairs: list[tuple[int, int]],
    steps: int = INIT_STEPS,
    measure: str = kmeans.EUCLIDEAN,
) -> list[np.ndarray]:
    """K starting centres of each (K, seed) by k-means|| (scalable k-means++, Bahmani et al.
    2012), as MLlib's ``initKMeansParallel``, every (K, seed) in the same passes.

    The first candidate is a row drawn ∝ weight (one pass). Each of ``steps`` rounds (one pass
    each) draws every row independently with probability min(1, 2K·w·c(x)/Σ w·c), c(x) the
    row's cost (``measure``) to the nearest candidate so far. The distinct candidates are
    weighed by the weight of the rows nearest to them (one pass), and MLlib's local k-means++
    (``kernels.kmeans.local_kmeans``, seeded by the seed) chooses K of them on the driver.
    With K or fewer distinct candidates all are kept (as MLlib keeps them; the missing
    centres repeat the first, so their clusters stay empty) and that pass is not made.
    MLlib's own k-means|| leaves the row weights out of its draws; here they count, so an
    integer weight draws as that many copies of its row would on average.
    """
    candidates = [row[None] for row in _first_rows(blocks, [seed for _, seed in pairs])]
    for step in range(steps):
        drawn = _parallel_round(blocks, pairs, candidates, step, measure)
        candidates = [np.vstack([c, new]) for c, new in zip(candidates, drawn)]
    distinct = [np.unique(c, axis=0, return_index=True)[1] for c in candidates]
    candidates = [c[np.sort(first)] for c, first in zip(candidates, distinct)]
    if all(len(c) <= k for c, (k, _) in zip(candidates, pairs)):
        return [_filled(c, k) for c, (k, _) in zip(candidates, pairs)]
    weights = _nearest_weights(blocks, candidates, measure)
    return [
        _filled(c, k)
        if len(c) <= k
        else kmeans.local_kmeans(c, w, k, np.random.default_rng(seed), measure)
        for c, w, (k, seed) in zip(candidates, weights, pairs)
    ]


def _filled(candidates: np.ndarray, k: int) -> np.ndarray:
    """K centres from K or fewer candidates: the candidates, then the first repeated."""
    return np.vstack([candidates, np.repeat(candidates[:1], k - len(candidates), axis=0)])


def _first_rows(blocks, seeds: list[int]) -> list[np.ndarray]:
    """For each seed, one row drawn ∝ weight by the smallest key −log(u)/w (a row of weight 0
    never; the lower row index on ties): one pass."""

    def of_block(block):
        index = block.offset + np.arange(block.values.shape[0])
        w = np.ones(len(index)) if block.weights is None else block.weights
        out = []
        for seed in seeds:
            with np.errstate(divide="ignore"):
                key = -np.log(row_uniforms(seed, _PARALLEL_STREAM, index)) / w
            i = int(np.lexsort((index, key))[0])
            out.append((float(key[i]), int(index[i]), _row(block.values, i)))
        return out

    def first(a, b):
        return [x if x[:2] <= y[:2] else y for x, y in zip(a, b)]

    return [row for *_, row in ops.reduce(blocks, of_block, first)]


def _parallel_round(
    blocks, pairs: list[tuple[int, int]], candidates: list[np.ndarray], step: int, measure: str
) -> list[np.ndarray]:
    """One k-means|| round of every (K, seed): the rows drawn, in row order (one pass).

    Row x is drawn when u(x)·Σ w·c < 2K·w·c(x), the costs to every candidate so far computed
    in the same pass (MLlib keeps each row's cost and updates it with the new candidates, then
    draws in a second pass). A part of the data keeps the rows that pass the test with its own
    partial sum in place of the total: a superset of those the total draws (the total is no
    smaller), about 2K rows, pruned again as parts are merged.
    """
    twice_k = [2.0 * k for k, _ in pairs]

    def of_block(block):
        X = np.asarray(dense(block.values), dtype=np.float64)
        index = block.offset + np.arange(X.shape[0])
        w = np.ones(len(index)) if block.weights is None else block.weights
        out = []
        for (_, seed), c, bound in zip(pairs, candidates, twice_k):
            mass = w * np.maximum(kmeans.costs(X, c, measure).min(axis=1), 0.0)
            u = row_uniforms(seed, _PARALLEL_STREAM + 1 + step, index)
            out.append(_pruned((float(mass.sum()), index, u, mass, X), bound))
        return out

    def merged(a, b):
        return [
            _pruned((x[0] + y[0], *(np.concatenate([p, q]) for p, q in zip(x[1:], y[1:]))), bound)
            for x, y, bound in zip(a, b, twice_k)
        ]

    parts = ops.reduce(blocks, of_block, merged)
    return [rows[np.argsort(index)] for _, index, _, _, rows in parts]


def _pruned(part: tuple, twice_k: float) -> tuple:
    """(Σ w·c, then index, u, w·c and row of the rows that pass u·Σ < 2K·w·c)."""
    total, index, u, mass, rows = part
    keep = u * total < twice_k * mass
    return total, index[keep], u[keep], mass[keep], rows[keep]


def _nearest_weights(blocks, candidates: list[np.ndarray], measure: str) -> list[np.ndarray]:
    """The weight of the rows nearest to each candidate, for each set of candidates (one
    pass)."""

    def of_block(block):
        w = np.ones(block.values.shape[0]) if block.weights is None else block.weights
        return [
            np.bincount(kmeans.nearest(dense(block.values), c, measure)[0], w, len(c))
            for c in candidates
        ]

    return ops.reduce(blocks, of_block, lambda a, b: [x + y for x, y in zip(a, b)])
