"""Weighted least squares at scale: fit f(W) = ½ Σ w_i (W·X_i − y_i)² on Spark.

    spark-submit jobs/fit_wols.py                       # the 1,000,000-point experiment
    spark-submit jobs/fit_wols.py --input data.csv --label y --weight w --features x1,x2 \\
        --cov-type HC3 --out DIR
    spark-submit jobs/fit_wols.py --mixture 2 --out DIR  # a mixture of two regressions

With no --input the experiment's data are generated on the executors (x ~ U(−4, 4),
y = 1.0·x − 4.0 + ε with ε ~ N(0, 0.5²), weight |1/x|), fitted with the chosen solver and,
for comparison, a 1% sample is fitted on the driver. The qr solver (the default) prints the
coefficient table (estimate, standard error, t, p, confidence interval) on stderr. Metrics go
to stdout as JSON and, with --out, to DIR/metrics.json beside DIR/model.json, DIR/fit.png and
(gd) DIR/loss.png.

With --mixture K the job fits a mixture of K linear regressions by EM (the best of --n-init
starts) and prints one coefficient table per component, with standard errors from the observed
information; --gate COLS makes the components' weights depend on those columns (a multinomial
logit, concomitant variables). With no --input its data are two regimes (x ~ U(−4, 4),
y = 1.0·x − 4.0 or −0.5·x + 1.0 with probability ½ each, + ε ~ N(0, 0.5²)), every row
weighing 1.
"""

from __future__ import annotations

import argparse
import json
import math
import time

from spark_em.cli.common import (
    add_session_options,
    as_command,
    flags_of,
    say,
    speaking,
    write_json,
)
from spark_em.cli.outputs import check_checkpoint, check_out_dir, kept, output_dir
from spark_em.cli.plots import loss_plot, regression_plot
from spark_em.engine.loop import DEFAULT_MAX_ITER, DEFAULT_TOL
from spark_em.engine.ops import sample_rows, summarize
from spark_em.engine.session import get_spark
from spark_em.errors import InputError
from spark_em.io.synthetic import (
    EXPERIMENT_ROWS,
    TWO_REGIMES,
    mixreg_experiment,
    wols_experiment,
)
from spark_em.io.table import read_table
from spark_em.kernels import mixreg as kernel
from spark_em.models import codec, wols_inference
from spark_em.models import mixreg as mixreg_model
from spark_em.models import wols as wols_model
from spark_em.models.wols import GD_STOPS, GD_TOL, SOLVERS
from spark_em.models.wols_inference import COV_TYPES


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="fit_wols.py", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--input",
        help="CSV with a header line, or Parquet (default: the built-in experiment's data)",
    )
    ap.add_argument("--format", choices=["csv", "parquet"], help="default: from the name")
    ap.add_argument("--label", default="y", help="label column (default y)")
    ap.add_argument("--weight", help="weight column (finite, >= 0; default: every row weighs 1)")
    ap.add_argument("--features", default="x", help="comma-separated feature columns")
    ap.add_argument(
        "--on-bad-weights",
        choices=["fail", "drop"],
        default="fail",
        help="a row whose weight is infinite, NaN or negative: stop (default) or drop it",
    )
    ap.add_argument(
        "--solver",
        choices=SOLVERS,
        default="qr",
        help="qr (default: one pass, accurate, with the inference), normal, newton or gd",
    )
    ap.add_argument(
        "--mixture",
        type=int,
        metavar="K",
        help="fit a mixture of K linear regressions by EM instead of one (qr's inference "
        "from the observed information; --solver, --cov-type and --checkpoint do not apply)",
    )
    ap.add_argument(
        "--n-init",
        type=int,
        default=5,
        help="--mixture: EM starts (seeds --seed, --seed + 1, ...), the best kept (default 5)",
    )
    ap.add_argument(
        "--init",
        choices=mixreg_model.INIT_MODES,
        default="random",
        help="--mixture: each start from a random partition of the rows (default) or from the "
        "K-means clusters of (label, features)",
    )
    ap.add_argument(
        "--gate",
        help="--mixture with --input: comma-separated columns on which the components' weights "
        "depend (a multinomial logit; concomitant variables)",
    )
    ap.add_argument("--no-intercept", action="store_true", help="fit through the origin")
    ap.add_argument(
        "--reg-param",
        type=float,
        default=0.0,
        help="qr and --mixture: ridge λ, minimising Σw e² + λ·Σw·||β||² (intercept free; "
        "per component: Σw r e² + λ·Σw r·||β||²)",
    )
    ap.add_argument(
        "--cov-type",
        choices=COV_TYPES,
        default="nonrobust",
        help="qr: standard errors nonrobust, or heteroscedasticity-robust HC0-HC3 (one more pass)",
    )
    ap.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="qr and --mixture: confidence intervals at 1 - alpha (default 0.05)",
    )
    ap.add_argument(
        "--step",
        default="auto",
        help="gd: 'auto' (preconditioned, 1/L) or a "
        "learning rate such as 0.05 (plain gd on the raw features)",
    )
    ap.add_argument(
        "--stop",
        choices=GD_STOPS,
        default="gradient",
        help="gd: 'gradient' (||grad|| <= tol * its first value, tol 1e-9) or "
        "'classic' (||W_new - W_old||^2 < tol, tol 1e-5)",
    )
    ap.add_argument(
        "--tol",
        type=float,
        help="gd: the stopping rule's tolerance; --mixture: the log-likelihood's relative "
        "change at which EM stops (default 1e-6)",
    )
    ap.add_argument(
        "--max-iter",
        type=int,
        default=DEFAULT_MAX_ITER,
        help="gd, and --mixture per start: iteration cap (default 1000)",
    )
    ap.add_argument(
        "--rows", type=int, default=EXPERIMENT_ROWS, help="built-in data: number of points"
    )
    ap.add_argument("--noise-sd", type=float, default=0.5, help="built-in data: σ of ε")
    ap.add_argument(
        "--seed",
        type=int,
        default=0,
        help="built-in data, the 1%% sample and (--mixture) the first start",
    )
    add_session_options(ap)
    ap.add_argument("--partitions", type=int, help="partitions (default: Spark's parallelism)")
    ap.add_argument(
        "--out",
        help="output directory: a path or a URI Spark can write; refused if it exists, unless "
        "--overwrite",
    )
    ap.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out if an earlier spark-em job wrote it (anything else is refused)",
    )
    ap.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="gd: save the state after every iteration in DIR (a directory on the driver)",
    )
    ap.add_argument(
        "--resume",
        action="store_true",
        help="gd: continue the run saved in --checkpoint DIR (same data and options)",
    )
    return ap


FLAGS = flags_of(
    build_parser(),
    fmt="--format",
    num_partitions="--partitions",
    fit_intercept="--no-intercept",
    k="--mixture",
    gateCol="--gate",
)


def parse_args(argv):
    args = build_parser().parse_args(argv)
    if (args.checkpoint or args.resume) and args.solver != "gd":
        raise InputError(
            "--checkpoint and --resume are for --solver gd (newton and normal take "
            "one or two passes)"
        )
    if args.mixture is not None:
        if (
            args.solver != "qr"
            or args.cov_type != "nonrobust"
            or args.checkpoint
            or args.step != "auto"
            or args.stop != "gradient"
        ):
            raise InputError(
                "--mixture fits by EM with the observed information's standard errors: "
                "--solver, --cov-type, --step, --stop and --checkpoint do not apply"
            )
        if args.mixture < 1 or args.n_init < 1:
            raise InputError("--mixture and --n-init must be >= 1")
    elif args.n_init != 5 or args.init != "random" or args.gate:
        raise InputError("--n-init, --init and --gate are for --mixture K")
    args.gate_list = [g.strip() for g in (args.gate or "").split(",") if g.strip()]
    if args.gate is not None and not args.gate_list:
        raise InputError("--gate needs at least one column")
    if args.gate_list and not args.input:
        raise InputError("--gate names columns of --input (the built-in data have none)")
    if args.resume and not args.checkpoint:
        raise InputError("--resume needs --checkpoint DIR")
    if args.step != "auto":
        try:
            args.step = float(args.step)
        except ValueError:
            raise InputError(f"--step must be 'auto' or a number, not {args.step!r}") from None
        if not (math.isfinite(args.step) and args.step > 0):
            raise InputError("--step must be a rate > 0")
    if args.tol is not None and not (math.isfinite(args.tol) and args.tol >= 0):
        raise InputError("--tol must be a number >= 0")
    if not (0 < args.alpha < 1):
        raise InputError("--alpha must be between 0 and 1")
    if args.max_iter < 1 or args.rows < 1 or (args.partitions is not None and args.partitions < 1):
        raise InputError("--max-iter, --rows and --partitions must be >= 1")
    args.feature_list = [f.strip() for f in args.features.split(",") if f.strip()]
    if not args.feature_list:
        raise InputError("--features needs at least one column")
    return args


@speaking(FLAGS)
def main(argv=None):
    args = parse_args(argv)
    keep = kept(input=args.input, checkpoint=args.checkpoint)
    check_out_dir(args.out, args.overwrite, keep=keep)
    check_checkpoint(args.checkpoint, args.out, kept(input=args.input))
    spark = get_spark("spark-em fit_wols", args.remote)
    check_out_dir(args.out, args.overwrite, spark, keep)
    start = time.perf_counter()
    if args.input:
        data = read_table(
            spark,
            args.input,
            args.label,
            args.weight,
            args.feature_list,
            args.format,
            args.on_bad_weights == "drop",
            args.backend,
            args.gate_list,
        )
        if args.weight is None and "w" in data.columns:
            say(
                "note: no --weight given, so every row weighs 1 (the input has a column 'w': "
                "--weight w uses it)"
            )
        described = {"input": args.input}
    else:
        experiment = wols_experiment if args.mixture is None else mixreg_experiment
        data = experiment(
            spark,
            args.rows,
            noise_sd=args.noise_sd,
            seed=args.seed,
            num_partitions=args.partitions,
            backend=args.backend,
        )
        described = {"noise_sd": args.noise_sd}
        if args.mixture is None:
            described.update(
                input="classic: x ~ U(-4, 4), y = 1.0 x - 4.0 + N(0, sd^2), weight |1/x|",
                true_intercept=-4.0,
                true_coefficients=[1.0],
            )
        else:
            described.update(
                input="two regimes: x ~ U(-4, 4), y = 1.0 x - 4.0 or -0.5 x + 1.0 "
                "(probability 1/2 each) + N(0, sd^2), every row weighing 1",
                true_intercepts=[line[1] for line in TWO_REGIMES],
                true_coefficients=[[line[0]] for line in TWO_REGIMES],
            )
    if args.mixture is not None:
        return fit_mixture(args, spark, data, described, start, keep)
    checkpoint = None
    if args.checkpoint:
        # the rule, its effective tol and the intercept: a checkpoint resumes only the same fit
        rule = {"stop": args.stop, "fit_intercept": not args.no_intercept}
        tol = GD_TOL[args.stop] if args.tol is None else args.tol
        checkpoint = wols_model.checkpoint_for(
            args.checkpoint,
            data,
            step=args.step,
            tol=tol,
            max_iter=args.max_iter,
            input=described["input"],
            **rule,
        ).check_start(args.resume)
    result = wols_model.fit(
        data,
        args.solver,
        args.step,
        args.tol,
        args.max_iter,
        checkpoint=checkpoint,
        resume=args.resume,
        fit_intercept=not args.no_intercept,
        reg_param=args.reg_param,
        cov_type=args.cov_type,
        alpha=args.alpha,
        stop=args.stop,
    )
    metrics = dict(
        result.summary(),
        **described,
        features=data.feature_names,
        n_rows=data.n_rows,
        dropped_rows=data.dropped,
        sample_fit=wols_model.local_sample_fit(data, 0.01, args.seed, not args.no_intercept),
    )
    if result.inference is not None:
        say(wols_inference.table(result.inference, result.inference["names"]))
        inference = wols_inference.as_json(result.inference)
        metrics.update(
            {
                k: inference[k]
                for k in (
                    "standard_errors",
                    "t_values",
                    "p_values",
                    "confidence_intervals",
                    "r2",
                    "r2_adj",
                    "rmse",
                    "residual_standard_error",
                    "degrees_of_freedom",
                    "f_statistic",
                    "f_p_value",
                    "log_likelihood",
                    "aic",
                    "bic",
                    "condition_number",
                    "cov_type",
                    "alpha",
                    "reg_param",
                    "n_positive_weight",
                )
            }
        )
    metrics["seconds"] = round(time.perf_counter() - start, 3)
    if args.out:
        with output_dir(spark, args.out, args.overwrite, keep) as output:
            work = output.local
            write_json(work / "metrics.json", metrics)
            write_json(work / "model.json", result.model_record(data.feature_names))
            if len(data.feature_names) == 1:
                points = sample_rows(data.blocks, 5000, data.n_rows, args.seed)[:, [1, 0]]  # x, y
                lines = {"fit": (result.intercept, result.coefficients[0])}
                if not args.input:
                    lines["true line"] = (-4.0, 1.0)
                if metrics["sample_fit"]["intercept"] is not None:
                    lines["1% sample on the driver"] = (
                        metrics["sample_fit"]["intercept"],
                        metrics["sample_fit"]["coefficients"][0],
                    )
                regression_plot(
                    points,
                    lines,
                    work / "fit.png",
                    f"Weighted least squares ({result.solver}), {data.n_rows:,} points",
                )
            if result.solver == "gd":
                loss_plot(
                    result.loss_history,
                    work / "loss.png",
                    f"Gradient descent, step {result.step:.4g}",
                )
    print(json.dumps(metrics, indent=2, allow_nan=False))


def nulls_for_nan(value):
    """``value`` (lists and dicts of numbers) with None for each NaN, for JSON."""
    if isinstance(value, dict):
        return {k: nulls_for_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nulls_for_nan(v) for v in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def fit_mixture(args, spark, data, described: dict, start: float, keep) -> None:
    """--mixture K: EM from --n-init starts, the standard errors, the tables on stderr, the
    metrics on stdout and in --out with the model and (one feature) the fitted lines."""
    intercept = not args.no_intercept
    first = args.seed
    gates = len(data.gate_names)
    run = mixreg_model.fit(
        data.blocks,
        args.mixture,
        range(first, first + args.n_init),
        intercept,
        args.reg_param,
        DEFAULT_TOL if args.tol is None else args.tol,
        args.max_iter,
        args.init,
        gates,
    )
    errors, problem = mixreg_model.inference(
        data.blocks, run.mixture, intercept, args.reg_param, gates
    )
    n = float(summarize(data.blocks).n_effective)
    names = (["intercept"] if intercept else []) + list(data.feature_names)
    estimates = codec.encode_mixreg(run.mixture)
    k, q = run.mixture.coefficients.shape
    metrics = dict(
        model="mixture of linear regressions",
        k=k,
        log_likelihood=run.log_likelihood,
        n_iter=run.n_iter,
        converged=run.converged,
        bic=kernel.bic(run.log_likelihood, k, q, n, gates + 1),
        aic=kernel.aic(run.log_likelihood, k, q, gates + 1),
        **described,
        features=data.feature_names,
        terms=names,
        n_rows=data.n_rows,
        dropped_rows=data.dropped,
        weight_sum=n,
        weights=estimates["weights"],
        coefficients=estimates["coefficients"],
        sigmas=estimates["sigmas"],
        **(
            {"gate_terms": ["intercept", *data.gate_names], "gate": estimates["gate"]}
            if gates
            else {}
        ),
        standard_errors=errors,
        inference_problem=problem,
        alpha=args.alpha,
        reg_param=args.reg_param,
        init=args.init,
        n_init=args.n_init,
    )
    if errors is not None:
        say(mixreg_model.table(estimates, errors, names, args.alpha, list(data.gate_names)))
        tests = mixreg_model.z_tests(estimates, errors, args.alpha)
        metrics.update(nulls_for_nan(tests))  # the gate's reference row has no test
    else:
        say(f"note: {problem}")
    metrics["seconds"] = round(time.perf_counter() - start, 3)
    if args.out:
        with output_dir(spark, args.out, args.overwrite, keep) as output:
            work = output.local
            write_json(work / "metrics.json", metrics)
            write_json(
                work / "model.json",
                {
                    "model": "mixreg",
                    "intercept": intercept,
                    "features": data.feature_names,
                    **({"gate_features": list(data.gate_names)} if gates else {}),
                    **estimates,
                },
            )
            if len(data.feature_names) == 1:
                points = sample_rows(data.blocks, 5000, data.n_rows, args.seed)[:, [1, 0]]
                lines = {  # (intercept, slope)
                    f"component {j} (weight {estimates['weights'][j]:.3f})": (
                        (b[0], b[1]) if intercept else (0.0, b[0])
                    )
                    for j, b in enumerate(estimates["coefficients"])
                }
                if not args.input:
                    for j, (slope, level) in enumerate(TWO_REGIMES):
                        lines[f"true line {j}"] = (level, slope)
                regression_plot(
                    points,
                    lines,
                    work / "fit.png",
                    f"Mixture of {k} regressions, {data.n_rows:,} points",
                )
    print(json.dumps(metrics, indent=2, allow_nan=False))


# the command spark-em-fit-wols (and python -m spark_em.cli.fit_wols)
run = as_command(main)


if __name__ == "__main__":
    run()
