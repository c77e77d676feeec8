"""Where outputs go: the checks before anything is written (paths resolved, inputs, the
working directory, homes, roots, files on the way), the swap that keeps a target whole, and
the clearing of what killed runs left beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spark_em.engine import targets


def problem(target, **keep):
    return targets.target_problem(None, str(target), {k: str(v) for k, v in keep.items()})


def test_what_must_stay_is_refused(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "part").mkdir(parents=True)
    (data / "part" / "x.txt").write_text("1 2\n")
    monkeypatch.chdir(tmp_path / "data")
    assert problem("/") == "it is the root of the file system"
    assert problem(Path.home()) == "it is, or holds, a home directory"
    assert problem("/home/someone") == "it is, or holds, a home directory"
    assert problem(".") == "it is, or holds, the working directory"
    assert problem(tmp_path) == "it is, or holds, the working directory"
    monkeypatch.chdir(tmp_path)
    file = data / "part" / "x.txt"
    assert problem(file, input=file) == f"it is input ({file})"
    assert problem(data, input=file) == f"it holds input ({file})"
    assert problem(data / "part" / "out", input=data) == f"it lies inside input ({data})"
    assert problem(file / "out") == f"it lies under {file}, which is a file"
    assert problem(tmp_path / "elsewhere", input=data) is None


def test_paths_are_compared_resolved(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    link = tmp_path / "link"
    link.symlink_to(data)
    monkeypatch.chdir(tmp_path)
    assert problem(link, input=data) == f"it is input ({data})"
    assert problem("data/../link", input="data") == "it is input (data)"
    assert problem(f"file://{data}", input=link) == f"it is input ({link})"


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_leftovers_of_dead_runs_are_cleared(tmp_path, monkeypatch):
    out = tmp_path / "out"
    host = targets.socket.gethostname()
    dead, alive = f"{host}~{dead_pid()}", f"{host}~{os.getpid()}"
    staged_dead = tmp_path / f".out.tmp-{dead}-0123abcd"
    staged_alive = tmp_path / f".out.tmp-{alive}-0123abcd"
    aside = tmp_path / f".out.old-{dead}-89abcdef"
    other = tmp_path / f".other.tmp-{dead}-0123abcd"
    for d in (staged_dead, staged_alive, aside, other):
        d.mkdir()
    (aside / "metrics.json").write_text("{}")
    targets.clear_leftovers(None, str(out))
    # the previous output a killed run had moved aside is put back; its staging goes
    assert (out / "metrics.json").read_text() == "{}"
    assert not staged_dead.exists() and not aside.exists()
    assert staged_alive.exists() and other.exists()  # a live run's, another target's


def test_a_swap_replaces_the_target_whole(tmp_path):
    target, staged = tmp_path / "out", tmp_path / "staged"
    target.mkdir()
    (target / "old.txt").write_text("old")
    staged.mkdir()
    (staged / "new.txt").write_text("new")
    targets.swap_in(None, str(staged), str(target))
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing left beside it


def test_a_failed_swap_puts_the_previous_target_back(tmp_path, monkeypatch):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    real = os.replace

    def failing(source, destination):
        if Path(source).name == "staged":
            raise OSError("disk full")
        real(source, destination)

    (tmp_path / "staged").mkdir()
    monkeypatch.setattr(targets.os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        targets.swap_in(None, str(tmp_path / "staged"), str(target))
    assert (target / "old.txt").read_text() == "old"
