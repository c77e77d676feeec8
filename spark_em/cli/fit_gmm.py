"""Fit a Gaussian mixture: to a partially observed ratings matrix (and complete it), or to
complete data.

    spark-submit jobs/fit_gmm.py --input PATH --missing zero --k 12 --seeds 0-4 \\
        --gold PATH --out DIR
    spark-submit jobs/fit_gmm.py --input points.csv --missing none --covariance full \\
        --k 1-4 --select bic --out DIR
    spark-submit jobs/fit_gmm.py --input ratings.parquet --format triples --user-col userId \
        --item-col movieId --rating-col rating --recommend 10 --predict pairs.csv --out DIR
    spark-submit jobs/fit_gmm.py --input holes.csv --missing nan --covariance full \
        --k 3 --gold complete.csv --out DIR
    spark-submit jobs/fit_gmm.py --demo blobs --out DIR

With no --input, a seeded synthetic ratings matrix drawn from a planted mixture is used and
the completion is scored against the planted truth. Progress goes to stderr, one line per
iteration; the metrics go to stdout as JSON and, with --out, to DIR/metrics.json beside
DIR/model.json and the completed matrix (ratings) or DIR/fit.png (2-D complete data); with
--missing nan, DIR/imputed holds every row with its missing values imputed (Parquet).

Ratings as (user, item, rating) records (--format triples) are held as sparse blocks; the
completed matrix is written only when it is small, and --predict / --recommend write Parquet
predictions and top-N recommendations under the original ids instead.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from spark_em.cli.common import (
    add_session_options,
    as_command,
    flags_of,
    int_list,
    say,
    speaking,
    write_json,
)
from spark_em.cli.outputs import check_checkpoint, check_out_dir, kept, output_dir
from spark_em.cli.plots import mixture_plot
from spark_em.engine.block import DEFAULT_BLOCK_ROWS
from spark_em.engine.fs import local_copy
from spark_em.engine.loop import DEFAULT_MAX_ITER, DEFAULT_TOL
from spark_em.engine.ops import sample_rows, summarize
from spark_em.engine.session import get_spark
from spark_em.errors import InputError
from spark_em.io.matrix import FORMATS, read_columns, read_matrix, write_npy
from spark_em.io.named import format_of, read_frame
from spark_em.io.synthetic import blobs, planted_ratings
from spark_em.io.triples import RatingsIndex, read_triples
from spark_em.kernels.gaussian import COVARIANCE_TYPES, REG_COVAR
from spark_em.kernels.kmeans import EUCLIDEAN, MEASURES
from spark_em.kernels.masked import MIN_VARIANCE
from spark_em.models import gaussian as gaussian_model
from spark_em.models import kmeans as kmeans_model
from spark_em.models import masked as masked_model
from spark_em.models import missing as missing_model
from spark_em.models import recommend
from spark_em.models.seeding import PARALLEL
from spark_em.models.selection import CRITERIA

RATINGS = "ratings"  # --model's name for the masked mixture of matrix completion
GAUSSIAN = "gaussian"  # --model's name for the complete-data mixture (also its family's, gmm)

# The complete-data families --model names, each with the options it takes from the flags.
FAMILIES = {
    gaussian_model.NAME: (
        gaussian_model,
        lambda args: {
            "covariance_type": args.covariance,
            "reg_covar": args.reg_covar,
            **({"n_factors": args.factor_list} if args.covariance == "factor" else {}),
        },
    ),
    kmeans_model.NAME: (
        kmeans_model,
        lambda args: {"distance_measure": args.distance_measure or EUCLIDEAN},
    ),
}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="fit_gmm.py", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--input",
        help="ratings matrix: text, CSV or .npy file, or a directory "
        "(default: built-in synthetic ratings)",
    )
    ap.add_argument(
        "--format",
        choices=FORMATS + ("parquet", "triples"),
        help="input format (default: from the name); parquet: complete data, one "
        "numeric column per feature; triples: (user, item, rating) records in "
        "Parquet or CSV with a header",
    )
    ap.add_argument("--header", action="store_true", help="CSV files start with a header line")
    ap.add_argument("--user-col", default="user", help="triples: the user id column")
    ap.add_argument("--item-col", default="item", help="triples: the item id column")
    ap.add_argument("--rating-col", default="rating", help="triples: the rating column")
    ap.add_argument("--rating-range", help="triples: LO,HI; a rating outside is a bad record")
    ap.add_argument(
        "--on-bad-rows",
        choices=["error", "drop"],
        default="error",
        help="ratings (text, CSV, triples): stop at the first bad row or record, or "
        "drop them and count them (n_dropped)",
    )
    ap.add_argument(
        "--predict",
        help="triples or ratings: CSV (header) or Parquet of (user, item) "
        "pairs; writes DIR/predictions (Parquet)",
    )
    ap.add_argument(
        "--recommend",
        type=int,
        metavar="N",
        help="writes each user's top-N unrated items to DIR/recommendations (Parquet)",
    )
    ap.add_argument(
        "--missing",
        choices=["zero", "none", "nan"],
        help="how missing entries are marked: zero: 0 marks a missing rating (the course data; "
        "the default for --model ratings); none: nothing is missing (the default for "
        "--model gaussian and kmeans); nan: an empty field, NA or nan in text, NaN in .npy, "
        "fitted by exact EM with any --covariance",
    )
    ap.add_argument(
        "--demo",
        choices=["blobs"],
        help="blobs: the three-cluster demo "
        "(3×1000 points around (4,0), (6,6), (0,4)); implies --missing none, K=3",
    )
    ap.add_argument(
        "--weight",
        metavar="COL",
        help="complete data in CSV (with --header) or Parquet: the column of each "
        "row's weight (>= 0; an integer weight m counts the row m times); the other "
        "columns are the features unless --features names them",
    )
    ap.add_argument(
        "--features",
        metavar="A,B,...",
        help="complete data in CSV (with --header) or Parquet: the feature columns "
        "(default: every column but --weight)",
    )
    ap.add_argument(
        "--covariance",
        choices=COVARIANCE_TYPES,
        default="full",
        help="covariance type for complete data (default full); factor is a mixture of factor "
        "analysers, each covariance Λ Λᵀ + Ψ with --factors columns in Λ",
    )
    ap.add_argument(
        "--factors",
        metavar="Q",
        help="with --covariance factor: factors of each component, 2, 0,2 or 1-4 (several "
        "are compared by --select, as K is; default 2)",
    )
    ap.add_argument(
        "--model",
        choices=[RATINGS, GAUSSIAN, *FAMILIES],
        help="what is fitted: ratings (the masked spherical mixture of matrix completion, 0 = "
        "missing), gaussian (also gmm: a Gaussian mixture of complete data, or with "
        "--missing nan of data with missing values) or kmeans (the course's K-means). "
        "Default: ratings, or gaussian with --missing none or nan or --demo. A ratings fit "
        "of data with nothing missing is refused",
    )
    ap.add_argument(
        "--init",
        choices=kmeans_model.INIT_MODES,
        default="reference",
        help="the start: reference (the course's: K data rows, the default here so that the "
        "course's numbers are reproduced; the estimators default to kmeans++, KMeans to "
        "k-means||), kmeans++ (greedy k-means++; for ratings over each user's observed "
        "ratings, unrated items at the item's mean), random (complete data) or k-means|| "
        "(--model kmeans: MLlib's scalable k-means++, 2 rounds)",
    )
    ap.add_argument(
        "--distance-measure",
        choices=MEASURES,
        help="--model kmeans: euclidean (the default) or cosine (1 - cos(x, c), MLlib's)",
    )
    ap.add_argument(
        "--prior-strength",
        type=float,
        default=0.0,
        metavar="TAU",
        help="ratings: a normal prior on each component's item means, centred on the item's "
        "mean rating and worth TAU ratings (default 0: the course's M-step; "
        "MixtureRecommender uses 1)",
    )
    ap.add_argument("--n-init", type=int, default=1, help="restarts per seed (best kept)")
    ap.add_argument(
        "--reg-covar",
        type=float,
        default=REG_COVAR,
        help="complete data: added to every covariance's diagonal (default 1e-6, scikit-learn's)",
    )
    ap.add_argument(
        "--select",
        choices=CRITERIA,
        default="bic",
        help="complete data with several K: the criterion that chooses K, the lowest wins "
        "(scikit-learn's bic = -2 LL + p log n, aic = -2 LL + 2p; the course's LL - p log n / 2 "
        "is reported as course_bic)",
    )
    ap.add_argument("--k", help="components: 12, 1,12 or 1-4 (default 12; 3 for --demo)")
    ap.add_argument("--seeds", default="0", help="seeds: 0, 0,3 or 0-4 (default 0)")
    ap.add_argument(
        "--gold",
        help="complete matrix to score the completion against (its format "
        "is guessed from its own name)",
    )
    ap.add_argument(
        "--out",
        help="output directory: a path or a URI Spark can write (s3a://, hdfs://, dbfs:/, "
        "file:///); refused if it exists, unless --overwrite",
    )
    ap.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out if an earlier spark-em job wrote it (anything else is refused)",
    )
    ap.add_argument(
        "--output-format",
        choices=["npy", "text"],
        default="npy",
        help="completed matrix as .npy, or also as text",
    )
    ap.add_argument(
        "--tol",
        type=float,
        help="stopping rule (default 1e-6 relative; for K-means 1e-4 on the cost)",
    )
    ap.add_argument(
        "--max-iter",
        type=int,
        default=DEFAULT_MAX_ITER,
        help="iteration cap (default 1000, so that the course's fits run to the stopping rule; "
        "the estimators default to MLlib's 100 for GaussianMixture)",
    )
    ap.add_argument(
        "--min-variance",
        type=float,
        default=MIN_VARIANCE,
        help="ratings: the floor of every variance (default 0.25, the course's)",
    )
    ap.add_argument(
        "--from-model",
        metavar="DIR",
        help="ratings: no fit; use the model an "
        "earlier run wrote to DIR (model.json, and users.npy/items.npy for records) "
        "to score, complete, --predict or --recommend",
    )
    ap.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="save the complete state after every iteration in DIR (a directory on the driver)",
    )
    ap.add_argument(
        "--resume",
        action="store_true",
        help="continue the run saved in --checkpoint DIR (same input and options)",
    )
    add_session_options(ap)
    ap.add_argument("--partitions", type=int, help="partitions (default: Spark's parallelism)")
    ap.add_argument(
        "--block-rows",
        type=int,
        default=DEFAULT_BLOCK_ROWS,
        help="rows per block on the executors (default 4096)",
    )
    return ap


FLAGS = flags_of(
    build_parser(),
    covariance_type="--covariance",
    n_factors="--factors",
    criterion="--select",
    fmt="--format",
    num_partitions="--partitions",
    n="--recommend",
)


def _chosen_model(args) -> None:
    """--model and --missing, each completed from the other (the flags of earlier versions,
    --missing zero or none alone, keep their meaning), and refused when they disagree."""
    if args.demo:
        if args.input:
            raise InputError("--demo and --input exclude each other")
        if args.missing not in (None, "none") or args.model == RATINGS:
            raise InputError("--demo is complete data: it takes --model gaussian or kmeans")
        args.missing = "none"
    if args.model == GAUSSIAN:
        args.model = gaussian_model.NAME
    if args.model is None:
        args.model = RATINGS if args.missing in (None, "zero") else gaussian_model.NAME
    if args.missing is None:
        args.missing = "zero" if args.model == RATINGS else "none"
    if args.model == RATINGS and args.missing != "zero":
        raise InputError(
            f"--model ratings reads 0 as a missing rating: it goes with --missing zero, not "
            f"--missing {args.missing} (use --model gaussian for other data)"
        )
    if args.model != RATINGS and args.missing == "zero":
        raise InputError(
            f"--missing zero marks missing ratings, the ratings model's data: --model "
            f"{args.model} takes --missing none or nan"
        )
    if args.model == RATINGS and args.init == "random":
        raise InputError("--init random is for complete data; ratings take reference or kmeans++")
    if args.model != kmeans_model.NAME and (args.init == PARALLEL or args.distance_measure):
        flag = f"--init {PARALLEL}" if args.init == PARALLEL else "--distance-measure"
        raise InputError(f"{flag} is for --model kmeans")
    if args.model != RATINGS and args.prior_strength:
        raise InputError("--prior-strength is for --model ratings")
    if not (math.isfinite(args.prior_strength) and args.prior_strength >= 0):
        raise InputError("--prior-strength must be a number >= 0")


def parse_args(argv):
    args = build_parser().parse_args(argv)
    _chosen_model(args)
    args.ks = int_list(args.k or ("3" if args.demo else "12"), "--k")
    args.seed_list = int_list(args.seeds, "--seeds")
    if args.factors and args.covariance != "factor":
        raise InputError("--factors goes with --covariance factor")
    args.factor_list = int_list(args.factors or "2", "--factors")
    problems = [
        (
            args.tol is not None and not (math.isfinite(args.tol) and args.tol >= 0),
            "--tol must be a number >= 0",
        ),
        (args.n_init < 1, "--n-init must be >= 1"),
        (not math.isfinite(args.reg_covar) or args.reg_covar < 0, "--reg-covar must be >= 0"),
        (args.max_iter < 1, "--max-iter must be >= 1"),
        (
            not math.isfinite(args.min_variance) or args.min_variance <= 0,
            "--min-variance must be a number > 0",
        ),
        (min(args.ks) < 1, "--k values must be >= 1"),
        (min(args.factor_list) < 0, "--factors values must be >= 0"),
        (not all(0 <= s < 2**32 for s in args.seed_list), "--seeds must be in 0..4294967295"),
        (args.block_rows < 1, "--block-rows must be >= 1"),
        (args.partitions is not None and args.partitions < 1, "--partitions must be >= 1"),
    ]
    for bad, message in problems:
        if bad:
            raise InputError(message)
    if args.gold and not args.input:
        raise InputError("--gold needs --input (the built-in data is scored against its own truth)")
    if args.gold and args.on_bad_rows == "drop":
        raise InputError("--gold compares row by row, so it cannot be used with --on-bad-rows drop")
    if args.gold and args.missing == "none":
        raise InputError("--gold scores a completion or imputation; it needs --missing zero or nan")
    if args.format == "triples" and (args.gold or not args.input):
        raise InputError("--format triples needs --input and takes no --gold")
    if (args.predict or args.recommend is not None) and (args.missing != "zero" or not args.out):
        raise InputError("--predict and --recommend need ratings (--missing zero) and --out")
    if (
        (args.predict or args.recommend is not None)
        and args.on_bad_rows == "drop"
        and args.format != "triples"
    ):
        raise InputError(
            "with --on-bad-rows drop a matrix's rows are renumbered, so --predict and "
            "--recommend need --format triples (ids that do not move)"
        )
    if args.recommend is not None and args.recommend < 1:
        raise InputError("--recommend must be >= 1")
    if args.from_model and (args.k or args.checkpoint or args.missing != "zero"):
        raise InputError(
            "--from-model takes K from the saved model; it goes with ratings and "
            "without --k or --checkpoint"
        )
    if args.resume and not args.checkpoint:
        raise InputError("--resume needs --checkpoint DIR")
    _check_named_columns(args)
    args.range = _rating_range(args.rating_range)
    return args


def _named_format(args) -> str | None:
    """csv or parquet when the input is read by column names (a weight column, chosen
    features, or Parquet; by ``io.named``'s rule when --format does not say); what else the
    input is, when it cannot be."""
    name = (args.input or "").rstrip("/").lower()
    guessed = args.format or (
        "parquet" if name.endswith(".parquet") else "npy" if name.endswith(".npy") else None
    )
    if guessed == "parquet" or args.weight or args.features:
        return guessed or format_of(args.input)
    return None


def _check_named_columns(args) -> None:
    fmt = _named_format(args)
    if fmt is None:
        return
    if args.missing == "zero" or args.demo or not args.input:
        raise InputError(
            "--weight, --features and Parquet input are for complete data: give "
            "--input and --missing none"
        )
    if fmt not in ("csv", "parquet"):
        raise InputError(
            f"--weight and --features need CSV with a header or Parquet input, not {fmt}"
        )
    if fmt == "csv" and not args.header:
        raise InputError(
            "--weight and --features with CSV input need --header (the columns are named)"
        )
    if args.on_bad_rows == "drop":
        raise InputError(
            "--on-bad-rows drop is for text, CSV and triples input read by "
            "position, not with --weight, --features or Parquet"
        )
    if args.gold:
        raise InputError("--gold goes with text, CSV or .npy input without --weight")


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
        data = read_triples(
            read_frame(spark, args.input),
            args.user_col,
            args.item_col,
            args.rating_col,
            rating_range=args.range,
            on_bad_rows=args.on_bad_rows,
            block_rows=args.block_rows,
            num_partitions=args.partitions,
            describe=args.input,
            backend=args.backend,
        )
        return (
            data.blocks,
            None,
            data.index,
            {
                "input": args.input,
                "format": "triples",
                "n_ratings": data.n_ratings,
                "n_dropped": data.n_dropped,
            },
        )
    if args.input:
        options = dict(
            num_partitions=args.partitions, block_rows=args.block_rows, backend=args.backend
        )
        report = {}
        observed = read_matrix(
            spark,
            args.input,
            args.format,
            header=args.header,
            on_bad_rows=args.on_bad_rows,
            report=report,
            **options,
        )
        gold = read_matrix(spark, args.gold, header=args.header, **options) if args.gold else None
        described = {"input": args.input, "gold": args.gold}
        if args.on_bad_rows == "drop":
            described["n_dropped"] = report.get("dropped", 0)
        return observed, gold, None, described
    data = planted_ratings(
        spark, num_partitions=args.partitions, block_rows=args.block_rows, backend=args.backend
    )
    return (
        data.observed,
        data.truth,
        None,
        {"input": "built-in synthetic ratings (planted mixture)", "n_types": data.n_types},
    )


# Above this many entries (400 MB as float64) the completed matrix is not written.
DENSE_OUTPUT_MAX_ENTRIES = 50_000_000


def write_outputs(spark, out, args, blocks, index, chosen, metrics):
    """metrics.json, model.json (+ the id lists), and the completed matrix when it is small,
    predictions and recommendations when asked; all or nothing."""
    positional = index is None
    with output_dir(spark, out, args.overwrite, inputs(args)) as output:
        work = output.local
        mix = chosen.mixture
        shape = (metrics["n_rows"], metrics["n_cols"])
        index = index or RatingsIndex.positional(shape)
        if not positional:
            index.save(str(work))
        if args.predict:
            pairs = read_frame(spark, args.predict)
            predicted = recommend.predict(
                spark, blocks, index, mix, pairs, args.user_col, args.item_col
            )
            predicted.write.parquet(output.spark("predictions"))
            metrics["predictions"] = spark.read.parquet(output.spark("predictions")).count()
        if args.recommend:
            recommend.recommend(spark, blocks, index, mix, args.recommend).write.parquet(
                output.spark("recommendations")
            )
            metrics["recommendations_per_user"] = args.recommend
        if shape[0] * shape[1] <= DENSE_OUTPUT_MAX_ENTRIES:
            write_npy(
                masked_model.iter_completed(blocks, mix),
                work / "completed.npy",
                shape,
                work / "completed.txt" if args.output_format == "text" else None,
            )
            metrics["completed"] = "completed.npy"
        else:
            metrics["completed"] = (
                f"not written: {shape[0]}×{shape[1]} entries; use --predict or --recommend"
            )
        write_json(
            work / "model.json",
            masked_model.model_record(
                chosen,
                min_variance=args.min_variance,
                tol=args.tol,
                ids=None if positional else "users.npy, items.npy",
            ),
        )
        write_json(work / "metrics.json", metrics)


def open_checkpoint(args, make, summary, **options):
    """The run's ``Checkpoint`` (None without --checkpoint); a directory holding one already
    is refused unless --resume."""
    if not args.checkpoint:
        return None
    return make(
        args.checkpoint, summary, k=args.ks, seeds=args.seed_list, max_iter=args.max_iter, **options
    ).check_start(args.resume)


def fitted_runs(args, blocks, summary, described):
    """Every (K, seed) fitted together, with a checkpoint after every pass when asked."""
    tol = DEFAULT_TOL if args.tol is None else args.tol
    checkpoint = open_checkpoint(
        args,
        masked_model.checkpoint_for,
        summary,
        input=described["input"],
        tol=tol,
        min_variance=args.min_variance,
        init=args.init,
        prior_strength=args.prior_strength,
    )
    return masked_model.fit_all(
        blocks,
        args.ks,
        args.seed_list,
        tol=tol,
        max_iter=args.max_iter,
        min_variance=args.min_variance,
        init=args.init,
        prior_strength=args.prior_strength,
        summary=summary,
        checkpoint=checkpoint,
        resume=args.resume,
    )


def saved_run(spark, location, blocks, index, summary):
    """The model an earlier run saved at ``location`` (a directory or a URI), checked against
    the data, as a run of no iterations whose log-likelihood is the data's under it (one
    pass)."""
    names = [masked_model.MODEL_FILE, "users.npy", "items.npy"]
    with local_copy(spark, location, f"--from-model {location}", names) as directory:
        mixture, seed = masked_model.read_model(directory, summary.n_cols)
        items = RatingsIndex.load(str(directory)).items if index is not None else None
    if items is not None and not np.array_equal(items, index.items):
        raise InputError(f"{location}: the model's items (items.npy) differ from the input's")
    return masked_model.scored(blocks, mixture, seed)


def fit_ratings(spark, args, start):
    """The masked model: fit, choose the best run, score and write the completion."""
    blocks, gold, index, described = load(spark, args)
    summary = summarize(blocks)
    if summary.n_observed == summary.n_rows * summary.n_cols and index is None:
        raise InputError(
            f"{described['input']} has no missing entry (no 0), so it is not ratings with "
            "gaps to complete: fit it with --model gaussian (or --missing none), or --model "
            "kmeans"
        )
    if args.from_model:
        runs = [saved_run(spark, args.from_model, blocks, index, summary)]
        args.ks = [runs[0].k]
    else:
        runs = fitted_runs(args, blocks, summary, described)
    chosen = masked_model.best(runs)
    best_by_k = {str(k): run.summary() for k, run in masked_model.best_per_k(runs).items()}
    metrics = dict(
        chosen.summary(),
        **described,
        n_rows=summary.n_rows,
        n_cols=summary.n_cols,
        observed_fraction=summary.observed_fraction,
        n_empty_rows=summary.n_empty_rows,
        runs=[r.summary() for r in runs],
        best_by_k=best_by_k,
    )
    metrics["warnings"] = masked_model.degeneracies(
        chosen.mixture, summary.n_rows - summary.n_empty_rows, masked_model.observed_range(blocks)
    )
    for problem in metrics["warnings"]:
        say(f"warning: {problem}")
    if gold is not None:
        metrics["rmse"], metrics["rmse_missing"] = masked_model.rmse(blocks, chosen.mixture, gold)
    metrics["seconds"] = round(time.perf_counter() - start, 3)
    if args.out:
        write_outputs(spark, args.out, args, blocks, index, chosen, metrics)
    return metrics


def fit_complete(spark, args, start):
    """Complete data: mixtures (or K-means) over every (K, seed), K chosen by --select."""
    if args.demo:
        blocks = blobs(spark, num_partitions=args.partitions, backend=args.backend)
        described = {"input": "demo: 3x1000 points around (4,0), (6,6), (0,4), identity covariance"}
    else:
        missing = "nan" if args.missing == "nan" else None
        named = _named_format(args)
        if named:
            blocks = read_columns(
                spark,
                args.input,
                named,
                args.weight,
                block_rows=args.block_rows,
                backend=args.backend,
                missing=missing,
                num_partitions=args.partitions,
                features=args.features.split(",") if args.features else None,
            )
        else:
            blocks = read_matrix(
                spark,
                args.input,
                args.format,
                ratings=False,
                header=args.header,
                num_partitions=args.partitions,
                block_rows=args.block_rows,
                backend=args.backend,
                missing=missing,
            )
        described = {"input": args.input}
        if args.weight:
            described["weight"] = args.weight
    summary = summarize(blocks)
    if summary.has_nan:
        described.update(
            n_missing_values=int(summary.nan_per_column.sum()),
            n_rows_all_missing=summary.n_nan_rows,
        )
    if summary.weighted:
        described.update(weight_sum=summary.total_weight, n_rows_weighted=summary.n_weighted_rows)
    paths: dict[tuple[int, int, int], list] = {}
    family, options_of = FAMILIES[args.model]
    options = options_of(args)

    def report(k, seed, it, mix):  # several numbers of factors share a (K, seed)
        paths.setdefault((k, seed, getattr(mix, "n_factors", 0)), []).append(mix.means.copy())

    checkpoint = open_checkpoint(
        args,
        family.checkpoint_for,
        summary,
        input=described["input"],
        init=args.init,
        n_init=args.n_init,
        tol=args.tol,
        **options,
        **({"weight": args.weight} if args.weight else {}),
    )
    runs = family.fit_all(
        blocks,
        args.ks,
        args.seed_list,
        init=args.init,
        tol=args.tol,
        max_iter=args.max_iter,
        n_init=args.n_init,
        on_run_iteration=report,
        summary=summary,
        checkpoint=checkpoint,
        resume=args.resume,
        **options,
    )
    chosen, best_by_k = family.select(runs, args.select)
    metrics = dict(
        chosen.summary(),
        **described,
        n_rows=summary.n_rows,
        n_cols=summary.n_cols,
        select=args.select if args.select in family.CRITERIA else None,
        candidates=[best_by_k[k].summary() for k in sorted(best_by_k)],
        runs=[r.summary() for r in runs],
    )
    if args.gold:
        gold = read_matrix(
            spark,
            args.gold,
            ratings=False,
            num_partitions=args.partitions,
            block_rows=args.block_rows,
            backend=args.backend,
        )
        metrics["rmse_missing"] = missing_model.imputation_rmse(blocks, chosen.mixture, gold)
    metrics["seconds"] = round(time.perf_counter() - start, 3)
    if args.out:
        with output_dir(spark, args.out, args.overwrite, inputs(args)) as output:
            work = output.local
            if args.missing == "nan":
                missing_model.imputed_frame(spark, blocks, chosen.mixture).write.parquet(
                    output.spark("imputed")
                )
            write_json(work / "metrics.json", metrics)
            mix = chosen.mixture
            write_json(
                work / "model.json",
                family.model_record(chosen, tol=args.tol, **options),
            )
            if summary.n_cols == 2:
                sample = sample_rows(blocks, 5000, summary.n_rows)
                key = (chosen.k, chosen.seed, getattr(mix, "n_factors", 0))
                trail = [chosen.initial.means] + paths.get(key, [])
                mixture_plot(
                    sample,
                    mix,
                    trail,
                    work / "fit.png",
                    f"K={chosen.k}, {gaussian_model.variant(mix.covariance_type, mix.n_factors)}"
                    f" covariance, seed {chosen.seed}",
                )
    return metrics


def inputs(args) -> dict[str, str]:
    """What the run reads, which its outputs must not destroy."""
    return kept(
        input=args.input,
        gold=args.gold,
        predict=args.predict,
        from_model=args.from_model,
        checkpoint=args.checkpoint,
    )


@speaking(FLAGS)
def main(argv=None):
    args = parse_args(argv)
    check_out_dir(args.out, args.overwrite, keep=inputs(args))
    check_checkpoint(
        args.checkpoint,
        args.out,
        kept(input=args.input, gold=args.gold, predict=args.predict, from_model=args.from_model),
    )
    spark = get_spark("spark-em fit_gmm", args.remote)
    check_out_dir(args.out, args.overwrite, spark, inputs(args))
    start = time.perf_counter()
    fit = fit_ratings if args.model == RATINGS else fit_complete
    print(json.dumps(fit(spark, args, start), indent=2, allow_nan=False))


# the command spark-em-fit-gmm (and python -m spark_em.cli.fit_gmm)
run = as_command(main)


if __name__ == "__main__":
    run()
