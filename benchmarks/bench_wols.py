"""Weighted least squares: spark-em vs Spark MLlib (and numpy), speed and accuracy.

    python benchmarks/bench_wols.py [--parts classic,speed,accuracy] [--rows 1000000,5000000]

Prints JSON; one local[2] session, every data set cached for both libraries, every fit timed
(median of ``--repeats``) after one untimed warm-up.

- classic: the classic 1,000,000-row data (one feature, weight |1/x|): seconds for ours (qr,
  normal, newton) and MLlib's LinearRegression (normal and l-bfgs, weightCol, regParam 0) with
  the coefficient differences; then gradient descent's iterations and seconds until the
  coefficients are within 1e-6 (relative) of the optimum: the automatic (preconditioned) step
  against the classic fixed rate 0.05.
- speed: ``--rows`` × 10 features generated on the executors (weights U(0.5, 2)): seconds
  for qr, normal, newton on cached blocks and MLlib's normal solver. Targets: qr within 1.3×
  of normal; both ≥ 3× faster than MLlib's normal solver at 5M rows. Beside them
  (``whole_fit``) what a user runs from the same cached DataFrame (a vector column):
  ``WeightedLinearRegression(weightCol="weight").fit(df)`` against MLlib's whole fit (target:
  ≥ 1.5× faster), and the load into cached blocks against a read-only ``mapInArrow`` pass
  over the rows with the vectors as arrays (target: ≤ 2×).
- accuracy: NIST's Filip data (a degree-10 polynomial, 82 rows, certified to 15 digits) and a
  noise-free degree-10 polynomial on [0, 1] whose exact answer is known: significant digits
  of the coefficients for ours (qr, normal), MLlib (normal, l-bfgs) and numpy (``lstsq`` with
  its default cutoff, and with none). Target: qr ≥ 7 digits where MLlib has 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEATURES = 10
CHUNK_ROWS = 50_000


def timed(fit, repeats):
    fit()
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def relative_difference(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def digits(got, want) -> float:
    """Significant digits of the worst coefficient (0 when none is right)."""
    error = relative_difference(got, want)
    return float(round(max(0.0, -np.log10(max(error, 1e-17))), 2))


def as_frame(spark, data):
    """The regression blocks as a cached (label, weight, features) DataFrame for MLlib."""
    from pyspark.ml.linalg import Vectors, VectorUDT
    from pyspark.sql.types import DoubleType, StructField, StructType

    schema = StructType(
        [
            StructField("label", DoubleType()),
            StructField("weight", DoubleType()),
            StructField("features", VectorUDT()),
        ]
    )
    df = spark.createDataFrame(
        data.blocks.flatMap(
            lambda b: [
                (float(r[0]), float(w), Vectors.dense(r[1:]))
                for r, w in zip(
                    np.asarray(b.values, np.float64),
                    np.ones(b.values.shape[0]) if b.weights is None else b.weights,
                )
            ]
        ),
        schema,
    ).cache()
    df.count()
    return df


def mllib_fit(df, solver):
    from pyspark.ml.regression import LinearRegression

    model = LinearRegression(weightCol="weight", solver=solver, regParam=0.0).fit(df)
    return np.r_[model.intercept, model.coefficients.toArray()]


def ours_of(result):
    return np.r_[result.intercept, result.coefficients]


def classic(spark, repeats, gd_max_iter):
    from spark_em.io.synthetic import wols_experiment
    from spark_em.models import wols

    data = wols_experiment(spark.sparkContext, 1_000_000)
    df = as_frame(spark, data)
    out, optimum = {}, None
    for solver in ("qr", "normal", "newton"):
        seconds, result = timed(lambda solver=solver, data=data: wols.fit(data, solver), repeats)
        optimum = ours_of(result) if optimum is None else optimum
        out[solver] = {
            "seconds": round(seconds, 4),
            "passes": result.passes,
            "relative_difference_to_qr": relative_difference(ours_of(result), optimum),
        }
    for solver in ("normal", "l-bfgs"):
        seconds, theirs = timed(lambda solver=solver: mllib_fit(df, solver), repeats)
        out[f"mllib_{solver}"] = {
            "seconds": round(seconds, 4),
            "relative_difference_to_qr": relative_difference(theirs, optimum),
        }

    def to_optimum(step, stop):
        reached, start = {}, time.perf_counter()

        def watch(record, state):
            if "iterations" not in reached and relative_difference(state.W, optimum) <= 1e-6:
                reached.update(
                    iterations=record.iteration, seconds=round(time.perf_counter() - start, 3)
                )

        result = wols.fit(
            data, "gd", step=step, tol=0.0, stop=stop, max_iter=gd_max_iter, on_iteration=watch
        )
        return {
            "step": result.step,
            "reached_1e-6": bool(reached),
            **reached,
            "iterations_run": result.n_iter,
            "final_max_relative_error": relative_difference(ours_of(result), optimum),
        }

    out["gradient_descent"] = {
        "auto": to_optimum("auto", "gradient"),
        "fixed_0.05": to_optimum(0.05, "classic"),
    }
    df.unpersist()
    data.blocks.unpersist()
    return out


def generated_data(spark, rows: int):
    """``rows`` × 10 features, y = 1 + X·β + N(0, 1), weights U(0.5, 2), made on the executors
    (seeded per chunk)."""
    from spark_em.engine.block import Block
    from spark_em.engine.ops import generated
    from spark_em.io.table import RegressionData

    beta = np.linspace(-2.0, 2.0, FEATURES)

    def make(start):
        n = min(CHUNK_ROWS, rows - start)
        rng = np.random.default_rng([7, start // CHUNK_ROWS])
        X = rng.normal(size=(n, FEATURES)) * np.arange(1, FEATURES + 1) + 3.0
        y = 1.0 + X @ beta + rng.normal(size=n)
        w = rng.uniform(0.5, 2.0, n)
        rows_ = np.column_stack([y, X])
        return [Block(start + i, rows_[i : i + 4096], w[i : i + 4096]) for i in range(0, n, 4096)]

    blocks = generated(spark, list(range(0, rows, CHUNK_ROWS)), make)
    return RegressionData(blocks, [f"x{i}" for i in range(1, FEATURES + 1)], rows)


def speed(spark, rows_list, repeats):
    from spark_em.models import wols

    out = []
    for rows in rows_list:
        data = generated_data(spark, rows)
        df = as_frame(spark, data)
        entry, reference = {"rows": rows, "features": FEATURES}, None
        for solver in ("qr", "normal", "newton"):
            seconds, result = timed(
                lambda solver=solver, data=data: wols.fit(data, solver), repeats
            )
            reference = ours_of(result) if reference is None else reference
            entry[solver] = {
                "seconds": round(seconds, 4),
                "passes": result.passes,
                "relative_difference_to_qr": relative_difference(ours_of(result), reference),
            }
        seconds, theirs = timed(lambda df=df: mllib_fit(df, "normal"), repeats)
        entry["mllib_normal"] = {
            "seconds": round(seconds, 4),
            "relative_difference_to_qr": relative_difference(theirs, reference),
        }
        entry["qr_over_normal"] = round(entry["qr"]["seconds"] / entry["normal"]["seconds"], 3)
        entry["mllib_over_qr"] = round(seconds / entry["qr"]["seconds"], 2)
        entry["mllib_over_normal"] = round(seconds / entry["normal"]["seconds"], 2)
        entry["whole_fit"] = whole_fit(df, seconds, reference, repeats)
        out.append(entry)
        df.unpersist()
        data.blocks.unpersist()
    return out


def accuracy_on(spark, name, values, want, names, partitions):
    """Significant digits of every method's coefficients on one design."""
    from spark_em.engine import ops
    from spark_em.errors import InputError
    from spark_em.io.table import RegressionData
    from spark_em.models import wols

    out = {"data": name}
    for parts in partitions:
        blocks = ops.from_array(spark, np.delete(values, 1, axis=1), parts, weights=values[:, 1])
        data = RegressionData(blocks, names, len(values))
        for solver in ("qr", "normal"):
            key = f"spark_em_{solver}" + ("" if parts == partitions[0] else f"_{parts}_blocks")
            if solver == "normal" and parts != partitions[0]:
                continue
            try:
                result = wols.fit(data, solver)
                out[key] = {"digits": digits(ours_of(result), want)}
                if result.inference:
                    out[key]["condition_number"] = result.inference["condition_number"]
            except InputError as exc:
                out[key] = {"digits": 0.0, "refused": str(exc)}
        if parts == partitions[0]:
            df = as_frame(spark, data)
            for solver in ("normal", "l-bfgs"):
                out[f"mllib_{solver}"] = {"digits": digits(mllib_fit(df, solver), want)}
            df.unpersist()
        data.blocks.unpersist()
    X = np.column_stack([np.ones(len(values)), values[:, 2:]])
    root = np.sqrt(values[:, 1])
    out["numpy_lstsq_default_cutoff"] = {
        "digits": digits(np.linalg.lstsq(X * root[:, None], values[:, 0] * root)[0], want)
    }
    out["numpy_lstsq_no_cutoff"] = {
        "digits": digits(np.linalg.lstsq(X * root[:, None], values[:, 0] * root, rcond=0)[0], want)
    }
    return out


def accuracy(spark):
    """NIST's Filip (certified; one block, as its 82 rows would be read, and two), and a
    noise-free degree-10 polynomial on [0, 1] (500 rows, weights U(0.5, 2)) whose exact
    least-squares coefficients are its own."""
    sys.path.insert(0, ROOT)
    from tests.helpers import nist_strd

    filip = nist_strd.datasets()["Filip"]
    names = [f"x^{k}" for k in range(1, 11)]
    out = [
        accuracy_on(
            spark,
            "NIST StRD Filip (82 rows, degree-10 polynomial in x in [-9, -3])",
            nist_strd.values_of(filip.degree, filip.y, filip.x),
            filip.estimates,
            names,
            [1, 2],
        )
    ]
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 500)
    powers = np.column_stack([x**k for k in range(1, 11)])
    true = np.r_[1.0, rng.normal(size=10)]
    values = np.column_stack([true[0] + powers @ true[1:], rng.uniform(0.5, 2.0, 500), powers])
    out.append(
        accuracy_on(
            spark,
            "degree-10 polynomial in x in [0, 1], no noise (500 rows)",
            values,
            true,
            names,
            [2],
        )
    )
    return out


def whole_fit(df, mllib_seconds, reference, repeats) -> dict:
    """What a user runs, from the same cached DataFrame: ``WeightedLinearRegression(...).fit``
    (qr; the TSQR sums read straight from the DataFrame in one pass) against MLlib's whole
    normal-solver fit; and the read alone: loading the rows into cached blocks against a
    ``mapInArrow`` pass that only counts them."""
    from bench_load import read_only_seconds
    from pyspark.ml.functions import vector_to_array

    from spark_em.engine import ops
    from spark_em.io.table import from_dataframe
    from spark_em.ml import WeightedLinearRegression

    def fit():
        model = WeightedLinearRegression(weightCol="weight").fit(df)
        return np.r_[model.intercept, model.coefficients.toArray()]

    seconds, ours = timed(fit, repeats)
    load, _ = timed(
        lambda: ops.release(from_dataframe(df, "label", "weight", "features").blocks), repeats
    )
    # the vectors as arrays (in the JVM, as the loader reads them): reading the vector column
    # itself in Python costs far more than the load
    read = read_only_seconds(
        df.select("label", "weight", vector_to_array("features").alias("features")), repeats
    )
    return {
        "ours_fit_df_s": round(seconds, 4),
        "mllib_normal_fit_df_s": round(mllib_seconds, 4),
        "speedup": round(mllib_seconds / seconds, 2),
        "relative_difference_to_qr": relative_difference(ours, reference),
        "load_s": round(load, 4),
        "read_only_pass_s": read,
        "load_over_read": round(load / read, 2),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="classic,speed,accuracy")
    ap.add_argument("--rows", default="1000000,5000000", help="speed: comma-separated sizes")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--gd-max-iter", type=int, default=300)
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    sys.path.insert(0, ROOT)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(args.master)
        .appName("bench_wols")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "10g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    parts = args.parts.split(",")
    out = {"benchmark": "weighted least squares", "master": args.master}
    targets = {}
    if "classic" in parts:
        out["classic"] = classic(spark, args.repeats, args.gd_max_iter)
        print(json.dumps(out["classic"]), file=sys.stderr, flush=True)  # each part as it ends
    if "speed" in parts:
        out["speed"] = speed(spark, [int(r) for r in args.rows.split(",")], args.repeats)
        print(json.dumps(out["speed"]), file=sys.stderr, flush=True)
        largest = out["speed"][-1]
        targets["qr_within_1.3x_of_normal"] = bool(
            all(e["qr_over_normal"] <= 1.3 for e in out["speed"])
        )
        targets["qr_and_normal_3x_faster_than_mllib_at_largest"] = bool(
            largest["mllib_over_qr"] >= 3 and largest["mllib_over_normal"] >= 3
        )
    if "accuracy" in parts:
        out["accuracy"] = accuracy(spark)
        targets["qr_7_digits_where_mllib_has_0"] = bool(
            all(
                a["spark_em_qr"]["digits"] >= 7
                for a in out["accuracy"]
                if a["mllib_normal"]["digits"] == 0
            )
        )
    out["targets"] = targets
    print(json.dumps(out, indent=2))
    spark.stop()


if __name__ == "__main__":
    main()
