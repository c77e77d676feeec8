"""Fit a Gaussian mixture: to a partially observed ratings matrix (and complete it), or to
complete data.

    spark-submit jobs/fit_gmm.py --input PATH --missing zero --k 12 --seeds 0-4 \\
        --gold PATH --out DIR
    spark-submit jobs/fit_gmm.py --input points.csv --missing none --covariance full \\
        --k 1-4 --select bic --out DIR
    spark-submit jobs/fit_gmm.py --input ratings.parquet --format triples --user-col userId \
        --item-col movieId --rating-col rating --recommend 10 --predict pairs.csv --out DIR
    spark-submit jobs/fit_gmm.py --demo blobs --out DIR

With no --input, a seeded synthetic ratings matrix drawn from a planted mixture is used and
the completion is scored against the planted truth. Progress goes to stderr, one line per
iteration; the metrics go to stdout as JSON and, with --out, to DIR/metrics.json beside
DIR/model.json and the completed matrix (ratings) or DIR/fit.png (2-D complete data).

Ratings as (user, item, rating) records (--format triples) are held as sparse blocks; the
completed matrix is written only when it is small, and --predict / --recommend write Parquet
predictions and top-N recommendations under the original ids instead.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from spark_em import cli, engine, gaussian, masked, mixture, plots, readers, recommend, synthetic, triples
from spark_em import matrix_completion as mc
from spark_em.blocks import DEFAULT_BLOCK_ROWS, sample_rows, summarize
from spark_em.engine import DEFAULT_MAX_ITER, DEFAULT_TOL
from spark_em.errors import InputError


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="fit_gmm.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", help="ratings matrix: text, CSV or .npy file, or a directory "
                    "(default: built-in synthetic ratings)")
    ap.add_argument("--format", choices=readers.FORMATS + ("triples",),
                    help="input format (default: from the name); triples: (user, item, rating) "
                    "records in Parquet or CSV with a header")
    ap.add_argument("--header", action="store_true", help="CSV files start with a header line")
    ap.add_argument("--user-col", default="user", help="triples: the user id column")
    ap.add_argument("--item-col", default="item", help="triples: the item id column")
    ap.add_argument("--rating-col", default="rating", help="triples: the rating column")
    ap.add_argument("--rating-range", help="triples: LO,HI; a rating outside is a bad record")
    ap.add_argument("--on-bad-rows", choices=["error", "drop"], default="error",
                    help="ratings (text, CSV, triples): stop at the first bad row or record, or "
                    "drop them and count them (n_dropped)")
    ap.add_argument("--predict", help="triples or ratings: CSV (header) or Parquet of (user, item) "
                    "pairs; writes DIR/predictions (Parquet)")
    ap.add_argument("--recommend", type=int, metavar="N",
                    help="writes each user's top-N unrated items to DIR/recommendations (Parquet)")
    ap.add_argument("--missing", choices=["zero", "none"], default="zero",
                    help="zero: a ratings matrix where 0 marks a missing entry (the course data); "
                    "none: complete data")
    ap.add_argument("--demo", choices=["blobs"], help="blobs: the classic three-cluster example "
                    "(3×1000 points around (4,0), (6,6), (0,4)); implies --missing none, K=3")
    ap.add_argument("--covariance", choices=gaussian.COVARIANCE_TYPES, default="full",
                    help="covariance type for complete data (default full)")
    ap.add_argument("--model", choices=["gmm", "kmeans"], default="gmm",
                    help="complete data: EM for a mixture, or the course's K-means")
    ap.add_argument("--init", choices=mixture.INIT_MODES, default="reference",
                    help="complete data: initialisation (default: the course's reference)")
    ap.add_argument("--n-init", type=int, default=1, help="restarts per seed (best kept)")
    ap.add_argument("--reg-covar", type=float, default=gaussian.REG_COVAR)
    ap.add_argument("--select", choices=mixture.CRITERIA, default="bic",
                    help="complete data with several K: the criterion that chooses K")
    ap.add_argument("--k", help="components: 12, 1,12 or 1-4 (default 12; 3 for --demo)")
    ap.add_argument("--seeds", default="0", help="seeds: 0, 0,3 or 0-4 (default 0)")
    ap.add_argument("--gold", help="complete matrix to score the completion against (its format "
                    "is guessed from its own name)")
    ap.add_argument("--out", help="output directory (refused if it exists, unless --overwrite)")
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--output-format", choices=["npy", "text"], default="npy",
                    help="completed matrix as .npy, or also as text")
    ap.add_argument("--tol", type=float, help="stopping rule (default 1e-6 relative; "
                    "for K-means 1e-4 on the cost)")
    ap.add_argument("--max-iter", type=int, default=DEFAULT_MAX_ITER)
    ap.add_argument("--min-variance", type=float, default=masked.MIN_VARIANCE)
    ap.add_argument("--from-model", metavar="DIR", help="ratings: no fit; use the model an "
                    "earlier run wrote to DIR (model.json, and users.npy/items.npy for records) "
                    "to score, complete, --predict or --recommend")
    ap.add_argument("--checkpoint", metavar="DIR", help="save the complete state after every "
                    "iteration in DIR (a directory on the driver)")
    ap.add_argument("--resume", action="store_true",
                    help="continue the run saved in --checkpoint DIR (same input and options)")
    cli.add_session_options(ap)
    ap.add_argument("--partitions", type=int, help="partitions (default: Spark's parallelism)")
    ap.add_argument("--block-rows", type=int, default=DEFAULT_BLOCK_ROWS)
    args = ap.parse_args(argv)
    if args.demo:
        if args.input:
            raise InputError("--demo and --input exclude each other")
        args.missing = "none"
    args.ks = cli.int_list(args.k or ("3" if args.demo else "12"), "--k")
    args.seed_list = cli.int_list(args.seeds, "--seeds")
    problems = [(args.tol is not None and not (math.isfinite(args.tol) and args.tol >= 0),
                 "--tol must be a number >= 0"),
                (args.n_init < 1, "--n-init must be >= 1"),
                (not math.isfinite(args.reg_covar) or args.reg_covar < 0, "--reg-covar must be >= 0"),
                (args.max_iter < 1, "--max-iter must be >= 1"),
                (not math.isfinite(args.min_variance) or args.min_variance <= 0,
                 "--min-variance must be a number > 0"),
                (min(args.ks) < 1, "--k values must be >= 1"),
                (not all(0 <= s < 2**32 for s in args.seed_list), "--seeds must be in 0..4294967295"),
                (args.block_rows < 1, "--block-rows must be >= 1"),
                (args.partitions is not None and args.partitions < 1, "--partitions must be >= 1")]
    for bad, message in problems:
        if bad:
            raise InputError(message)
    if args.gold and not args.input:
        raise InputError("--gold needs --input (the built-in data is scored against its own truth)")
    if args.gold and args.on_bad_rows == "drop":
        raise InputError("--gold compares row by row, so it cannot be used with --on-bad-rows drop")
    if args.gold and args.missing == "none":
        raise InputError("--gold scores a completion; it needs --missing zero")
    if args.format == "triples" and (args.gold or not args.input):
        raise InputError("--format triples needs --input and takes no --gold")
    if (args.predict or args.recommend is not None) and (args.missing == "none" or not args.out):
        raise InputError("--predict and --recommend need ratings (--missing zero) and --out")
    if ((args.predict or args.recommend is not None) and args.on_bad_rows == "drop"
            and args.format != "triples"):
        raise InputError("with --on-bad-rows drop a matrix's rows are renumbered, so --predict and "
                         "--recommend need --format triples (ids that do not move)")
    if args.recommend is not None and args.recommend < 1:
        raise InputError("--recommend must be >= 1")
    if args.from_model and (args.k or args.checkpoint or args.missing == "none"):
        raise InputError("--from-model takes K from the saved model; it goes with ratings and "
                         "without --k or --checkpoint")
    if args.resume and not args.checkpoint:
        raise InputError("--resume needs --checkpoint DIR")
    args.range = _rating_range(args.rating_range)
    return args


def _rating_range(text):
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--rating-range must be LO,HI (two numbers), not {text!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
        raise InputError(f"--rating-range needs 0 < LO <= HI, got {text!r}")
    return low, high


def load(spark, args):
    """(observed blocks, gold blocks or None, id index, description of the data)."""
    if args.format == "triples":
        data = triples.read_triples(
            triples.read_frame(spark, args.input), args.user_col, args.item_col, args.rating_col,
            rating_range=args.range, on_bad_rows=args.on_bad_rows, block_rows=args.block_rows,
            num_partitions=args.partitions, describe=args.input, backend=args.backend)
        return data.blocks, None, data.index, {
            "input": args.input, "format": "triples", "n_ratings": data.n_ratings,
            "n_dropped": data.n_dropped}
    if args.input:
        options = dict(num_partitions=args.partitions, block_rows=args.block_rows,
                       backend=args.backend)
        report = {}
        observed = readers.read_matrix(spark, args.input, args.format, header=args.header,
                                       on_bad_rows=args.on_bad_rows, report=report, **options)
        gold = (readers.read_matrix(spark, args.gold, header=args.header, **options)
                if args.gold else None)
        described = {"input": args.input, "gold": args.gold}
        if args.on_bad_rows == "drop":
            described["n_dropped"] = report.get("dropped", 0)
        return observed, gold, None, described
    data = synthetic.planted_ratings(spark, num_partitions=args.partitions, block_rows=args.block_rows,
                                     backend=args.backend)
    return data.observed, data.truth, None, {
        "input": "built-in synthetic ratings (planted mixture)", "n_types": data.n_types}


# Above this many entries (400 MB as float64) the completed matrix is not written.
DENSE_OUTPUT_MAX_ENTRIES = 50_000_000


def write_completed(work, args, blocks, mix, shape):
    """completed.npy filled block by block as they arrive (in any order), then completed.txt
    from it in row order when asked."""
    matrix = np.lib.format.open_memmap(work / "completed.npy", "w+", np.float64, shape)
    try:
        for block in mc.iter_completed(blocks, mix):
            matrix[block.offset:block.offset + block.values.shape[0]] = block.values
        matrix.flush()
        if args.output_format == "text":
            with open(work / "completed.txt", "w") as text:
                for start in range(0, shape[0], 4096):
                    np.savetxt(text, matrix[start:start + 4096], fmt="%.10g")
    finally:
        del matrix


def write_outputs(spark, out, args, blocks, index, chosen, metrics):
    """metrics.json, model.json (+ the id lists), and the completed matrix when it is small,
    predictions and recommendations when asked; all or nothing."""
    with cli.atomic_dir(out, args.overwrite) as work:
        mix = chosen.mixture
        shape = (metrics["n_rows"], metrics["n_cols"])
        if index is not None:
            index.save(str(work))
        if args.predict:
            pairs = triples.read_frame(spark, args.predict)
            predicted = recommend.predict(spark, blocks, index or _positional(shape), mix, pairs,
                                          args.user_col, args.item_col)
            predicted.write.parquet(str(work / "predictions"))
            metrics["predictions"] = spark.read.parquet(str(work / "predictions")).count()
        if args.recommend:
            recommend.recommend(spark, blocks, index or _positional(shape), mix, args.recommend) \
                .write.parquet(str(work / "recommendations"))
            metrics["recommendations_per_user"] = args.recommend
        if shape[0] * shape[1] <= DENSE_OUTPUT_MAX_ENTRIES:
            write_completed(work, args, blocks, mix, shape)
            metrics["completed"] = "completed.npy"
        else:
            metrics["completed"] = (f"not written: {shape[0]}×{shape[1]} entries; use --predict "
                                    "or --recommend")
        cli.write_json(work / "model.json", {
            "k": chosen.k, "d": int(mix.mu.shape[1]), "p": mix.p.tolist(), "mu": mix.mu.tolist(),
            "var": mix.var.tolist(), "init": "reference", "seed": chosen.seed,
            "log_likelihood": chosen.log_likelihood, "n_iter": chosen.n_iter,
            "min_variance": args.min_variance, "tol": args.tol,
            "ids": "users.npy, items.npy" if index is not None else None})
        cli.write_json(work / "metrics.json", metrics)


def _positional(shape):
    """Ids of a matrix input: its row and column numbers from 0."""
    return triples.RatingsIndex(np.arange(shape[0]), np.arange(shape[1]))


def open_checkpoint(args, make, summary, **options):
    """The run's ``Checkpoint`` (None without --checkpoint); a directory holding one already
    is refused unless --resume."""
    if not args.checkpoint:
        return None
    return make(args.checkpoint, summary, k=args.ks, seeds=args.seed_list,
                max_iter=args.max_iter, **options).check_start(args.resume)


def fitted_runs(args, blocks, summary, described):
    """Every (K, seed) fitted together, with a checkpoint after every pass when asked."""
    tol = DEFAULT_TOL if args.tol is None else args.tol
    checkpoint = open_checkpoint(args, mc.checkpoint_for, summary, input=described["input"],
                                 tol=tol, min_variance=args.min_variance)
    return mc.fit_all(
        blocks, args.ks, args.seed_list, tol=tol, max_iter=args.max_iter,
        min_variance=args.min_variance, summary=summary, checkpoint=checkpoint,
        resume=args.resume,
        on_run_iteration=lambda k, seed, it: cli.say(cli.progress_line(f"k={k} seed={seed}", it)))


def saved_run(directory, blocks, index, summary):
    """The model an earlier run saved, checked against the data, as a run of no iterations
    whose log-likelihood is the data's under it (one pass)."""
    path = Path(directory) / "model.json"
    try:
        saved = json.loads(path.read_text())
        mixture = masked.Mixture(*(np.array(saved[name], dtype=np.float64) for name in ("mu", "var", "p")))
        seed = int(saved.get("seed", 0))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a readable model ({exc})") from None
    problem = masked.mixture_problem(mixture, summary.n_cols)
    if problem:
        raise InputError(f"{path}: the model does not fit: {problem}")
    if index is not None:
        items = triples.RatingsIndex.load(str(directory)).items
        if not np.array_equal(items, index.items):
            raise InputError(f"{directory}: the model's items (items.npy) differ from the input's")
    start = time.perf_counter()
    stats = engine.aggregate(blocks, masked.block_stats, masked.add_stats, mixture)
    return mc.MaskedRun(len(mixture.mu), seed, mixture, stats.log_likelihood, 0, True,
                        time.perf_counter() - start)


def fit_ratings(spark, args, start):
    """The masked model: fit, choose the best run, score and write the completion."""
    blocks, gold, index, described = load(spark, args)
    summary = summarize(blocks)
    if args.from_model:
        runs = [saved_run(args.from_model, blocks, index, summary)]
        args.ks = [runs[0].k]
    else:
        runs = fitted_runs(args, blocks, summary, described)
    chosen = mc.best(runs)
    best_by_k = {str(k): mc.best([r for r in runs if r.k == k]).summary() for k in args.ks}
    metrics = dict(chosen.summary(), **described, n_rows=summary.n_rows, n_cols=summary.n_cols,
                   observed_fraction=summary.observed_fraction,
                   n_empty_rows=summary.n_empty_rows,
                   runs=[r.summary() for r in runs], best_by_k=best_by_k)
    if gold is not None:
        metrics["rmse"], metrics["rmse_missing"] = mc.rmse(blocks, chosen.mixture, gold)
    metrics["seconds"] = round(time.perf_counter() - start, 3)
    if args.out:
        write_outputs(spark, args.out, args, blocks, index, chosen, metrics)
    return metrics


def fit_complete(spark, args, start):
    """Complete data: mixtures (or K-means) over every (K, seed), K chosen by --select."""
    if args.demo:
        blocks = synthetic.blobs(spark, num_partitions=args.partitions, backend=args.backend)
        described = {"input": "demo: 3x1000 points around (4,0), (6,6), (0,4), identity covariance"}
    else:
        blocks = readers.read_matrix(spark, args.input, args.format, ratings=False,
                                     header=args.header, num_partitions=args.partitions,
                                     block_rows=args.block_rows, backend=args.backend)
        described = {"input": args.input}
    summary = summarize(blocks)
    paths: dict[tuple[int, int], list] = {}
    objective = "cost" if args.model == "kmeans" else "log-likelihood"

    def report(k, seed, it, mix):
        paths.setdefault((k, seed), []).append(mix.means.copy())
        cli.say(cli.progress_line(f"k={k} seed={seed}", it, objective))

    checkpoint = open_checkpoint(
        args, lambda *a, **o: mixture.checkpoint_for(*a, model=args.model, **o), summary,
        input=described["input"], covariance=args.covariance, init=args.init,
        n_init=args.n_init, tol=args.tol, reg_covar=args.reg_covar)
    runs = mixture.fit_all(blocks, args.ks, args.seed_list, model=args.model,
                           covariance_type=args.covariance, init=args.init, tol=args.tol,
                           max_iter=args.max_iter, reg_covar=args.reg_covar, n_init=args.n_init,
                           on_run_iteration=report, summary=summary, checkpoint=checkpoint,
                           resume=args.resume)
    chosen, best_by_k = mixture.select(runs, args.select)
    metrics = dict(chosen.summary(), **described, n_rows=summary.n_rows, n_cols=summary.n_cols,
                   select=args.select if args.model == "gmm" else None,
                   candidates=[best_by_k[k].summary() for k in sorted(best_by_k)],
                   runs=[r.summary() for r in runs])
    metrics["seconds"] = round(time.perf_counter() - start, 3)
    if args.out:
        with cli.atomic_dir(args.out, args.overwrite) as work:
            cli.write_json(work / "metrics.json", metrics)
            mix = chosen.mixture
            cli.write_json(work / "model.json", {
                "k": chosen.k, "d": int(mix.means.shape[1]), "model": chosen.model,
                "covariance_type": mix.covariance_type, "weights": mix.weights.tolist(),
                "means": mix.means.tolist(), "covariances": np.asarray(mix.covariances).tolist(),
                "init": chosen.init, "seed": chosen.seed, "objective": chosen.objective,
                "n_iter": chosen.n_iter, "reg_covar": args.reg_covar, "tol": args.tol})
            if summary.n_cols == 2:
                sample = sample_rows(blocks, 5000, summary.n_rows)
                trail = [chosen.initial.means] + paths.get((chosen.k, chosen.seed), [])
                plots.mixture_plot(sample, mix, trail,
                                   work / "fit.png",
                                   f"K={chosen.k}, {mix.covariance_type} covariance, seed {chosen.seed}")
    return metrics


def main(argv=None):
    args = parse_args(argv)
    cli.check_out_dir(args.out, args.overwrite)
    from spark_em.session import get_spark

    spark = get_spark("spark-em fit_gmm", args.remote)
    start = time.perf_counter()
    fit = fit_complete if args.missing == "none" else fit_ratings
    print(json.dumps(fit(spark, args, start), indent=2, allow_nan=False))


if __name__ == "__main__":
    sys.exit(cli.main_wrapper(main))
