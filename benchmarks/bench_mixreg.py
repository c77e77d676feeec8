"""Mixtures of linear regressions: an EM iteration against one least-squares fit, and recovery.

    python benchmarks/bench_mixreg.py [--rows 10000000] [--recovery-rows 1000000] [--k 3]

Prints JSON; one local[2] session. Rows of 10 features, drawn on the executors by Spark SQL,
and a label from one of K=3 planted linear models (weights 0.5, 0.3, 0.2; residual standard
deviations 0.5, 1, 1.5), cached as regression blocks.

- ``iteration``: seconds per EM iteration of ``models.mixreg`` (the difference of a 15- and a
  5-iteration run from the same start, over 10) against one ``qr`` least-squares fit over the
  same cached rows (median of 3), and their ratio. Target: ≤ 2.
- ``kernel``: milliseconds per 12,500-row block on the driver with BLAS on one thread, as
  Spark's Python workers run it (median of 30): the E-step and K triangles of
  ``kernels.mixreg.block_stats`` against ``kernels.wols.qr_stats``'s one triangle, and the same
  E-step with a gate of two covariates (``em_gated_block_ms``: the gate's Newton sums too).
- ``recovery`` (on ``--recovery-rows`` rows): ``MixtureOfRegressions(k=3, nInit=3)`` from its
  default starts, its wall seconds and iterations, the largest error of the coefficients
  against the planted ones (components matched by intercept), and the adjusted Rand index of
  ``component`` against the planted membership on a sample of 100,000 rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

FEATURES = 10
WEIGHTS = (0.5, 0.3, 0.2)
SIGMAS = (0.5, 1.0, 1.5)


def session():
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("bench_mixreg")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "8g")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def planted_beta() -> np.ndarray:
    """K × (1 + p): each component's intercept and coefficients."""
    rng = np.random.default_rng(0)
    beta = rng.normal(0, 2, size=(len(WEIGHTS), FEATURES + 1))
    beta[:, 0] = [-6.0, 0.0, 6.0]
    return beta


def rows(spark, n: int, seed: int, partitions: int = 8):
    """``n`` rows: ``features`` (an array), ``label`` and the ``planted`` component."""
    from pyspark.sql import functions as F

    beta = planted_beta()
    u = F.rand(seed=seed)
    bounds = np.cumsum(WEIGHTS)[:-1]
    component = sum((u > float(b)).cast("int") for b in bounds)
    x = [F.randn(seed=seed + 1 + i) for i in range(FEATURES)]

    def pick(values):
        return F.element_at(F.array(*[F.lit(float(v)) for v in values]), component + 1)

    label = pick(beta[:, 0]) + pick(SIGMAS) * F.randn(seed=seed + 100)
    for i in range(FEATURES):
        label = label + pick(beta[:, i + 1]) * x[i]
    frame = spark.range(n, numPartitions=partitions).select(
        F.array(*x).alias("features"), label.alias("label"), component.alias("planted")
    )
    return frame


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def iteration_figures(spark, n: int) -> dict:
    from spark_em.engine import ops
    from spark_em.io.table import from_dataframe
    from spark_em.kernels.mixreg import RegressionMixture
    from spark_em.models import mixreg as mixreg_model
    from spark_em.models import wols as wols_model

    frame = rows(spark, n, seed=1).cache()
    frame.count()
    data = from_dataframe(frame, "label", None, "features", param="features")
    frame.unpersist()
    try:
        wols_model.fit(data, "qr")
        qr = statistics.median(timed(lambda: wols_model.fit(data, "qr"))[0] for _ in range(3))
        beta = planted_beta()
        start = RegressionMixture(np.array(WEIGHTS), beta + 0.3, np.array(SIGMAS) * 1.5)

        def em(iterations):
            return timed(
                lambda: mixreg_model.fit_from(data.blocks, start, tol=0.0, max_iter=iterations)
            )[0]

        em(2)
        per_iteration = (em(15) - em(5)) / 10
    finally:
        ops.release(data.blocks)
    return {
        "rows": n,
        "features": FEATURES,
        "k": len(WEIGHTS),
        "em_iteration_seconds": per_iteration,
        "qr_fit_seconds": qr,
        "ratio": per_iteration / qr,
        "at_most_2x": per_iteration <= 2 * qr,
    }


def kernel_figures(block_rows: int = 12_500) -> dict:
    from spark_em.kernels import mixreg
    from spark_em.kernels.wols import qr_stats

    rng = np.random.default_rng(0)
    values = np.column_stack([rng.normal(size=block_rows), rng.normal(size=(block_rows, FEATURES))])
    beta = planted_beta()
    shipped = mixreg.Shipped(
        mixreg.RegressionMixture(np.array(WEIGHTS), beta, np.array(SIGMAS)), True
    )

    def median_ms(fn, repeats=30):
        fn()
        return 1e3 * statistics.median(timed(fn)[0] for _ in range(repeats))

    from threadpoolctl import threadpool_limits

    # with a gate of two covariates (appended to the rows), its Newton sums beside the rest
    gated_values = np.column_stack([values, rng.normal(size=(block_rows, 2))])
    gate = np.array([[0.0, 0.0, 0.0], [0.3, 1.0, -0.5], [-0.2, 0.5, 0.5]])
    gated = mixreg.Shipped(shipped.mixture._replace(gate=gate), True, 2)
    with threadpool_limits(1):  # OMP_NUM_THREADS is the task's cores in Spark's workers
        em = median_ms(lambda: mixreg.block_stats(values, shipped))
        em_gated = median_ms(lambda: mixreg.block_stats(gated_values, gated))
        qr = median_ms(lambda: qr_stats(values, True))
    return {
        "block_rows": block_rows,
        "em_block_ms": em,
        "em_gated_block_ms": em_gated,
        "qr_block_ms": qr,
        "ratio": em / qr,
    }


def recovery_figures(spark, n: int) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from spark_em.ml import MixtureOfRegressions

    frame = rows(spark, n, seed=7).cache()
    frame.count()
    seconds, model = timed(lambda: MixtureOfRegressions(k=len(WEIGHTS), nInit=3, seed=0).fit(frame))
    found = np.column_stack([model.intercepts, model.coefficients])
    order = np.argsort(found[:, 0])
    beta = planted_beta()
    error = float(np.abs(found[order] - beta[np.argsort(beta[:, 0])]).max())
    sample = model.transform(frame.limit(100_000)).select("planted", "component").toPandas()
    ari = adjusted_rand_score(sample["planted"], sample["component"])
    frame.unpersist()
    return {
        "rows": n,
        "seconds": seconds,
        "iterations": model.summary.numIter,
        "converged": model.summary.converged,
        "largest_coefficient_error": error,
        "adjusted_rand_index": float(ari),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--recovery-rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    spark = session()
    result = {
        "kernel": kernel_figures(),
        "iteration": iteration_figures(spark, args.rows),
        "recovery": recovery_figures(spark, args.recovery_rows),
    }
    print(json.dumps(result, indent=2))
    spark.stop()
    return result


if __name__ == "__main__":
    main()
