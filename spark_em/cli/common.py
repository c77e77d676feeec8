"""What the spark-submit jobs share: option parsing, the library's parameters spoken as flags,
progress lines on stderr, all-or-nothing output (local or any URI) and the exit status."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

from spark_em.engine import progress
from spark_em.errors import InputError, raised_on_executor


def flags_of(parser, **aliases: str) -> dict[str, str]:
    """Each library parameter's flag: an option's destination names the parameter it sets
    (``max_iter`` → ``--max-iter``), and ``aliases`` name the others (``criterion="--select"``)."""
    names = {
        action.dest: max(action.option_strings, key=len)
        for action in parser._actions
        if action.option_strings
    }
    return {**names, **aliases}


def speaking(flags: dict[str, str]):
    """A job's ``main`` whose library errors name its flags instead of the parameters."""

    def wrap(main):
        @functools.wraps(main)
        def run(argv=None):
            try:
                return main(argv)
            except InputError as exc:
                if exc.param is None:
                    raise
                raise InputError(exc.worded(flags)) from None

        return run

    return wrap


def int_list(text: str, option: str) -> list[int]:
    """``3``, ``1,12`` or ``0-4`` (and mixtures such as ``1,3-5``) as a list of integers."""
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-") if not part.startswith("-") else (part, "", "")
        try:
            if sep:
                first, last = int(lo), int(hi)
                if last < first:
                    raise ValueError
                values.extend(range(first, last + 1))
            else:
                values.append(int(part))
        except ValueError:
            raise InputError(
                f"{option}: {text!r} is not a number, a list (1,12) or a range (0-4)"
            ) from None
    return values


def add_session_options(ap) -> None:
    """--backend and --remote: where the data live and which Spark to talk to."""
    ap.add_argument(
        "--backend",
        choices=["auto", "rdd", "dataframe"],
        default="auto",
        help="where the data live: a cached RDD of blocks, or a cached DataFrame of "
        "blocks (Spark Connect, Databricks serverless and shared clusters); auto: "
        "the DataFrame backend under Spark Connect, else RDDs",
    )
    ap.add_argument(
        "--remote",
        metavar="URL",
        help="a Spark Connect server, e.g. sc://host:15002 (or set SPARK_REMOTE)",
    )


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


def as_command(main):
    """A job's ``main`` as a command without arguments (the installed ``spark-em-…`` scripts,
    ``python -m spark_em.cli.<job>``, ``spark-submit`` given the module's file).

    Parameters
    ----------
    main : callable
        The job's ``main(argv)``.

    Returns
    -------
    callable
        A function of no arguments that runs ``main`` on the command line's arguments under
        :func:`main_wrapper` and exits with its status.

    Examples
    --------
    >>> run = as_command(main)  # in a job's module; a console script names ``module:run``
    """

    def run() -> None:
        raise SystemExit(main_wrapper(main))

    return run


def main_wrapper(main, argv=None) -> int:
    """Run ``main(argv)`` with the fits' progress lines on stderr (``engine.progress``); a
    user's error becomes one line on stderr and exit status 2."""
    try:
        with progress.shown():
            main(argv)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        found = raised_on_executor(exc)  # raised on an executor, inside a Py4J/Connect error
        if found is None:
            raise
        print(f"error: {found}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
