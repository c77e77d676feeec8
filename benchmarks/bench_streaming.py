"""Stepwise EM on a stream against batch EM on the same rows, one local[2] session.

    python benchmarks/bench_streaming.py [--rows 2000000] [--batch-rows 50000] [--k 5]
        [--part all|mixture|recommender] [--fraction 0.1]

Prints JSON. Rows of 10 features from K=5 overlapping Gaussians with full covariances, drawn
by Spark SQL (so the driver holds none), and a held-out set from the same mixture.

``stationary``: the rows written as Parquet files of ``--batch-rows`` rows each, read as a
stream one file per micro-batch (``maxFilesPerTrigger=1``, ``availableNow``) by
``StreamingGaussianMixture`` (default step (t + 2)^(−0.6), full covariance) — one pass — and
batch EM (``GaussianMixture``, default start, tol 1e-6) on the same rows as a cached
DataFrame, converged. For each: wall seconds, the held-out log-likelihood per row. Targets:
the stream's within 0.02 nats a row of batch EM's, in ≤ 1/5 of its wall time.

``micro_batch``: the stream's median seconds per micro-batch (Structured Streaming's
``addBatch``: reading the model, the update, writing the new version) against one batch EM
iteration over the same rows (a cached DataFrame of one file's rows; seconds per iteration as
the difference of a 15- and a 5-iteration fit over 10), and ``partialFit`` alone on that
DataFrame; rows per second of each, and of a batch EM iteration over all the rows; and the
pieces of a micro-batch on the file itself: a pass that only reads its rows, ``partialFit``
from it, listing the model's versions and saving one. Target: a
micro-batch ≤ 1.5× one batch EM iteration over its rows.

``drift``: half the batches from the mixture, then half from the mixture with every mean
moved by 1 in each coordinate (about one standard deviation); a model that starts with one
batch EM iteration on the first batch then takes ``partialFit`` of each next batch, with the
default decay and with ``halfLife`` of 1 and of 4 batches of rows; after each batch of the
second half, the held-out log-likelihood per row on the moved mixture, against a batch fit to
the moved rows (the best of 3 starts): batches until within 0.05 nats a row.

``recommender``: Prize-shaped ratings (``io.synthetic.prize_triples``, ``--fraction`` of the
Prize's users: 10% by default, about 10 million ratings) split by a hash of (user, item) into
a held-out 10%, a day of new ratings (1% of the set, from users spread over the whole set) and
the training rest. ``MixtureRecommender`` (its defaults) fitted on the training ratings, then
``partialFit`` with the day, against a refit on the training ratings and the day together:
seconds of each, the held-out RMSE of the model before the day, after ``partialFit`` and of the
refit, and the seconds of the updated model's first ``transform`` (which reads the training
ratings and the day as blocks again). Targets: ``partialFit`` ≥ 10× faster than the refit,
its RMSE within 1% of the refit's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from statistics import median

import numpy as np

DIMS = 10
WEIGHTS = (0.1, 0.15, 0.2, 0.25, 0.3)
SHIFT = 1.0
TARGET_NATS = 0.02
DRIFT_NATS = 0.05


def session():
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("bench_streaming")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "6g")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def mixture_rows(spark, rows: int, seed: int, shift: float = 0.0, partitions: int = 4):
    """``rows`` rows of a K-component mixture with full covariances (a common factor and
    a per-component scale), as a DataFrame with an array column ``features``."""
    from pyspark.sql import functions as F

    rng = np.random.default_rng(0)
    k = len(WEIGHTS)
    centres = rng.normal(0, 1.6, size=(k, DIMS)) + shift
    scales = rng.uniform(0.7, 1.4, size=k)
    loads = rng.normal(0, 0.6, size=(k, DIMS))
    u = F.rand(seed=seed)
    bounds = np.cumsum(WEIGHTS)[:-1]
    component = sum((u > float(b)).cast("int") for b in bounds)
    common = F.randn(seed=seed + 1)
    cols = []
    for i in range(DIMS):
        noise = F.randn(seed=seed + 2 + i)
        centre = F.element_at(F.array(*[F.lit(float(c)) for c in centres[:, i]]), component + 1)
        scale = F.element_at(F.array(*[F.lit(float(s)) for s in scales]), component + 1)
        load = F.element_at(F.array(*[F.lit(float(v)) for v in loads[:, i]]), component + 1)
        cols.append(centre + scale * noise + load * common)
    return spark.range(rows, numPartitions=partitions).select(F.array(*cols).alias("features"))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def written_batches(spark, rows: int, batch_rows: int, directory: Path, seed: int) -> int:
    """The rows as Parquet files of ``batch_rows`` rows each in ``directory``: how many."""
    files = max(1, rows // batch_rows)
    mixture_rows(spark, rows, seed).repartition(files).write.parquet(str(directory))
    return files


def stream_pass(spark, directory: Path, k: int, work: Path) -> dict:
    from spark_em.ml import StreamingGaussianMixture

    stream = (
        spark.readStream.schema("features array<double>")
        .option("maxFilesPerTrigger", 1)
        .parquet(str(directory))
    )
    trainer = StreamingGaussianMixture(k=k, modelPath=str(work / "model"), seed=0)
    start = time.perf_counter()
    query = trainer.trainOn(stream, str(work / "checkpoint"), trigger={"availableNow": True})
    query.awaitTermination()
    seconds = time.perf_counter() - start
    if query.exception() is not None:
        raise RuntimeError(str(query.exception()))
    batches = [
        p["durationMs"].get("addBatch", 0) / 1000
        for p in query.recentProgress
        if p["numInputRows"] > 0
    ]
    return {"seconds": seconds, "micro_batches": len(batches), "batch_seconds": batches}, trainer


def per_iteration(df, k: int, few: int = 5, many: int = 15) -> float:
    from spark_em.ml import GaussianMixture

    def fit(n):
        return GaussianMixture(k=k, seed=0, maxIter=n, tol=0.0).fit(df)

    fit(few)
    t_few, _ = timed(lambda: fit(few))
    t_many, _ = timed(lambda: fit(many))
    return (t_many - t_few) / (many - few)


def drift(spark, rows: int, batch_rows: int, k: int, heldout_new) -> dict:
    from spark_em.ml import GaussianMixture

    n_batches = max(2, rows // batch_rows)
    half = n_batches // 2
    batches = [
        mixture_rows(spark, batch_rows, 100 + b, shift=SHIFT if b >= half else 0.0).cache()
        for b in range(n_batches)
    ]
    for b in batches:
        b.count()
    moved = mixture_rows(spark, half * batch_rows, 7, shift=SHIFT).cache()
    target = GaussianMixture(k=k, seed=0, nInit=3).fit(moved).score(heldout_new)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration by design
        first = GaussianMixture(k=k, seed=0, maxIter=1).fit(batches[0])
    out = {"batches": n_batches, "batch_rows": batch_rows, "batch_fit_heldout": target}
    for name, setting in (
        ("step_decay_0.6", lambda m: m.setStepDecay(0.6)),
        ("half_life_1_batch", lambda m: m.setHalfLife(batch_rows)),
        ("half_life_4_batches", lambda m: m.setHalfLife(4 * batch_rows)),
    ):
        model = setting(first.copy())
        scores = []
        for b, frame in enumerate(batches[1:], start=1):
            model = model.partialFit(frame)
            if b >= half:
                scores.append(model.score(heldout_new))
        within = next((i + 1 for i, s in enumerate(scores) if target - s <= DRIFT_NATS), None)
        out[name] = {
            "heldout_after_each_batch": [round(s, 4) for s in scores],
            "batches_until_within_0.05": within,
        }
    for b in batches:
        b.unpersist()
    moved.unpersist()
    return out


def read_only_seconds(df) -> float:
    """A ``mapInArrow`` pass that reads every row of ``df`` and only counts them."""
    import pyarrow as pa

    def count(batches):
        yield pa.RecordBatch.from_pydict({"n": [sum(b.num_rows for b in batches)]})

    return median(timed(lambda: df.mapInArrow(count, "n long").collect())[0] for _ in range(5))


def breakdown(spark, path: str, model, work: Path) -> dict:
    """What a micro-batch of the rows of one file costs, piece by piece: reading them, the
    update from them (``partialFit``), listing the model's versions and saving one."""
    from spark_em.ml import versions

    rows = spark.read.parquet(path)
    store = str(work / "breakdown")
    saves = []
    for batch_id in range(5):
        ids = versions.complete_versions(spark, store)
        start = time.perf_counter()
        versions.save_version(spark, model, store, batch_id, ids)
        saves.append(time.perf_counter() - start)
    return {
        "read_only_seconds": read_only_seconds(rows),
        "partial_fit_seconds_from_the_file": median(
            timed(lambda: model.partialFit(rows))[0] for _ in range(5)
        ),
        "list_versions_seconds": median(
            timed(lambda: versions.complete_versions(spark, store))[0] for _ in range(5)
        ),
        "save_version_seconds": median(saves[1:]),
    }


def recommender_day(spark, fraction: float, work: Path) -> dict:
    """The ``recommender`` section of the module's docstring."""
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.sql import functions as F

    from spark_em.io import synthetic
    from spark_em.ml import MixtureRecommender

    shape = synthetic.PrizeShape().scaled(fraction)
    synthetic.prize_triples(spark, shape).write.parquet(str(work / "ratings"))
    ratings = spark.read.parquet(str(work / "ratings"))
    ratings = ratings.withColumn("rating", F.col("rating").cast("double"))
    bucket = F.abs(F.hash("user", "item")) % 1000
    test = ratings.where(bucket < 100).cache()
    day = ratings.where((bucket >= 100) & (bucket < 110)).cache()
    train = ratings.where(bucket >= 110).cache()
    everything = train.unionByName(day).cache()
    counts = {name: f.count() for name, f in (("test", test), ("day", day), ("train", train))}
    everything.count()
    evaluator = RegressionEvaluator(metricName="rmse", labelCol="rating")
    estimator = MixtureRecommender(coldStartStrategy="drop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_seconds, base = timed(lambda: estimator.fit(train))
        partial_seconds, updated = timed(lambda: base.partialFit(day))
        first_transform, updated_rmse = timed(lambda: evaluator.evaluate(updated.transform(test)))
        base_rmse = evaluator.evaluate(base.transform(test))
        refit_seconds, refit = timed(lambda: estimator.fit(everything))
        refit_rmse = evaluator.evaluate(refit.transform(test))
    gap = (updated_rmse - refit_rmse) / refit_rmse
    return {
        "fraction": fraction,
        "users": shape.n_users,
        "items": shape.n_items,
        "ratings": counts,
        "k": estimator.getK(),
        "fit_seconds": fit_seconds,
        "fit_iterations": base.summary.numIter,
        "partial_fit_seconds": partial_seconds,
        "refit_seconds": refit_seconds,
        "refit_iterations": refit.summary.numIter,
        "refit_over_partial_fit": refit_seconds / partial_seconds,
        "at_least_10x": refit_seconds >= 10 * partial_seconds,
        "first_transform_after_update_seconds": first_transform,
        "heldout_rmse": {"before_day": base_rmse, "partial_fit": updated_rmse, "refit": refit_rmse},
        "rmse_relative_gap": gap,
        "within_1_percent": abs(gap) <= 0.01,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--heldout-rows", type=int, default=200_000)
    parser.add_argument("--k", type=int, default=len(WEIGHTS))
    parser.add_argument("--skip-drift", action="store_true")
    parser.add_argument("--part", choices=("all", "mixture", "recommender"), default="all")
    parser.add_argument("--fraction", type=float, default=0.1, help="recommender: of the Prize")
    args = parser.parse_args(argv)

    spark = session()
    work = Path(tempfile.mkdtemp(prefix="bench-streaming-"))
    try:
        result = mixture_figures(spark, args, work) if args.part != "recommender" else {}
        if args.part != "mixture":
            result["recommender"] = recommender_day(spark, args.fraction, work)
        print(json.dumps(result, indent=2))
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def mixture_figures(spark, args, work: Path) -> dict:
    """The ``stationary``, ``micro_batch`` and ``drift`` sections of the module's docstring."""
    from spark_em.ml import GaussianMixture

    heldout = mixture_rows(spark, args.heldout_rows, 999).cache()
    heldout.count()
    files = written_batches(spark, args.rows, args.batch_rows, work / "in", seed=1)

    stream, trainer = stream_pass(spark, work / "in", args.k, work)
    streamed = trainer.latestModel()
    stream["heldout_loglik_per_row"] = streamed.score(heldout)

    train = spark.read.parquet(str(work / "in")).cache()
    train.count()
    batch_seconds, batch_model = timed(lambda: GaussianMixture(k=args.k, seed=0).fit(train))
    batch = {
        "seconds": batch_seconds,
        "iterations": batch_model.summary.numIter,
        "converged": batch_model.summary.converged,
        "heldout_loglik_per_row": batch_model.score(heldout),
        "seconds_per_iteration": per_iteration(train, args.k),
    }
    gap = batch["heldout_loglik_per_row"] - stream["heldout_loglik_per_row"]

    one_file = spark.read.parquet(str(sorted((work / "in").glob("part-*.parquet"))[0]))
    one_file = one_file.cache()
    batch_rows = one_file.count()
    em_iteration = per_iteration(one_file, args.k)
    partial_seconds = median(timed(lambda: batch_model.partialFit(one_file))[0] for _ in range(5))
    micro = median(stream["batch_seconds"][1:] or stream["batch_seconds"])
    first_file = str(sorted((work / "in").glob("part-*.parquet"))[0])
    result = {
        "rows": args.rows,
        "files": files,
        "k": args.k,
        "dims": DIMS,
        "covariance_type": "full",
        "stationary": {
            "stream": {k: v for k, v in stream.items() if k != "batch_seconds"},
            "batch_em": batch,
            "heldout_gap_nats_per_row": gap,
            "within_0.02_nats": gap <= TARGET_NATS,
            "stream_over_batch_wall": stream["seconds"] / batch["seconds"],
            "at_most_a_fifth": stream["seconds"] <= batch["seconds"] / 5,
        },
        "micro_batch": {
            "rows": batch_rows,
            "median_micro_batch_seconds": micro,
            "batch_em_iteration_seconds_same_rows": em_iteration,
            "partial_fit_seconds_same_rows": partial_seconds,
            "ratio": micro / em_iteration,
            "at_most_1.5x": micro <= 1.5 * em_iteration,
            "rows_per_second_micro_batch": batch_rows / micro,
            "rows_per_second_batch_em_iteration_all_rows": args.rows
            / batch["seconds_per_iteration"],
            "pieces": breakdown(spark, first_file, batch_model, work),
        },
    }
    if not args.skip_drift:
        heldout_new = mixture_rows(spark, args.heldout_rows, 998, shift=SHIFT).cache()
        heldout_new.count()
        result["drift"] = drift(spark, args.rows, args.batch_rows, args.k, heldout_new)
    return result


if __name__ == "__main__":
    main()
