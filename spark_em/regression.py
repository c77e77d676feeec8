"""Weighted least squares on Spark: data as blocks of [label, weight, features], three solvers.

- ``normal``: one pass for XᵀWX and XᵀWy, one solve (equation 14).
- ``newton``: one pass for the gradient and Hessian at W₀ = 0, one Newton step (exact: f is
  quadratic), and a second pass that confirms the gradient is ~0 at the result.
- ``gd``: gradient descent on f(W)/Σw (so a rate means the same on any amount of data) with
  the classic MapReduce stopping rule ‖W_new − W_old‖² < tol; ``step="auto"`` takes 1/L, L the
  largest eigenvalue of XᵀWX/Σw, from one extra pass.

Kernels are in ``spark_em.wols``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from spark_em import engine, wols
from spark_em import frames
from spark_em.blocks import Block, compact, generated, sample_rows
from spark_em.errors import InputError
from spark_em.readers import _assemble

SOLVERS = ("newton", "normal", "gd")
GD_TOL = 1e-5
CLASSIC_RATE = 0.05
BLOCK_ROWS = 16384


@dataclass
class RegressionData:
    """Cached blocks of rows [label, weight, features...] and what they hold."""

    blocks: object
    feature_names: list[str]
    n_rows: int
    dropped: int = 0


@dataclass
class RegressionResult:
    solver: str
    coefficients: np.ndarray
    intercept: float
    n_iter: int
    passes: int
    loss: float
    gradient_norm: float
    converged: bool
    seconds: float
    step: float | None = None
    loss_history: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        return dict(solver=self.solver, coefficients=self.coefficients.tolist(),
                    intercept=self.intercept, n_iter=self.n_iter, passes=self.passes,
                    loss=self.loss, gradient_norm=self.gradient_norm, converged=self.converged,
                    seconds=round(self.seconds, 4), step=self.step)


# --- loading


def _row_problem(values: np.ndarray, names: list[str]) -> tuple[int, str, bool] | None:
    """The first bad row of a block: (row, problem, whether dropping it is allowed)."""
    weight = values[:, wols.WEIGHT]
    other = np.delete(values, wols.WEIGHT, axis=1)
    bad_other = ~np.isfinite(other)
    bad_weight = ~np.isfinite(weight) | (weight < 0)
    rows = np.flatnonzero(bad_other.any(axis=1) | bad_weight)
    if not rows.size:
        return None
    row = int(rows[0])
    if bad_other[row].any():
        col = int(np.flatnonzero(bad_other[row])[0])
        column = ([names[0]] + names[2:])[col]
        return row, f"column {column!r}: {other[row, col]} is not a finite number", False
    return row, f"weight {weight[row]} is not a finite number >= 0", True


def _parse_rows(names: list[str], drop_bad_weights: bool, block_rows: int):
    """Per partition: rows of values in ``names`` order into checked blocks."""

    def parse(partition: int, rows: Iterable) -> Iterator[tuple]:
        pending, places, n_rows, n, dropped, error = [], [], 0, 0, 0, None

        def flush():
            nonlocal pending, places, n_rows, dropped, error
            if not pending or error:
                return
            values = np.array(pending, dtype=np.float64)
            keep = np.ones(len(values), dtype=bool)
            while True:
                problem = _row_problem(values[keep], names)
                if problem is None:
                    break
                row, what, droppable = problem
                index = np.flatnonzero(keep)[row]
                if droppable and drop_bad_weights:
                    keep[index] = False
                    dropped += 1
                    continue
                error = (places[index], what)
                return
            if keep.any():
                yield ("block", (partition, n_rows, compact(values[keep])))
                n_rows += int(keep.sum())
            pending, places = [], []

        for n, row in enumerate(rows, start=1):
            if error:
                continue
            converted = []
            for name, value in zip(names, row):
                if value is None:
                    yield from flush()
                    error = error or (n, f"column {name!r} is empty")
                    break
                try:
                    converted.append(float(value))
                except (TypeError, ValueError):
                    yield from flush()
                    error = error or (n, f"column {name!r}: {str(value)!r} is not a number")
                    break
            if error:
                continue
            pending.append(converted)
            places.append(n)
            if len(pending) == block_rows:
                yield from flush()
        yield from flush()
        yield ("meta", dict(partition=partition, n_rows=n_rows, width=len(names), first_place=1,
                            error=error, n_lines=n, dropped=dropped))

    return parse


def _with_vector_spread(parse):
    """``parse`` for rows (label, weight, vector): the vector's entries as columns."""
    def spread(partition: int, rows: Iterable) -> Iterator[tuple]:
        return parse(partition, ((r[0], r[1], *(_as_array(r[2]) if r[2] is not None else [None]))
                                 for r in rows))

    return spread


def _as_array(value) -> np.ndarray:
    return value.toArray() if hasattr(value, "toArray") else np.asarray(value, dtype=np.float64)


def from_dataframe(df, label: str, weight: str, features: list[str],
                   drop_bad_weights: bool = False, source: str = "the DataFrame",
                   block_rows: int = BLOCK_ROWS, backend: str | None = None) -> RegressionData:
    """Rows of ``df`` as regression blocks. ``features`` are numeric (or numeric-text) columns,
    or a single column of ``pyspark.ml`` vectors. A row with an infinite, NaN or negative
    weight stops the load (naming the row) unless ``drop_bad_weights``. ``backend`` is as for
    ``frames.backend_for`` (by default, that of ``df``'s session)."""
    names = [label, weight, *features]
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise InputError(f"{source}: no column {', '.join(map(repr, missing))}; it has "
                         f"{', '.join(df.columns)}")
    if len(set(names)) != len(names):
        raise InputError(f"{source}: label, weight and features must be different columns")
    selected = df.select(*names)
    from pyspark.ml.linalg import VectorUDT

    vector = len(features) == 1 and isinstance(df.schema[features[0]].dataType, VectorUDT)
    feature_names = list(features)
    if vector:
        first = selected.first()
        width = len(first[2]) if first is not None and first[2] is not None else 0
        feature_names = [f"{features[0]}[{i}]" for i in range(width)]
    parse = _parse_rows([label, weight, *feature_names], drop_bad_weights, block_rows)
    if vector:
        parse = _with_vector_spread(parse)
    if frames.backend_for(df.sparkSession, backend) == "dataframe":
        parsed = frames.parse_pieces(selected, parse, names)
    else:
        parsed = selected.rdd.mapPartitionsWithIndex(parse)

    def describe(meta, metas):
        if meta is None:
            return f"{source}: no data rows"
        before = sum(m["n_lines"] for m in metas if m["partition"] < meta["partition"])
        return f"{source} row {before + meta['error'][0]}: {meta['error'][1]}"

    blocks, metas = _assemble(parsed, describe, with_metas=True)
    return RegressionData(blocks, feature_names, sum(m["n_rows"] for m in metas),
                          sum(m["dropped"] for m in metas))


def read_table(spark, path: str, label: str, weight: str, features: list[str],
               fmt: str | None = None, drop_bad_weights: bool = False,
               backend: str | None = None) -> RegressionData:
    """A CSV file with a header line, or Parquet (by ``fmt`` or the name), as regression data."""
    from spark_em.readers import _listed_files

    _listed_files(spark, path)  # a clear error for a missing path or empty dir
    fmt = fmt or ("parquet" if path.rstrip("/").lower().endswith(".parquet") else "csv")
    if fmt == "csv":
        df = spark.read.option("header", True).option("mode", "PERMISSIVE").csv(path)
    elif fmt == "parquet":
        df = spark.read.parquet(path)
    else:
        raise InputError(f"--format must be csv or parquet for regression data, not {fmt!r}")
    return from_dataframe(df, label, weight, features, drop_bad_weights, source=path,
                          backend=backend)


# --- the classic experiment


CLASSIC_ROWS = 1_000_000
CHUNK_ROWS = 100_000


def classic(spark, n_rows: int = CLASSIC_ROWS, slope: float = 1.0, intercept: float = -4.0,
            noise_sd: float = 0.5, low: float = -4.0, high: float = 4.0, seed: int = 0,
            num_partitions: int | None = None, backend: str | None = None) -> RegressionData:
    """The classic experiment, generated on the executors: x ~ U(low, high),
    y = slope·x + intercept + ε with ε ~ N(0, noise_sd²) (0.5 is the standard deviation),
    weight |1/x|. Chunks of rows have their own seeded generators, so the data are the same for
    any number of partitions. A point at x = 0 exactly (weight ∞) is drawn again. ``spark``
    and ``backend`` are as for ``frames.backend_for``."""
    starts = list(range(0, n_rows, CHUNK_ROWS))

    def make(start: int) -> list[Block]:
        rows = min(CHUNK_ROWS, n_rows - start)
        rng = np.random.default_rng([seed, start // CHUNK_ROWS])
        x = rng.uniform(low, high, size=rows)
        while np.any(x == 0):
            x[x == 0] = rng.uniform(low, high, size=int(np.sum(x == 0)))
        y = slope * x + intercept + rng.normal(0.0, noise_sd, size=rows)
        return [Block(start, np.column_stack([y, np.abs(1.0 / x), x]))]

    return RegressionData(generated(spark, starts, make, num_partitions, backend), ["x"], n_rows)


# --- solvers


def _solve(hessian: np.ndarray, rhs: np.ndarray, names: list[str]) -> np.ndarray:
    try:
        return wols.solve(hessian, rhs, ["intercept", *names])
    except np.linalg.LinAlgError as exc:
        raise InputError(str(exc)) from None


def fit(data: RegressionData, solver: str = "newton", step="auto", tol: float = GD_TOL,
        max_iter: int = engine.DEFAULT_MAX_ITER, on_iteration: Callable | None = None,
        checkpoint=None, resume: bool = False) -> RegressionResult:
    """Fit by ``solver``; ``step`` is ``"auto"`` or a learning rate (gd only). gd saves its
    state after every pass to a ``checkpoint`` (``checkpoint_for``) and with ``resume``
    continues from it."""
    if solver not in SOLVERS:
        raise InputError(f"--solver must be one of {', '.join(SOLVERS)}, not {solver!r}")
    start = time.perf_counter()
    p = len(data.feature_names) + 1
    zero = np.zeros(p)
    if solver in ("normal", "newton"):
        stats = engine.aggregate(data.blocks, wols.normal_stats, wols.add_stats, zero)
        if solver == "normal":
            W = _solve(stats.hessian, stats.xwy, data.feature_names)
            # f(W) from the same sums: ½ Σwy² − W·XᵀWy + ½ WᵀXᵀWX W  (2·f(0) = Σwy²)
            loss = stats.loss - W @ stats.xwy + 0.5 * W @ stats.hessian @ W
            gradient = stats.hessian @ W - stats.xwy
            return _result(solver, W, 1, 1, loss, gradient, True, start, None, [stats.loss])
        W = zero - _solve(stats.hessian, stats.gradient, data.feature_names)  # one Newton step
        check = engine.aggregate(data.blocks, wols.gradient_stats, wols.add_stats, W)
        return _result(solver, W, 1, 2, check.loss, check.gradient, True, start, None,
                       [stats.loss, check.loss])
    return _gradient_descent(data, step, tol, max_iter, on_iteration, start, checkpoint, resume)


def checkpoint_for(directory, data: RegressionData, **options):
    """A ``Checkpoint`` of gradient descent on ``data`` (fingerprinted by one pass of its
    sums) with these options."""
    import hashlib

    from spark_em.checkpoint import Checkpoint

    p = len(data.feature_names) + 1
    sums = engine.aggregate(data.blocks, wols.normal_stats, wols.add_stats, np.zeros(p))
    digest = hashlib.sha256(np.concatenate([np.ravel(sums.hessian), sums.xwy, [sums.loss, sums.weight_sum]])
                            .astype(np.float64).tobytes()).hexdigest()
    fingerprint = {"model": "wols-gd", "n_rows": data.n_rows, "features": data.feature_names,
                   "sums_sha256": digest, **options}
    return Checkpoint(directory, fingerprint, lambda W: np.asarray(W).tolist(),
                      lambda saved: np.array(saved, dtype=np.float64))


def _gradient_descent(data, step, tol, max_iter, on_iteration, start, checkpoint=None,
                      resume=False) -> RegressionResult:
    p = len(data.feature_names) + 1
    passes = 0
    if step == "auto":
        stats = engine.aggregate(data.blocks, wols.normal_stats, wols.add_stats, np.zeros(p))
        passes += 1
        step = 1.0 / wols.largest_eigenvalue(stats.hessian / stats.weight_sum)
    step = float(step)
    if not np.isfinite(step) or step <= 0:
        raise InputError(f"--step must be 'auto' or a rate > 0, got {step}")
    moved = {"sq": np.inf}

    def update(stats, W):
        new = W - step * stats.gradient / stats.weight_sum
        moved["sq"] = float((new - W) @ (new - W))
        return new, stats.loss

    result = engine.run(data.blocks, np.zeros(p), wols.gradient_stats, wols.add_stats, update,
                        converged=lambda new, old: moved["sq"] < tol, max_iter=max_iter,
                        on_iteration=on_iteration,
                        resume=checkpoint.load() if checkpoint is not None and resume else None,
                        on_pass=checkpoint.save if checkpoint is not None else None)
    W = result.params
    check = engine.aggregate(data.blocks, wols.gradient_stats, wols.add_stats, W)
    history = [h.objective for h in result.history] + [check.loss]
    return _result("gd", W, result.n_iter, passes + result.n_iter + 1, check.loss, check.gradient,
                   result.converged, start, step, history)


def _result(solver, W, n_iter, passes, loss, gradient, converged, start, step, history):
    return RegressionResult(solver, np.asarray(W[1:]), float(W[0]), n_iter, passes, float(loss),
                            float(np.linalg.norm(gradient)), converged,
                            time.perf_counter() - start, step, [float(v) for v in history])


def local_sample_fit(data: RegressionData, fraction: float = 0.01, seed: int = 0) -> dict:
    """Weighted least squares on a ``fraction`` sample fitted on the driver (as the classic
    experiment did with scikit-learn), by √w scaling and ``lstsq``."""
    values = sample_rows(data.blocks, fraction * data.n_rows, data.n_rows, seed)
    if len(values) < len(data.feature_names) + 1:
        return {"rows": int(len(values)), "intercept": None, "coefficients": None}
    W = wols.reference_fit(values[:, 2:], values[:, wols.LABEL], values[:, wols.WEIGHT])
    return {"rows": int(len(values)), "intercept": float(W[0]), "coefficients": W[1:].tolist()}
