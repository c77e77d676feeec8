"""Where outputs go, so that nothing is lost: the checks before anything is written, deleted or
replaced, and the swap that makes an output appear whole or not at all.

- ``target_problem``: why writing a path could destroy what must stay (a file-system root, a
  home directory, the working directory, or an input of the run, whether the target is it,
  holds it or lies inside it); paths are compared resolved (symlinks, ``..``), URIs as
  Hadoop qualifies them.
- ``staging``/``swap_in``: a fresh directory beside the target (same file system), then a
  rename over the target; a previous target is moved aside first and removed only once the
  new one is in place.
- ``clear_leftovers``: what a killed run left beside a target (its staging directories, a
  previous target it had moved aside) removed, or the previous target put back, by the next
  run that writes there. Leftovers are recognised by their names, which carry the host and
  process that made them: only those of processes no longer running here are touched.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from spark_em.engine.fs import HadoopFS, has_scheme
from spark_em.engine.session import is_connect

STAGING, ASIDE = "tmp", "old"


def local_path(path: str) -> Path:
    """A plain path or a ``file:`` URI as an absolute local path, symlinks and ``..``
    resolved (relative to the working directory)."""
    if path.startswith("file:"):
        path = re.sub(r"^file:(//)?", "", path)
    return Path(path).expanduser().resolve()


def is_local(path: str) -> bool:
    return not has_scheme(path) or path.startswith("file:")


def _local_problem(
    target: Path, keep: list[tuple[str, Path]], cwds: tuple[Path, ...] = ()
) -> str | None:
    """Why deleting, replacing or writing into ``target`` could destroy what must stay
    (``cwds``: working directories besides this process's, the JVM's say)."""
    if target == Path(target.anchor):
        return "it is the root of the file system"
    homes = {Path.home().resolve(), Path("/home"), Path("/root")}
    if target.parent == Path("/home") or any(h.is_relative_to(target) for h in homes):
        return "it is, or holds, a home directory"
    for cwd in (Path.cwd().resolve(), *cwds):
        if cwd == target or cwd.is_relative_to(target):
            return "it is, or holds, the working directory"
    for parent in target.parents:
        if parent.exists() and not parent.is_dir():
            return f"it lies under {parent}, which is a file"
    for name, kept in keep:
        if kept == target:
            return f"it is {name}"
        if kept.is_relative_to(target):
            return f"it holds {name}"
        if target.is_relative_to(kept):
            return f"it lies inside {name}"
    return None


def target_problem(spark, target: str, keep: dict[str, str]) -> str | None:
    """Why writing ``target`` (a path or a URI that may be deleted and replaced) could destroy
    what must stay, or None. ``keep`` maps what each kept thing is (for the message) to its
    path or URI. A URI is checked in a classic session (under Spark Connect the server
    resolves its own paths, and only local paths are checked)."""
    if is_local(target):
        local = [
            (f"{name} ({path})", local_path(path)) for name, path in keep.items() if is_local(path)
        ]
        jvm = () if spark is None or is_connect(spark) else (_jvm_cwd(spark),)
        return _local_problem(local_path(target), local, jvm)
    if spark is None or is_connect(spark):
        return None
    fs = HadoopFS(spark, target)
    qualified = fs.qualified(target).rstrip("/")
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:(//[^/]*)?/?", qualified + "/"):
        return "it is the root of its file system"
    for name, path in keep.items():
        other = fs.qualified(path).rstrip("/")
        if other == qualified:
            return f"it is {name} ({path})"
        if other.startswith(qualified + "/"):
            return f"it holds {name} ({path})"
        if qualified.startswith(other + "/"):
            return f"it lies inside {name} ({path})"
    return None


def _jvm_cwd(spark) -> Path:
    """The driver JVM's working directory (where Spark resolves relative paths)."""
    return Path(str(spark.sparkContext._jvm.java.lang.System.getProperty("user.dir"))).resolve()


def _owner() -> str:
    """This process, as a leftover's name records it: host and pid."""
    return f"{socket.gethostname()}~{os.getpid()}"


def sibling(target: str, kind: str) -> str:
    """A fresh path beside ``target`` (a path or URI) for a staging (``tmp``) or moved-aside
    (``old``) directory, its name recording this host and process."""
    head, sep, name = target.rstrip("/").rpartition("/")
    return f"{head}{sep}.{name}.{kind}-{_owner()}-{uuid.uuid4().hex[:8]}"


def _dead(owner: str) -> bool:
    """Whether the process ``owner`` names ran on this host and runs no more."""
    host, _, pid = owner.rpartition("~")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _leftovers(names: list[str], target_name: str) -> list[tuple[str, str]]:
    """(kind, name) of the entries among ``names`` that a dead run left beside
    ``target_name``."""
    pattern = re.compile(rf"\.{re.escape(target_name)}\.({STAGING}|{ASIDE})-(.+)-[0-9a-f]{{8}}")
    found = []
    for name in names:
        match = pattern.fullmatch(name)
        if match and _dead(match.group(2)):
            found.append((match.group(1), name))
    return found


def clear_leftovers(spark, target: str) -> None:
    """Remove what killed runs left beside ``target``: their staging directories, and a
    previous target they had moved aside (put back first when the target is missing)."""
    if is_local(target):
        path = local_path(target)
        if not path.parent.is_dir():
            return
        for kind, name in _leftovers(os.listdir(path.parent), path.name):
            leftover = path.parent / name
            if kind == ASIDE and not path.exists():
                os.replace(leftover, path)
            else:
                shutil.rmtree(leftover, ignore_errors=True)
        return
    if spark is None or is_connect(spark):
        return
    fs = HadoopFS(spark, target)
    head, _, name = fs.qualified(target).rstrip("/").rpartition("/")
    listed = {entry.rpartition("/")[2]: entry for entry in fs.listed(head)}
    for kind, entry in _leftovers(list(listed), name):
        if kind == ASIDE and not fs.exists(target):
            fs.rename(listed[entry], target)
        else:
            fs.delete(listed[entry])


@contextmanager
def staged(spark, target: str, remove: Callable[[str], object]) -> Iterator[str]:
    """A staging path beside ``target``: what the block writes there becomes ``target``
    (``swap_in``) when the block ends, and is removed by ``remove`` if anything fails (the
    block's own error is the one raised)."""
    staging = sibling(target, STAGING)
    try:
        yield staging
        swap_in(spark, staging, target)
    except BaseException:
        try:
            remove(staging)
        except Exception:
            pass
        raise


def swap_in(spark, staged: str, target: str) -> None:
    """The staging directory ``staged`` becomes ``target``. A previous target is moved aside
    first and removed once the new one is in place (or put back if that fails), so at every
    moment the target is whole: the old one, or the new one."""
    if is_local(target):
        _swap(
            local_path(target),
            local_path(staged),
            exists=lambda p: p.exists() or p.is_symlink(),
            move=os.replace,
            remove=lambda p: shutil.rmtree(p, ignore_errors=True),
            aside=lambda p: Path(sibling(str(p), ASIDE)),
        )
        return
    fs = HadoopFS(spark, target)
    _swap(
        target.rstrip("/"),
        staged,
        exists=fs.exists,
        move=fs.rename,
        remove=fs.delete,
        aside=lambda p: sibling(p, ASIDE),
    )


def _swap(target, staged, exists, move, remove, aside) -> None:
    if not exists(target):
        move(staged, target)
        return
    previous = aside(target)
    move(target, previous)
    try:
        move(staged, target)
    except BaseException:
        if not exists(target):
            move(previous, target)
        raise
    remove(previous)
