"""Matrix completion on the course netflix data: Spark engine vs one in-memory numpy process.

    python benchmarks/bench_netflix.py [--data ../shared/data/netflix] [--repeats 3]

Prints JSON: for K=12 seed 1 in a warm local[2] session, the fit's seconds (median of the
repeats, after one untimed warm-up fit), iterations, seconds per iteration, and the same maths
run by the same kernels on the whole matrix in this process. Target: the Spark fit in <= 5 s.

``backends`` times the same fit on each engine backend with the same partitions and block rows:
the RDD backend (as under ``spark``), the DataFrame backend (``spark_em.engine.frame``) in the same
classic session, and the DataFrame backend under Spark Connect (``remote(master)``, run in a
child process of this script, as one process cannot hold both kinds of session well).
``median_pass_seconds`` is the median pass of the timed fits. ``same_log_likelihood``
checks that all three end at the same log-likelihood (to 1e-10 relative).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 5.0
SAME_LL_RTOL = 1e-10


def numpy_fit(X, k, seed, tol=1e-6):
    from spark_em.kernels import masked

    mixture, previous, n_iter = masked.reference_init(X, k, seed), None, 0
    while True:
        post, ll = masked.estep(X, mixture)
        mixture = masked.mstep(X, post, mixture.means)
        n_iter += 1
        if previous is not None and ll - previous <= tol * abs(ll):
            return ll, n_iter
        previous = ll


def timed_fits(fit, repeats):
    """Seconds of ``repeats`` fits after one untimed warm-up fit (JIT, Python workers), and
    the fits."""
    fit()
    times, runs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        runs.append(fit())
        times.append(time.perf_counter() - start)
    return times, runs


def backend_entry(load_seconds, times, runs):
    seconds, run = statistics.median(times), runs[0]
    return {
        "load_seconds": round(load_seconds, 3),
        "fit_seconds": round(seconds, 3),
        "fit_seconds_all": [round(s, 3) for s in times],
        "n_iter": run.n_iter,
        "seconds_per_iteration": round(seconds / run.n_iter, 4),
        "median_pass_seconds": round(
            statistics.median(h.seconds for r in runs for h in r.history), 4
        ),
        "log_likelihood": run.log_likelihood,
    }


def frame_backend(spark, path, num_partitions, args):
    """The fit timed on the DataFrame backend (a classic or a Spark Connect session)."""
    from spark_em.engine.ops import summarize
    from spark_em.io.matrix import read_text
    from spark_em.models import masked as masked_model

    start = time.perf_counter()
    frame = read_text(spark, path, num_partitions=num_partitions, backend="dataframe")
    summary = summarize(frame)
    load_seconds = time.perf_counter() - start
    times, runs = timed_fits(
        lambda: masked_model.fit(frame, args.k, args.seed, summary=summary), args.repeats
    )
    frame.unpersist()
    return backend_entry(load_seconds, times, runs)


def under_connect(num_partitions):
    """This script's ``--connect`` mode in a child process: its one JSON result."""
    done = subprocess.run(
        [sys.executable, __file__, *sys.argv[1:], "--connect", "--partitions", str(num_partitions)],
        capture_output=True,
        text=True,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(
            "the Spark Connect run failed:\n" + done.stdout[-2000:] + done.stderr[-3000:]
        )
    return json.loads(lines[-1][len("RESULT ") :])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "netflix"))
    ap.add_argument("--k", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--connect", action="store_true", help=argparse.SUPPRESS)  # the child's mode
    ap.add_argument("--partitions", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    from spark_em.engine.block import DEFAULT_BLOCK_ROWS
    from spark_em.engine.ops import summarize
    from spark_em.io.matrix import read_text
    from spark_em.models import masked as masked_model

    path = str(Path(args.data) / "netflix_incomplete.txt")
    if args.connect:
        spark = SparkSession.builder.remote(args.master).getOrCreate()
        print("RESULT " + json.dumps(frame_backend(spark, path, args.partitions, args)))
        spark.stop()
        return

    spark = (
        SparkSession.builder.master(args.master)
        .appName("bench_netflix")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")

    start = time.perf_counter()
    blocks = read_text(spark.sparkContext, path)
    summary = summarize(blocks)
    load_seconds = time.perf_counter() - start

    times, runs = timed_fits(
        lambda: masked_model.fit(blocks, args.k, args.seed, summary=summary), args.repeats
    )
    seconds, run = statistics.median(times), runs[0]
    num_partitions = blocks.getNumPartitions()
    blocks.unpersist()
    backends = {
        "rdd": backend_entry(load_seconds, times, runs),
        "dataframe": frame_backend(spark, path, num_partitions, args),
    }

    X = np.loadtxt(path)
    numpy_times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ll, n_iter = numpy_fit(X, args.k, args.seed)
        numpy_times.append(time.perf_counter() - start)
    numpy_seconds = statistics.median(numpy_times)
    spark.stop()
    backends["dataframe_connect"] = under_connect(num_partitions)
    lls = [b["log_likelihood"] for b in backends.values()]
    ll_difference = max(abs(v - lls[0]) for v in lls) / abs(lls[0])

    print(
        json.dumps(
            {
                "benchmark": "netflix matrix completion",
                "master": args.master,
                "k": args.k,
                "seed": args.seed,
                "repeats": args.repeats,
                "spark": {k: v for k, v in backends["rdd"].items() if k != "median_pass_seconds"},
                "numpy_in_memory": {
                    "fit_seconds": round(numpy_seconds, 3),
                    "n_iter": n_iter,
                    "seconds_per_iteration": round(numpy_seconds / n_iter, 4),
                    "log_likelihood": ll,
                },
                "same_log_likelihood": abs(ll - run.log_likelihood) <= 1e-9 * abs(ll),
                "target_fit_seconds": TARGET_SECONDS,
                "target_met": seconds <= TARGET_SECONDS,
                "backends": {
                    "num_partitions": num_partitions,
                    "block_rows": DEFAULT_BLOCK_ROWS,
                    **backends,
                    "same_log_likelihood": {
                        "max_relative_difference": ll_difference,
                        "rtol": SAME_LL_RTOL,
                        "met": ll_difference <= SAME_LL_RTOL,
                    },
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
