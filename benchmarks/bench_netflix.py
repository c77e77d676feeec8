"""Matrix completion on the course netflix data: Spark engine vs one in-memory numpy process.

    python benchmarks/bench_netflix.py [--data ../shared/data/netflix] [--repeats 3]

Prints JSON: for K=12 seed 1 in a warm local[2] session, the fit's seconds (median of the
repeats, after one untimed warm-up fit), iterations, seconds per iteration, and the same maths
run by the same kernels on the whole matrix in this process. Target: the Spark fit in <= 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 5.0


def numpy_fit(X, k, seed, tol=1e-6):
    from spark_em import masked

    mixture, previous, n_iter = masked.reference_init(X, k, seed), None, 0
    while True:
        post, ll = masked.estep(X, mixture)
        mixture = masked.mstep(X, post, mixture.mu)
        n_iter += 1
        if previous is not None and ll - previous <= tol * abs(ll):
            return ll, n_iter
        previous = ll


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "netflix"))
    ap.add_argument("--k", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    from spark_em import blocks as blk
    from spark_em import matrix_completion as mc
    from spark_em import readers

    spark = (SparkSession.builder.master(args.master).appName("bench_netflix")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    path = str(Path(args.data) / "netflix_incomplete.txt")

    start = time.perf_counter()
    blocks = readers.read_text(spark.sparkContext, path)
    summary = blk.summarize(blocks)
    load_seconds = time.perf_counter() - start

    mc.fit(blocks, args.k, args.seed, summary=summary)  # warm-up: JIT, Python workers
    fits = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        run = mc.fit(blocks, args.k, args.seed, summary=summary)
        fits.append((time.perf_counter() - start, run))
    seconds = statistics.median(s for s, _ in fits)
    run = fits[0][1]

    X = np.loadtxt(path)
    numpy_times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ll, n_iter = numpy_fit(X, args.k, args.seed)
        numpy_times.append(time.perf_counter() - start)
    numpy_seconds = statistics.median(numpy_times)

    print(json.dumps({
        "benchmark": "netflix matrix completion",
        "master": args.master, "k": args.k, "seed": args.seed, "repeats": args.repeats,
        "spark": {
            "load_seconds": round(load_seconds, 3),
            "fit_seconds": round(seconds, 3),
            "fit_seconds_all": [round(s, 3) for s, _ in fits],
            "n_iter": run.n_iter,
            "seconds_per_iteration": round(seconds / run.n_iter, 4),
            "log_likelihood": run.log_likelihood,
        },
        "numpy_in_memory": {
            "fit_seconds": round(numpy_seconds, 3), "n_iter": n_iter,
            "seconds_per_iteration": round(numpy_seconds / n_iter, 4), "log_likelihood": ll,
        },
        "same_log_likelihood": abs(ll - run.log_likelihood) <= 1e-9 * abs(ll),
        "target_fit_seconds": TARGET_SECONDS,
        "target_met": seconds <= TARGET_SECONDS,
    }, indent=2))
    spark.stop()


if __name__ == "__main__":
    main()
