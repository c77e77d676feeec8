"""Saving and loading a fitted Gaussian mixture through Spark, against MLlib's own
``GaussianMixtureModel`` of the same shape, in one local session.

    python benchmarks/bench_persistence.py [--repeats 5]

Prints JSON. For each (K, d), both models are fitted (one EM pass on 2,000 random rows:
the parameters' shape is what matters), then ``write().overwrite().save(path)`` and
``load(path)`` are timed ``--repeats`` times to a local directory; the medians are reported
with ``bytes`` (the directory's size) and ``save_ratio``/``load_ratio`` (ours over MLlib's).
The largest shape is ours alone (MLlib's fit at that size would dominate the run).
The target: save and load within 1.5× MLlib's time at each shape both fit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

SHAPES = [(5, 2), (10, 20), (20, 50)]
LARGE = (50, 200)


def session():
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("bench_persistence")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 4)


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and p.suffix != ".crc")


def measured(model, loader, path: Path, repeats: int) -> dict:
    save = median_seconds(lambda: model.write().overwrite().save(str(path)), repeats)
    load = median_seconds(lambda: loader.load(str(path)), repeats)
    return {"save_seconds": save, "load_seconds": load, "bytes": size_of(path)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)

    import numpy as np
    from pyspark.ml.clustering import GaussianMixture as MLlibGaussianMixture
    from pyspark.ml.clustering import GaussianMixtureModel as MLlibModel
    from pyspark.ml.linalg import Vectors

    from spark_em.ml import GaussianMixture, GaussianMixtureModel

    spark = session()
    work = Path(tempfile.mkdtemp(prefix="bench-persistence-"))
    rng = np.random.default_rng(0)
    result = {"repeats": args.repeats, "shapes": []}
    for k, d in SHAPES + [LARGE]:
        X = rng.normal(size=(2000, d))
        frame = spark.createDataFrame([(Vectors.dense(x),) for x in X], ["features"]).cache()
        ours = GaussianMixture(k=k, seed=0, maxIter=1).fit(frame)
        entry = {
            "k": k,
            "d": d,
            "spark_em": measured(ours, GaussianMixtureModel, work / f"ours-{k}-{d}", args.repeats),
        }
        if (k, d) != LARGE:
            peer = MLlibGaussianMixture(k=k, seed=0, maxIter=1).fit(frame)
            entry["mllib"] = measured(peer, MLlibModel, work / f"mllib-{k}-{d}", args.repeats)
            for what in ("save", "load"):
                entry[f"{what}_ratio"] = round(
                    entry["spark_em"][f"{what}_seconds"] / entry["mllib"][f"{what}_seconds"], 3
                )
        frame.unpersist()
        result["shapes"].append(entry)
    result["target_met"] = all(
        e[f"{w}_ratio"] <= 1.5 for e in result["shapes"] if "mllib" in e for w in ("save", "load")
    )
    print(json.dumps(result, indent=2))
    spark.stop()
    return result


if __name__ == "__main__":
    main()
