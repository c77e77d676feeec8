"""The jobs unchanged on a real Spark standalone cluster (a master and two workers on 127.0.0.1,
started from the installed pyspark): the same results as local mode, also when an executor is
killed in the middle of a fit. ``make cluster-test`` runs this file alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from numpy.testing import assert_allclose

from spark_em import cli
from spark_em.cli import fit_gmm, fit_wols
from tests.helpers.standalone import StandaloneCluster

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.cluster

LOG4J = ROOT / "spark_em" / "conf" / "log4j2.properties"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with StandaloneCluster(
        workers=2, cores=1, memory="2g", log_dir=tmp_path_factory.mktemp("cluster")
    ) as running:
        yield running


def submit_command(cluster, job, *args):
    return [
        cluster.submit,
        "--master",
        cluster.url,
        "--conf",
        "spark.executor.memory=1g",
        "--driver-memory",
        "2g",
        "--driver-java-options",
        f"-Dlog4j2.configurationFile=file:{LOG4J}",
        str(ROOT / "jobs" / job),
        *[str(a) for a in args],
    ]


def submit(cluster, job, *args):
    return subprocess.run(
        submit_command(cluster, job, *args),
        env=cluster.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


def local(job_main, *args):
    assert cli.main_wrapper(job_main, [str(a) for a in args]) == 0


def metrics_of(directory: Path) -> dict:
    return json.loads((directory / "metrics.json").read_text())


def test_netflix_fit_on_the_cluster_equals_local_mode(spark, cluster, netflix_dir, tmp_path):
    args = [
        "--input",
        netflix_dir / "netflix_incomplete.txt",
        "--k",
        "12",
        "--seeds",
        "1",
        "--gold",
        netflix_dir / "netflix_complete.txt",
    ]
    done = submit(cluster, "fit_gmm.py", *args, "--out", tmp_path / "cluster")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    local(fit_gmm.main, *args, "--out", tmp_path / "local")
    on_cluster, in_local = metrics_of(tmp_path / "cluster"), metrics_of(tmp_path / "local")
    assert on_cluster["n_iter"] == in_local["n_iter"]
    for key in ("log_likelihood", "rmse", "rmse_missing"):
        assert on_cluster[key] == pytest.approx(in_local[key], rel=1e-9)


def test_wols_fit_on_the_cluster_equals_local_mode(spark, cluster, tmp_path):
    args = ["--rows", "300000", "--partitions", "4"]
    done = submit(cluster, "fit_wols.py", *args, "--out", tmp_path / "cluster")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    local(fit_wols.main, *args, "--out", tmp_path / "local")
    on_cluster, in_local = metrics_of(tmp_path / "cluster"), metrics_of(tmp_path / "local")
    assert on_cluster["intercept"] == pytest.approx(in_local["intercept"], rel=1e-9)
    assert on_cluster["coefficients"] == pytest.approx(in_local["coefficients"], rel=1e-9)


def kill_with_children(pid: int) -> None:
    """SIGKILL a process and everything under it (an executor JVM and its Python workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    doomed, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        doomed.append(p)
        frontier.extend(children.get(p, []))
    for p in doomed:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_killed_executor_changes_nothing(spark, cluster, netflix_dir, tmp_path):
    args = [
        "--input",
        netflix_dir / "netflix_incomplete.txt",
        "--k",
        "12",
        "--seeds",
        "0-1",
        "--partitions",
        "4",
    ]
    job = subprocess.Popen(
        submit_command(cluster, "fit_gmm.py", *args, "--out", tmp_path / "hit"),
        env=cluster.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output, killed = [], None
    try:
        for line in job.stdout:
            output.append(line)
            if killed is None and "iter    3 " in line:
                executors = cluster.executor_pids()
                assert len(executors) == 2, output
                killed = executors[0]
                kill_with_children(killed)
        assert job.wait(timeout=900) == 0, "".join(output[-60:])
    finally:
        if job.poll() is None:
            job.kill()
    assert killed is not None and killed not in cluster.executor_pids()
    assert any("Lost executor" in line for line in output), "".join(output)
    local(fit_gmm.main, *args, "--out", tmp_path / "local")
    hit, undisturbed = metrics_of(tmp_path / "hit"), metrics_of(tmp_path / "local")
    assert [(r["seed"], r["n_iter"]) for r in hit["runs"]] == [
        (r["seed"], r["n_iter"]) for r in undisturbed["runs"]
    ]
    for a, b in zip(hit["runs"], undisturbed["runs"]):
        assert a["log_likelihood"] == pytest.approx(b["log_likelihood"], rel=1e-12)
    assert_allclose(
        json.loads((tmp_path / "hit" / "model.json").read_text())["means"],
        json.loads((tmp_path / "local" / "model.json").read_text())["means"],
        rtol=1e-12,
    )
