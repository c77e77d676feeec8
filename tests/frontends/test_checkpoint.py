"""Driver loss: --checkpoint saves every pass, --resume ends with the uninterrupted model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from spark_em import cli
from spark_em.cli import fit_gmm, fit_wols

ROOT = Path(__file__).resolve().parents[2]


def run_job(*args):
    return cli.main_wrapper(fit_gmm.main, [str(a) for a in args])


def kill_after(args, line_wanted: str, job: str = "fit_gmm.py") -> list[str]:
    """Run the job as its own driver process and SIGKILL it (and its JVM) once it prints
    ``line_wanted``; the lines it printed."""
    driver = subprocess.Popen(
        [sys.executable, str(ROOT / "jobs" / job), *map(str, args)],
        env=dict(os.environ, PYSPARK_PYTHON=sys.executable),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines = []
    try:
        for line in driver.stdout:
            lines.append(line)
            if line_wanted in line:
                os.killpg(driver.pid, signal.SIGKILL)  # the driver and its JVM, mid-run
                break
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(timeout=60)
    assert any(line_wanted in line for line in lines), "".join(lines)
    return lines


def test_a_killed_driver_resumes_to_the_same_model(spark, netflix_dir, tmp_path, capsys):
    args = ["--input", netflix_dir / "netflix_incomplete.txt", "--k", "12", "--seeds", "1"]
    saved = tmp_path / "ck"
    kill_after(args + ["--checkpoint", saved, "--out", tmp_path / "never"], "iter    6 ")
    state = json.loads((saved / "state.json").read_text())
    assert 5 <= state["iteration"] < 27 and not (tmp_path / "never").exists()

    assert run_job(*args, "--checkpoint", saved, "--resume", "--out", tmp_path / "resumed") == 0
    err = capsys.readouterr().err
    assert "iter    1 " not in err and f"iter   {state['iteration'] + 1:2d} " in err
    assert run_job(*args, "--out", tmp_path / "whole") == 0
    resumed = json.loads((tmp_path / "resumed" / "model.json").read_text())
    whole = json.loads((tmp_path / "whole" / "model.json").read_text())
    for key in ("weights", "means", "variances", "log_likelihood", "n_iter"):
        assert resumed[key] == whole[key]
    assert whole["log_likelihood"] == pytest.approx(-1390234.4223469, rel=1e-9)


def test_checkpoint_misuse_is_refused(spark, netflix_dir, tmp_path, capsys):
    data = ["--input", netflix_dir / "test_incomplete.txt", "--seeds", "0", "--max-iter", "3"]
    saved = tmp_path / "ck"
    assert run_job(*data, "--k", "2", "--checkpoint", saved) == 0
    capsys.readouterr()
    cases = [
        (["--k", "2", "--checkpoint", saved], "holds a checkpoint already"),
        (["--k", "3", "--checkpoint", saved, "--resume"], "differs in k"),
        (["--k", "2", "--checkpoint", saved, "--resume", "--tol", "1e-3"], "differs in tol"),
        (["--k", "2", "--checkpoint", tmp_path / "empty", "--resume"], "no checkpoint to resume"),
        (["--k", "2", "--resume"], "--resume needs --checkpoint"),
    ]
    for extra, message in cases:
        assert run_job(*data, *extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    import numpy as np

    changed = np.loadtxt(netflix_dir / "test_incomplete.txt")
    changed[tuple(np.argwhere(changed == 0)[0])] = 3  # one more rating: other data
    np.savetxt(tmp_path / "other.txt", changed, fmt="%d")
    other = ["--input", tmp_path / "other.txt", "--seeds", "0", "--k", "2"]
    assert run_job(*other, "--checkpoint", saved, "--resume", "--max-iter", "3") == 2
    err = capsys.readouterr().err
    assert "differs in" in err and "column_sums_sha256" in err and "n_observed" in err
    (saved / "state.json").write_text('{"format": 1, "fingerprint": {}, "starts": [')
    assert run_job(*data, "--k", "2", "--checkpoint", saved, "--resume") == 2
    assert "not a readable checkpoint" in capsys.readouterr().err


def test_complete_data_resumes_to_the_same_model(spark, netflix_dir, tmp_path, capsys):
    args = [
        "--input",
        netflix_dir / "toy_data.txt",
        "--missing",
        "none",
        "--k",
        "4",
        "--covariance",
        "full",
        "--init",
        "random",
        "--max-iter",
        "40",
    ]
    saved = tmp_path / "ck"
    kill_after(args + ["--checkpoint", saved], "iter   10 ")
    assert 9 <= json.loads((saved / "state.json").read_text())["iteration"] < 40
    assert run_job(*args, "--checkpoint", saved, "--resume", "--out", tmp_path / "resumed") == 0
    assert run_job(*args, "--out", tmp_path / "whole") == 0
    resumed = json.loads((tmp_path / "resumed" / "model.json").read_text())
    whole = json.loads((tmp_path / "whole" / "model.json").read_text())
    for key in ("weights", "means", "covariances", "objective", "n_iter"):
        assert resumed[key] == whole[key]


def test_gradient_descent_resumes_to_the_same_coefficients(spark, tmp_path, capsys):
    args = ["--rows", "50000", "--solver", "gd", "--step", "0.05", "--max-iter", "40", "--tol", "0"]
    saved = tmp_path / "ck"
    kill_after(args + ["--checkpoint", saved], "gd iter   10 ", job="fit_wols.py")
    assert json.loads((saved / "state.json").read_text())["iteration"] >= 9
    resumed, whole = tmp_path / "resumed", tmp_path / "whole"
    assert (
        cli.main_wrapper(
            fit_wols.main, [*args, "--checkpoint", str(saved), "--resume", "--out", str(resumed)]
        )
        == 0
    )
    assert cli.main_wrapper(fit_wols.main, [*args, "--out", str(whole)]) == 0
    assert json.loads((resumed / "model.json").read_text()) == json.loads(
        (whole / "model.json").read_text()
    )
    capsys.readouterr()
    assert (
        cli.main_wrapper(
            fit_wols.main, [*args, "--checkpoint", str(saved), "--resume", "--step", "0.04"]
        )
        == 2
    )
    assert "differs in step" in capsys.readouterr().err
