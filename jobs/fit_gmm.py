"""Fit a Gaussian mixture: to a partially observed ratings matrix (and complete it), or to
complete data.

    spark-submit jobs/fit_gmm.py --input PATH --missing zero --k 12 --seeds 0-4 \\
        --gold PATH --out DIR
    spark-submit jobs/fit_gmm.py --input points.csv --missing none --covariance full \\
        --k 1-4 --select bic --out DIR
    spark-submit jobs/fit_gmm.py --demo blobs --out DIR

With no --input, a seeded synthetic ratings matrix drawn from a planted mixture is used and
the completion is scored against the planted truth. Progress goes to stderr, one line per
iteration; the metrics go to stdout as JSON and, with --out, to DIR/metrics.json beside
DIR/model.json and the completed matrix (ratings) or DIR/fit.png (2-D complete data).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

from spark_em import cli, gaussian, masked, mixture, plots, readers, synthetic
from spark_em import matrix_completion as mc
from spark_em.blocks import DEFAULT_BLOCK_ROWS, sample_rows, summarize
from spark_em.engine import DEFAULT_MAX_ITER, DEFAULT_TOL
from spark_em.errors import InputError


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="fit_gmm.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", help="ratings matrix: text, CSV or .npy file, or a directory "
                    "(default: built-in synthetic ratings)")
    ap.add_argument("--format", choices=readers.FORMATS, help="input format (default: from the name)")
    ap.add_argument("--header", action="store_true", help="CSV files start with a header line")
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
    if args.gold and args.missing == "none":
        raise InputError("--gold scores a completion; it needs --missing zero")
    return args


def load(sc, args):
    """(observed blocks, gold blocks or None, description of the data)."""
    if args.input:
        options = dict(num_partitions=args.partitions, block_rows=args.block_rows)
        observed = readers.read_matrix(sc, args.input, args.format, header=args.header, **options)
        gold = (readers.read_matrix(sc, args.gold, header=args.header, **options)
                if args.gold else None)
        return observed, gold, {"input": args.input, "gold": args.gold}
    data = synthetic.planted_ratings(sc, num_partitions=args.partitions, block_rows=args.block_rows)
    return data.observed, data.truth, {
        "input": "built-in synthetic ratings (planted mixture)", "n_types": data.n_types}


def write_outputs(out, args, blocks, chosen, metrics):
    with cli.atomic_dir(out, args.overwrite) as work:
        cli.write_json(work / "metrics.json", metrics)
        mix = chosen.mixture
        cli.write_json(work / "model.json", {
            "k": chosen.k, "d": int(mix.mu.shape[1]), "p": mix.p.tolist(), "mu": mix.mu.tolist(),
            "var": mix.var.tolist(), "init": "reference", "seed": chosen.seed,
            "log_likelihood": chosen.log_likelihood, "n_iter": chosen.n_iter,
            "min_variance": args.min_variance, "tol": args.tol})
        shape = (metrics["n_rows"], metrics["n_cols"])
        matrix = np.lib.format.open_memmap(work / "completed.npy", "w+", np.float64, shape)
        text = open(work / "completed.txt", "w") if args.output_format == "text" else None
        try:
            written = 0
            for block in mc.iter_completed(blocks, mix):
                rows = block.values.shape[0]
                matrix[block.offset:block.offset + rows] = block.values
                if text:
                    if block.offset != written:
                        raise RuntimeError("completed blocks arrived out of row order")
                    np.savetxt(text, block.values, fmt="%.10g")
                written += rows
            matrix.flush()
        finally:
            del matrix
            if text:
                text.close()


def fit_ratings(sc, args, start):
    """The masked model: fit, choose the best run, score and write the completion."""
    blocks, gold, described = load(sc, args)
    summary = summarize(blocks)
    runs = mc.fit_all(
        blocks, args.ks, args.seed_list, tol=DEFAULT_TOL if args.tol is None else args.tol,
        max_iter=args.max_iter, min_variance=args.min_variance, summary=summary,
        on_run_iteration=lambda k, seed, it: cli.say(cli.progress_line(f"k={k} seed={seed}", it)))
    chosen = mc.best(runs)
    best_by_k = {str(k): mc.best([r for r in runs if r.k == k]).summary() for k in args.ks}
    metrics = dict(chosen.summary(), **described, n_rows=summary.n_rows, n_cols=summary.n_cols,
                   observed_fraction=summary.observed_fraction,
                   runs=[r.summary() for r in runs], best_by_k=best_by_k)
    if gold is not None:
        metrics["rmse"], metrics["rmse_missing"] = mc.rmse(blocks, chosen.mixture, gold)
    metrics["seconds"] = round(time.perf_counter() - start, 3)
    if args.out:
        write_outputs(args.out, args, blocks, chosen, metrics)
    return metrics


def fit_complete(sc, args, start):
    """Complete data: mixtures (or K-means) over every (K, seed), K chosen by --select."""
    if args.demo:
        blocks = synthetic.blobs(sc, num_partitions=args.partitions)
        described = {"input": "demo: 3x1000 points around (4,0), (6,6), (0,4), identity covariance"}
    else:
        blocks = readers.read_matrix(sc, args.input, args.format, ratings=False,
                                     header=args.header, num_partitions=args.partitions,
                                     block_rows=args.block_rows)
        described = {"input": args.input}
    summary = summarize(blocks)
    paths: dict[tuple[int, int], list] = {}
    objective = "cost" if args.model == "kmeans" else "log-likelihood"

    def report(k, seed, it, mix):
        paths.setdefault((k, seed), []).append(mix.means.copy())
        cli.say(cli.progress_line(f"k={k} seed={seed}", it, objective))

    runs = mixture.fit_all(blocks, args.ks, args.seed_list, model=args.model,
                           covariance_type=args.covariance, init=args.init, tol=args.tol,
                           max_iter=args.max_iter, reg_covar=args.reg_covar, n_init=args.n_init,
                           on_run_iteration=report, summary=summary)
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

    sc = get_spark("spark-em fit_gmm").sparkContext
    start = time.perf_counter()
    fit = fit_complete if args.missing == "none" else fit_ratings
    print(json.dumps(fit(sc, args, start), indent=2, allow_nan=False))


if __name__ == "__main__":
    sys.exit(cli.main_wrapper(main))
