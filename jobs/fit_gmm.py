"""Fit a Gaussian mixture to a partially observed ratings matrix and complete it.

    spark-submit jobs/fit_gmm.py --input PATH --missing zero --k 12 --seeds 0-4 \\
        --gold PATH --out DIR

With no --input, a seeded synthetic ratings matrix drawn from a planted mixture is used and
the completion is scored against the planted truth. Progress goes to stderr, one line per
iteration; the metrics go to stdout as JSON and, with --out, to DIR/metrics.json beside
DIR/model.json and the completed matrix.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

from spark_em import cli, masked, readers, synthetic
from spark_em import matrix_completion as mc
from spark_em.blocks import DEFAULT_BLOCK_ROWS, n_rows
from spark_em.engine import DEFAULT_MAX_ITER, DEFAULT_TOL
from spark_em.errors import InputError


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="fit_gmm.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", help="ratings matrix: text, CSV or .npy file, or a directory "
                    "(default: built-in synthetic ratings)")
    ap.add_argument("--format", choices=readers.FORMATS, help="input format (default: from the name)")
    ap.add_argument("--header", action="store_true", help="CSV files start with a header line")
    ap.add_argument("--missing", choices=["zero"], default="zero",
                    help="how missing entries are marked (0, as in the course data)")
    ap.add_argument("--k", default="12", help="components: 12, 1,12 or 1-4 (default 12)")
    ap.add_argument("--seeds", default="0", help="seeds: 0, 0,3 or 0-4 (default 0)")
    ap.add_argument("--gold", help="complete matrix to score the completion against (its format "
                    "is guessed from its own name)")
    ap.add_argument("--out", help="output directory (refused if it exists, unless --overwrite)")
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--output-format", choices=["npy", "text"], default="npy",
                    help="completed matrix as .npy, or also as text")
    ap.add_argument("--tol", type=float, default=DEFAULT_TOL)
    ap.add_argument("--max-iter", type=int, default=DEFAULT_MAX_ITER)
    ap.add_argument("--min-variance", type=float, default=masked.MIN_VARIANCE)
    ap.add_argument("--partitions", type=int, help="partitions (default: Spark's parallelism)")
    ap.add_argument("--block-rows", type=int, default=DEFAULT_BLOCK_ROWS)
    args = ap.parse_args(argv)
    args.ks = cli.int_list(args.k, "--k")
    args.seed_list = cli.int_list(args.seeds, "--seeds")
    problems = [(not math.isfinite(args.tol) or args.tol < 0, "--tol must be a number >= 0"),
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


def main(argv=None):
    args = parse_args(argv)
    cli.check_out_dir(args.out, args.overwrite)
    from spark_em.session import get_spark

    sc = get_spark("spark-em fit_gmm").sparkContext
    start = time.perf_counter()
    blocks, gold, described = load(sc, args)
    total_rows = n_rows(blocks)
    n_cols = blocks.first().values.shape[1]
    runs = mc.fit_all(
        blocks, args.ks, args.seed_list, tol=args.tol, max_iter=args.max_iter,
        min_variance=args.min_variance,
        on_run_iteration=lambda k, seed, it: cli.say(cli.progress_line(f"k={k} seed={seed}", it)))
    chosen = mc.best(runs)
    best_by_k = {str(k): mc.best([r for r in runs if r.k == k]).summary() for k in args.ks}
    metrics = dict(chosen.summary(), **described, n_rows=total_rows, n_cols=n_cols,
                   runs=[r.summary() for r in runs], best_by_k=best_by_k)
    if gold is not None:
        metrics["rmse"], metrics["rmse_missing"] = mc.rmse(blocks, chosen.mixture, gold)
    metrics["seconds"] = round(time.perf_counter() - start, 3)
    if args.out:
        write_outputs(args.out, args, blocks, chosen, metrics)
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    sys.exit(cli.main_wrapper(main))
