"""Where a job writes, so that it never destroys what it reads: ``--out`` and ``--checkpoint``
checked before any work, and outputs that appear whole or not at all.

- ``--out`` may not be, hold or lie inside an input of the run (``--input``, ``--gold``, ...),
  the working directory, a home directory or a file-system root (paths resolved: symlinks,
  ``..``).
- An existing ``--out`` is replaced only with ``--overwrite`` and only when a spark-em job
  wrote it: every job's output directory holds the marker file ``_SPARK_EM_OUTPUT``.
- The outputs are written into a staging directory beside ``--out`` and renamed into place;
  what a killed run left there is cleared by the next run that writes to the same ``--out``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spark_em.engine.fs import HadoopFS, has_scheme
from spark_em.engine.targets import (
    clear_leftovers,
    is_local,
    local_path,
    staged,
    target_problem,
)
from spark_em.errors import InputError

MARKER = "_SPARK_EM_OUTPUT"  # in every job's output directory: what --overwrite may replace


def kept(**paths: str | None) -> dict[str, str]:
    """What a run must not destroy, by the flag that named it: ``kept(input=args.input)``
    gives ``{"--input": ...}`` (flags given as None are left out)."""
    return {f"--{name.replace('_', '-')}": path for name, path in paths.items() if path}


def check_out_dir(
    out: str | None, overwrite: bool, spark=None, keep: dict[str, str] | None = None
) -> None:
    """Refuse ``--out`` before any work when writing it could destroy something (see the
    module's docstring), or when it exists and ``overwrite`` is not given or it is not a
    spark-em output. A plain path is checked at once, a URI once ``spark`` is there."""
    if not out:
        return
    if not is_local(out) and spark is None:
        return
    if has_scheme(out) and spark is not None:
        HadoopFS(spark, f"--out {out}")  # a URI needs this process's file systems (not Connect)
    problem = target_problem(spark, out, keep or {})
    if problem:
        raise InputError(f"--out {out} cannot be written: {problem}")
    if is_local(out):
        path = local_path(out)
        exists = path.exists() or path.is_symlink()
        ours = (path / MARKER).is_file()
    else:
        fs = HadoopFS(spark, f"--out {out}")
        exists = fs.exists(out)
        ours = exists and fs.exists(f"{out.rstrip('/')}/{MARKER}")
    if exists and not overwrite:
        raise InputError(f"--out {out} exists; choose another directory or add --overwrite")
    if exists and not ours:
        raise InputError(
            f"--out {out} exists and a spark-em job did not write it (it has no {MARKER}): "
            "--overwrite replaces only a spark-em output; choose another directory"
        )


def check_checkpoint(checkpoint: str | None, out: str | None, keep: dict[str, str]) -> None:
    """Refuse a ``--checkpoint`` directory that is, holds or lies inside an input, ``--out``,
    the working directory, a home directory or a root."""
    if not checkpoint:
        return
    if has_scheme(checkpoint):
        raise InputError(f"--checkpoint {checkpoint}: a directory on the driver is needed")
    problem = target_problem(None, checkpoint, {**keep, **kept(out=out)})
    if problem:
        raise InputError(f"--checkpoint {checkpoint} cannot be written: {problem}")


class Output:
    """Where a job's outputs go while it runs: ``local`` for the files this process writes
    (JSON, plots, ``.npy``), ``spark(name)`` for what Spark's writers write (Parquet)."""

    def __init__(self, local: Path, remote: str | None = None):
        self.local, self.remote = local, remote

    def spark(self, name: str = "") -> str:
        root = self.remote if self.remote is not None else str(self.local)
        return f"{root}/{name}" if name else root


@contextmanager
def output_dir(
    spark, out: str, overwrite: bool, keep: dict[str, str] | None = None
) -> Iterator[Output]:
    """Outputs that become ``out`` only if the block succeeds; a failed or killed run leaves
    the previous ``out`` as it was.

    A plain path: a staging directory beside ``out``, renamed into place. A URI: Spark writes
    into a staging directory beside ``out`` on its file system, this process's files are
    copied in through Hadoop's ``FileSystem``, and the directory is renamed.
    """
    out = out.rstrip("/") or out
    check_out_dir(out, overwrite, spark, keep)
    clear_leftovers(spark, out)
    if is_local(out):
        target = local_path(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        with staged(spark, str(target), lambda p: shutil.rmtree(p, ignore_errors=True)) as path:
            work = Path(path)
            work.mkdir()  # as any directory the user makes (the umask applies)
            yield Output(work)
            (work / MARKER).write_text("written by a spark-em job\n")
        return
    fs = HadoopFS(spark, f"--out {out}")
    local = Path(tempfile.mkdtemp(prefix="spark-em-out-"))
    try:
        with staged(spark, out, fs.delete) as remote:
            yield Output(local, remote)
            (local / MARKER).write_text("written by a spark-em job\n")
            fs.mkdirs(remote)
            fs.upload(local, remote)
    finally:
        shutil.rmtree(local, ignore_errors=True)
