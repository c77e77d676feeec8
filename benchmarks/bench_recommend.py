"""The mixture recommender against ALS on Netflix-Prize-shaped ratings, in one local session.

    python benchmarks/bench_recommend.py [--fraction 0.1] [--k 12] [--max-iter 100]

Prints JSON. Prize-shaped ratings (``io.synthetic.prize_triples``, 10% of the Prize's users
by default: about 48,000 users, 5,600 items, 10 million ratings) are written to Parquet and
split 90/10 by a hash of (user, item). On the 90%:

- ``MixtureRecommender`` (K=12, the course's start, tol 1e-6 relative, at most --max-iter
  passes) and ``pyspark.ml.recommendation.ALS`` at rank 10 and 20 (maxIter 10, regParam 0.1,
  MLlib's defaults otherwise) are fitted: ``fit_seconds``;
- each predicts the held-out 10% with coldStartStrategy="drop": ``rmse`` (RegressionEvaluator);
- ``recommendForAllUsers(10)`` is computed and written to a no-op sink:
  ``recommend_seconds`` (the mixture leaves out rated items; ALS does not);
- ``load``: the ratings' load alone (ids mapped, CSR blocks cached) against a read-only
  ``mapInArrow`` pass over the same DataFrame and ALS's start-up (``maxIter=0``).

There is no target for the fit (different models); the target is the mixture's
``recommendForAllUsers(10)`` in no more time than ALS's (``recommend_ratio`` ≤ 1 against each
rank).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def session(memory: str):
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("bench_recommend")
        .config("spark.driver.memory", memory)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def drained(frame) -> None:
    frame.write.format("noop").mode("overwrite").save()


def load_figures(train, repeats: int) -> dict:
    """The ratings' load alone (``read_triples``: ids mapped, CSR blocks of users cached, then
    released) against a read-only ``mapInArrow`` pass over the same cached DataFrame and
    against ALS's start-up, its whole fit with ``maxIter=0`` (ids, in/out blocks, the factors'
    start; rank 10), and with ``maxIter=1``."""
    from bench_load import best, read_only_seconds
    from pyspark.ml.recommendation import ALS

    from spark_em.io.triples import read_triples

    def als(iterations: int):
        ALS(rank=10, maxIter=iterations, regParam=0.1, seed=0).fit(train)

    load = best(lambda: read_triples(train).release(), repeats)
    read = read_only_seconds(train, repeats)
    startup = best(lambda: als(0), repeats)
    return {
        "load_s": load,
        "read_only_pass_s": read,
        "load_over_read": round(load / read, 2),
        "als_start_up_s": startup,
        "als_one_iteration_s": best(lambda: als(1), repeats),
        "load_over_als_start_up": round(load / startup, 2),
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--k", type=int, default=12)
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--memory", default="8g")
    ap.add_argument("--repeats", type=int, default=2, help="load figures: best of this many")
    args = ap.parse_args(argv)

    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    from spark_em.io import synthetic
    from spark_em.ml import MixtureRecommender

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    spark = session(args.memory)
    shape = synthetic.PrizeShape().scaled(args.fraction)
    work = Path(tempfile.mkdtemp(prefix="bench-recommend-"))
    synthetic.prize_triples(spark, shape).write.parquet(str(work / "ratings"))
    ratings = spark.read.parquet(str(work / "ratings")).withColumn(
        "rating", F.col("rating").cast("double")
    )
    held = (F.abs(F.hash("user", "item")) % 10) == 0
    train = ratings.where(~held).cache()
    test = ratings.where(held).cache()
    result = {
        "fraction": args.fraction,
        "n_users": shape.n_users,
        "n_items": shape.n_items,
        "n_train": train.count(),
        "n_test": test.count(),
        "k": args.k,
    }
    print(json.dumps(result), file=sys.stderr)
    evaluator = RegressionEvaluator(metricName="rmse", labelCol="rating")
    result["load"] = load_figures(train, args.repeats)
    print(json.dumps(result), file=sys.stderr)

    mixture, seconds = timed(
        lambda: MixtureRecommender(k=args.k, maxIter=args.max_iter, coldStartStrategy="drop").fit(
            train
        )
    )
    entry = {
        "fit_seconds": round(seconds, 2),
        "n_iter": mixture.summary.numIter,
        "converged": mixture.summary.converged,
        "rmse": evaluator.evaluate(mixture.transform(test)),
    }
    _, seconds = timed(lambda: drained(mixture.recommendForAllUsers(10)))
    entry["recommend_seconds"] = round(seconds, 2)
    result["mixture"] = entry
    print(json.dumps(result), file=sys.stderr)

    for rank in (10, 20):
        als, seconds = timed(
            lambda rank=rank: ALS(
                rank=rank,
                maxIter=10,
                regParam=0.1,
                userCol="user",
                itemCol="item",
                ratingCol="rating",
                seed=0,
                coldStartStrategy="drop",
            ).fit(train)
        )
        entry = {"fit_seconds": round(seconds, 2), "rmse": evaluator.evaluate(als.transform(test))}
        _, seconds = timed(lambda als=als: drained(als.recommendForAllUsers(10)))
        entry["recommend_seconds"] = round(seconds, 2)
        entry["recommend_ratio"] = round(result["mixture"]["recommend_seconds"] / seconds, 3)
        result[f"als_rank{rank}"] = entry
        print(json.dumps(result), file=sys.stderr)
    result["target_met"] = bool(
        all(result[f"als_rank{r}"]["recommend_ratio"] <= 1.0 for r in (10, 20))
    )
    print(json.dumps(result, indent=2))
    spark.stop()
    return result


if __name__ == "__main__":
    main()
