"""K-means seeding: k-means|| against greedy k-means++ (and MLlib's k-means||), one local[2]
session.

    python benchmarks/bench_kmeans_init.py [--rows 200000] [--dims 10] [--k 20] [--seeds 0,1,2]

Prints JSON. Data: ``rows`` points around ``k`` centres drawn N(0, 3²) per coordinate, unit
noise. For each initMode and seed: the passes over the data (Spark actions on the blocks) and
seconds of the seeding alone (``models.kmeans.initial_centres``, after the data summary's
pass) and the cost of the centres it starts from; then the whole ``spark_em.ml.KMeans`` fit
(maxIter=20, tol=1e-4): passes, seconds, Lloyd passes and ``trainingCost``; and MLlib's
``KMeans`` (k-means||) on the same DataFrame with the same settings, its seconds and cost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def blobs(rows: int, dims: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3.0, size=(k, dims))
    return centres[rng.integers(0, k, size=rows)] + rng.normal(size=(rows, dims))


class Passes:
    """Counts the engine's passes (``ops.reduce``, ``ops.aggregate``, ``ops.collect``)."""

    def __init__(self):
        from spark_em.engine import ops

        self.ops, self.count = ops, 0
        self.saved = {name: getattr(ops, name) for name in ("reduce", "aggregate", "collect")}
        for name, fn in self.saved.items():
            setattr(ops, name, self._counted(fn))

    def _counted(self, fn):
        def counted(*args, **kwargs):
            self.count += 1
            return fn(*args, **kwargs)

        return counted


def seeding(blocks, summary, k: int, seed: int, init: str, passes: Passes) -> dict:
    from spark_em.models import kmeans as kmeans_model

    before, start = passes.count, time.perf_counter()
    [centres] = kmeans_model.initial_centres(blocks, [(k, seed)], init, summary)
    seconds, count = round(time.perf_counter() - start, 3), passes.count - before
    family = kmeans_model.family()
    stats = passes.saved["aggregate"](
        blocks, family.block_stats, family.add, kmeans_model.start(centres)
    )
    return {"passes": count, "seconds": seconds, "start_cost": stats.cost_before}


def fitted(df, k: int, seed: int, init: str, passes: Passes) -> dict:
    from spark_em.ml import KMeans

    before, start = passes.count, time.perf_counter()
    model = KMeans(k=k, seed=seed, initMode=init, maxIter=20).fit(df)
    return {
        "passes": passes.count - before,
        "seconds": round(time.perf_counter() - start, 3),
        "lloyd_passes": model.summary.numIter,
        "cost": model.summary.trainingCost,
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--dims", type=int, default=10)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.ml.clustering import KMeans as MLlibKMeans
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import SparkSession

    from spark_em.engine.ops import release, summarize
    from spark_em.io.matrix import read_dataframe

    spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
    spark = spark.config("spark.driver.memory", "2g").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    X = blobs(args.rows, args.dims, args.k)
    df = spark.createDataFrame([(x,) for x in X.tolist()], "a array<double>")
    df = df.select(array_to_vector("a").alias("features")).cache()
    df.count()
    passes = Passes()
    blocks = read_dataframe(df, "features", ratings=False)
    summary = summarize(blocks)
    seeds = [int(s) for s in args.seeds.split(",")]
    modes = {"k-means||": "k-means||", "k-means++": "kmeans++"}
    out: dict = {"rows": args.rows, "dims": args.dims, "k": args.k, "seeding": {}, "fit": {}}
    for mode, init in modes.items():
        seeding(blocks, summary, args.k, seeds[0], init, passes)  # warm-up
        out["seeding"][mode] = [seeding(blocks, summary, args.k, s, init, passes) for s in seeds]
    release(blocks)
    for mode in modes:
        out["fit"][mode] = [fitted(df, args.k, s, mode, passes) for s in seeds]
    mllib = []
    for s in seeds:
        start = time.perf_counter()
        model = MLlibKMeans(k=args.k, seed=s, maxIter=20).fit(df)
        mllib.append(
            {"seconds": round(time.perf_counter() - start, 3), "cost": model.summary.trainingCost}
        )
    out["fit"]["mllib k-means||"] = mllib
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
