"""Write seeded synthetic ratings shaped like the Netflix Prize data as Parquet triples.

    spark-submit jobs/make_ratings.py --out ratings.parquet               # the full Prize size
    spark-submit jobs/make_ratings.py --fraction 0.01 --seed 3 --out DIR  # 1% of it
    spark-submit jobs/make_ratings.py --users 5000 --items 800 --ratings 150000 --out DIR

The shape starts from the Prize's (480,189 users, 17,770 items, 100,480,507 ratings, 12 user
types), scaled by --fraction (users and ratings times F, items times √F); --users, --items,
--ratings and --types replace single numbers of it. The ratings are generated on the executors
and written to PATH as Parquet with columns user long, item long, rating int; one JSON line
with the counts and the seconds taken goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import time

from spark_em.cli.common import as_command
from spark_em.cli.outputs import check_out_dir, output_dir
from spark_em.engine.session import get_spark
from spark_em.errors import InputError
from spark_em.io.synthetic import PrizeShape, prize_triples


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="make_ratings.py", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--fraction",
        type=float,
        default=1.0,
        help="scale the Prize shape by F in (0, 1] (default 1)",
    )
    ap.add_argument("--users", type=int, help="number of users (replaces the scaled one)")
    ap.add_argument("--items", type=int, help="number of items (replaces the scaled one)")
    ap.add_argument("--ratings", type=int, help="ratings wanted (replaces the scaled number)")
    ap.add_argument("--types", type=int, default=12, help="planted user types (default 12)")
    ap.add_argument("--seed", type=int, default=0, help="same seed, same ratings (default 0)")
    ap.add_argument(
        "--partitions",
        type=int,
        help="partitions, and Parquet files (default: Spark's parallelism)",
    )
    ap.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="Parquet directory (refused if it exists, unless --overwrite)",
    )
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    counts = {
        "--users": args.users,
        "--items": args.items,
        "--ratings": args.ratings,
        "--types": args.types,
        "--partitions": args.partitions,
    }
    for option, value in counts.items():
        if value is not None and value < 1:
            raise InputError(f"{option} must be >= 1, got {value}")
    if not (math.isfinite(args.fraction) and 0 < args.fraction <= 1):
        raise InputError(f"--fraction must be in (0, 1], got {args.fraction}")
    if not 0 <= args.seed < 2**32:
        raise InputError(f"--seed must be in 0..4294967295, got {args.seed}")
    args.shape = shape_from(args)
    return args


def shape_from(args) -> PrizeShape:
    """The Prize shape scaled by --fraction, with the numbers given explicitly put in."""
    scaled = PrizeShape(n_types=args.types, seed=args.seed).scaled(args.fraction)
    given = {"n_users": args.users, "n_items": args.items, "n_ratings": args.ratings}
    shape = scaled._replace(**{k: v for k, v in given.items() if v is not None})
    try:
        return shape.validated()
    except InputError as exc:
        raise InputError(f"{exc}; change --users, --items, --ratings or --fraction") from None


def main(argv=None):
    args = parse_args(argv)
    check_out_dir(args.out, args.overwrite)
    spark = get_spark("spark-em make_ratings")
    check_out_dir(args.out, args.overwrite, spark)
    start = time.perf_counter()
    triples = prize_triples(spark, args.shape, args.partitions)
    with output_dir(spark, args.out, args.overwrite) as output:
        triples.write.mode("overwrite").parquet(output.spark())
    shape = args.shape
    print(
        json.dumps(
            {
                "out": args.out,
                "users": shape.n_users,
                "items": shape.n_items,
                "ratings_requested": shape.n_ratings,
                "ratings": spark.read.parquet(args.out).count(),
                "types": shape.n_types,
                "seed": shape.seed,
                "seconds": round(time.perf_counter() - start, 3),
            }
        )
    )


# the command spark-em-make-ratings (and python -m spark_em.cli.make_ratings)
run = as_command(main)


if __name__ == "__main__":
    run()
