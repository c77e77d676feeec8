"""What the spark-submit jobs share: option parsing, the library's parameters spoken as flags,
progress lines, all-or-nothing output (local or any URI) and the exit status."""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spark_em.engine.fs import HadoopFS, has_scheme, sibling
from spark_em.errors import InputError


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


def progress_line(label: str, it, objective: str = "log-likelihood") -> str:
    change = "" if it.relative_change is None else f"{it.relative_change:.3e}"
    return (
        f"{label} iter {it.iteration:4d}  {objective} {it.objective:.10f}  "
        f"change {change:>10}  {it.seconds:.3f}s"
    )


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def check_out_dir(out: str | None, overwrite: bool, spark=None) -> None:
    """Refuse an existing output directory unless ``overwrite``, before any work: a plain
    path at once, a URI (``s3a://…``, ``file:///…``) once ``spark`` is there to look."""
    if not out:
        return
    if has_scheme(out):
        if spark is not None and HadoopFS(spark, f"--out {out}").exists(out) and not overwrite:
            raise InputError(f"--out {out} exists; choose another directory or add --overwrite")
        return
    if os.path.exists(out) and not overwrite:
        raise InputError(f"--out {out} exists; choose another directory or add --overwrite")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Output:
    """Where a job's outputs go while it runs: ``local`` for the files this process writes
    (JSON, plots, ``.npy``), ``spark(name)`` for what Spark's writers write (Parquet)."""

    def __init__(self, local: Path, remote: str | None = None):
        self.local, self.remote = local, remote

    def spark(self, name: str = "") -> str:
        root = self.remote if self.remote is not None else str(self.local)
        return f"{root}/{name}" if name else root


@contextmanager
def output_dir(spark, out: str, overwrite: bool) -> Iterator[Output]:
    """Outputs that become ``out`` only if the block succeeds; a failed run leaves nothing.

    A plain path: a temporary directory beside ``out``, renamed into place (an existing
    ``out`` is moved aside first with ``overwrite`` and put back if the swap fails). A URI:
    Spark writes into a temporary directory beside ``out`` on its file system, this process's
    files are copied in through Hadoop's ``FileSystem``, and the directory is renamed.
    """
    if has_scheme(out):
        with _remote_dir(spark, out.rstrip("/"), overwrite) as output:
            yield output
        return
    with _local_dir(out, overwrite) as work:
        yield Output(work)


@contextmanager
def _remote_dir(spark, out: str, overwrite: bool) -> Iterator[Output]:
    check_out_dir(out, overwrite, spark)
    fs = HadoopFS(spark, f"--out {out}")
    remote, local = sibling(out, "tmp"), Path(tempfile.mkdtemp(prefix="spark-em-out-"))
    try:
        yield Output(local, remote)
        fs.mkdirs(remote)
        fs.upload(local, remote)
        if fs.exists(out):
            old = sibling(out, "old")
            fs.rename(out, old)
            try:
                fs.rename(remote, out)
            except BaseException:
                if not fs.exists(out):
                    fs.rename(old, out)
                raise
            fs.delete(old)
        else:
            fs.rename(remote, out)
    except BaseException:
        try:
            fs.delete(remote)
        except Exception:  # the run's own error is the one to report
            pass
        raise
    finally:
        shutil.rmtree(local, ignore_errors=True)


@contextmanager
def _local_dir(out: str, overwrite: bool) -> Iterator[Path]:
    check_out_dir(out, overwrite)
    target = Path(out).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    work.chmod(0o777 & ~_umask())
    try:
        yield work
        if not target.exists():
            os.replace(work, target)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / "previous")
        try:
            os.replace(work, target)
        except BaseException:
            os.replace(old / "previous", target)
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


def main_wrapper(main, argv=None) -> int:
    """Run ``main(argv)``; a user's error becomes one line on stderr and exit status 2."""
    try:
        main(argv)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
