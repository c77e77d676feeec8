"""Matrix completion at Netflix-Prize scale on sparse blocks, in one local[2] session.

    python benchmarks/bench_scale.py [--fractions 0.01,0.1,1] [--iterations 5]

Prints JSON. For each fraction of the Prize shape (480,189 users × 17,770 items, 100,480,507
ratings), Prize-shaped ratings are generated on the executors and cached as CSR blocks
(``load_seconds``), then K=12 is fitted from the reference initialisation for a fixed number of
EM passes (``seconds_per_iteration`` is the median pass). ``peak_memory_gb`` is the highest
resident memory of this process and every process under it (the JVM, which in local mode is
driver and executors, and the Python workers), sampled every 0.1 s. ``growth_exponent`` is
the slope of log(seconds per iteration) over log(ratings) between the smallest and the
largest size. ``triples_load_seconds`` (smaller sizes only) loads the same ratings from a
Parquet file of (user, item, rating) records through ``spark_em.io.triples`` and, when no item
went unrated (so the shapes agree), compares the first pass's log-likelihood.

``breakdown`` splits a pass: ``read_only_pass_seconds`` (a pass that only reads the cached
blocks: Spark's and the transfer's share, median of 3), ``kernel_seconds_per_block`` (the
masked kernel on 8 of the blocks on the driver, one thread), ``kernel_seconds_per_core``
(that times the blocks, over the 2 cores) and ``rest_seconds``: what the pass spends beyond
those two (summing and returning the statistics, the driver's update, the workers' memory).

Last, on the course netflix data (dense 1200×1200), the seconds per pass of five starts fitted
together against one start alone, each for the same fixed number of passes.

Targets: the full size at ≤ 15 s per iteration with K=12 and peak memory ≤ 12 GB; five
starts ≤ 1.5× one start per pass.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NETFLIX = ROOT.parent / "shared" / "data" / "netflix" / "netflix_incomplete.txt"
PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, from /proc."""
    parent, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            parent[int(entry)] = int(fields[1])
            with open(f"/proc/{entry}/statm") as f:
                rss[int(entry)] = int(f.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, up in parent.items():
            if up == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(rss.get(pid, 0) for pid in tree)


class PeakMemory:
    """Samples ``tree_rss_bytes`` in a thread; ``peak`` is the highest seen since ``reset``."""

    def __init__(self, interval: float = 0.1):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(os.getpid()))
            time.sleep(self.interval)

    def reset(self):
        self.peak = tree_rss_bytes(os.getpid())

    def stop(self):
        self._stop.set()


def pass_seconds(run) -> float:
    return statistics.median(h.seconds for h in run.history)


def pass_breakdown(blocks, mixture, seconds_per_pass: float, cores: int = 2) -> dict:
    """Where a pass goes: the read-only pass, the kernel on one core, and the rest."""
    from threadpoolctl import threadpool_limits

    from spark_em.engine.ops import aggregate
    from spark_em.kernels import masked

    def read_pass() -> float:
        start = time.perf_counter()
        aggregate(blocks, lambda values, _: values.shape[0], lambda a, b: a + b, None)
        return time.perf_counter() - start

    read_pass()
    read = statistics.median(read_pass() for _ in range(3))
    sample = [b.values for b in blocks.take(8)]
    n_blocks = blocks.count()
    with threadpool_limits(1):
        masked.block_stats(sample[0], mixture)
        start = time.perf_counter()
        for values in sample:
            masked.block_stats(values, mixture)
        per_block = (time.perf_counter() - start) / len(sample)
    kernel = per_block * n_blocks / cores
    return dict(
        blocks=n_blocks,
        read_only_pass_seconds=round(read, 3),
        kernel_seconds_per_block=round(per_block, 5),
        kernel_seconds_per_core=round(kernel, 3),
        rest_seconds=round(seconds_per_pass - read - kernel, 3),
    )


def one_size(spark, fraction, iterations, memory, with_triples):
    from spark_em.io import named, synthetic, triples
    from spark_em.models import masked as mc

    sc = spark.sparkContext
    shape = synthetic.PrizeShape().scaled(fraction)
    memory.reset()
    start = time.perf_counter()
    blocks = synthetic.prize_blocks(sc, shape)
    n_ratings = int(blocks.map(lambda b: b.values.nnz).sum())
    load = time.perf_counter() - start
    run = mc.fit(blocks, 12, 0, tol=-1.0, max_iter=iterations)
    breakdown = pass_breakdown(blocks, run.params, pass_seconds(run))
    result = dict(
        fraction=fraction,
        n_users=shape.n_users,
        n_items=shape.n_items,
        n_ratings=n_ratings,
        load_seconds=round(load, 2),
        seconds_per_iteration=round(pass_seconds(run), 3),
        iterations=run.n_iter,
        log_likelihood=run.log_likelihood,
        breakdown=breakdown,
    )
    if with_triples:
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "ratings.parquet")
            synthetic.prize_triples(spark, shape).write.parquet(path)
            start = time.perf_counter()
            data = triples.read_triples(named.read_frame(spark, path))
            result["triples_load_seconds"] = round(time.perf_counter() - start, 2)
            # Items nobody rated have no records, so the records give a narrower matrix.
            result["triples_shape"] = list(data.index.shape)
            if data.index.shape == (shape.n_users, shape.n_items):
                same = mc.fit(data.blocks, 12, 0, tol=-1.0, max_iter=1)
                result["triples_first_ll_relative_difference"] = abs(
                    same.history[0].objective - run.history[0].objective
                ) / abs(run.history[0].objective)
            data.blocks.unpersist()
    result["peak_memory_gb"] = round(memory.peak / 2**30, 2)
    blocks.unpersist()
    return result


def starts_together(sc, passes):
    from spark_em.io import matrix as readers
    from spark_em.models import masked as mc

    X = readers.read_text(sc, str(NETFLIX))
    mc.fit(X, 12, 0, tol=-1.0, max_iter=2)  # warm-up
    one = mc.fit(X, 12, 0, tol=-1.0, max_iter=passes)
    five = mc.fit_all(X, [12], range(5), tol=-1.0, max_iter=passes)
    one_pass = pass_seconds(one)
    # Every start of ``five`` took part in the same passes: its history holds their seconds.
    five_pass = pass_seconds(five[0])
    X.unpersist()
    return dict(
        passes=passes,
        one_start_seconds_per_pass=round(one_pass, 4),
        five_starts_seconds_per_pass=round(five_pass, 4),
        ratio=round(five_pass / one_pass, 3),
        target_max=1.5,
        target_met=five_pass / one_pass <= 1.5,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fractions", default="0.01,0.1,1")
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument(
        "--triples-up-to",
        type=float,
        default=0.1,
        help="also time the Parquet triples load for fractions up to this",
    )
    args = ap.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("bench_scale")
        .config("spark.driver.memory", "4g")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    memory = PeakMemory()
    sizes = [
        one_size(spark, f, args.iterations, memory, f <= args.triples_up_to) for f in fractions
    ]
    first, last = sizes[0], sizes[-1]
    growth = (
        (
            np.log(last["seconds_per_iteration"] / first["seconds_per_iteration"])
            / np.log(last["n_ratings"] / first["n_ratings"])
        )
        if len(sizes) > 1
        else None
    )
    full = next((s for s in sizes if s["fraction"] == 1.0), None)
    out = dict(
        benchmark="matrix completion at Prize scale, K=12, sparse blocks",
        master="local[2]",
        driver_memory="4g",
        sizes=sizes,
        growth_exponent=None if growth is None else round(float(growth), 3),
        targets=dict(full_seconds_per_iteration_max=15, peak_memory_gb_max=12),
        targets_met=None
        if full is None
        else dict(
            seconds_per_iteration=full["seconds_per_iteration"] <= 15,
            peak_memory=full["peak_memory_gb"] <= 12,
        ),
    )
    if NETFLIX.is_file():
        out["five_starts_vs_one"] = starts_together(spark.sparkContext, 10)
    memory.stop()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
