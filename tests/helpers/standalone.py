"""A Spark standalone cluster on 127.0.0.1 from the installed pyspark: one master, N workers.

    with StandaloneCluster(workers=2, log_dir=tmp) as cluster:
        subprocess.run([cluster.submit, "--master", cluster.url, "jobs/fit_gmm.py", ...])

Every process is started in its own process group and killed with it on exit, also when the
body fails, so no master, worker or executor outlives the block.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyspark

from tests.helpers.servers import free_port

SPARK_HOME = Path(pyspark.__file__).parent
BIN = SPARK_HOME / "bin"


class StandaloneCluster:
    def __init__(
        self,
        workers: int = 2,
        cores: int = 1,
        memory: str = "2g",
        log_dir: Path | None = None,
        start_timeout: float = 90.0,
    ):
        self.n_workers, self.cores, self.memory = workers, cores, memory
        self.log_dir = Path(log_dir or ".")
        self.start_timeout = start_timeout
        self.port, self.ui_port = free_port(), free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.submit = str(BIN / "spark-submit")
        self.processes: list[subprocess.Popen] = []
        self.env = dict(
            os.environ,
            SPARK_HOME=str(SPARK_HOME),
            SPARK_LOCAL_IP="127.0.0.1",
            PYSPARK_PYTHON=sys.executable,
            PYSPARK_DRIVER_PYTHON=sys.executable,
            SPARK_NO_DAEMONIZE="1",
        )

    def _start(self, name: str, *args: str) -> None:
        log = open(self.log_dir / f"{name}.log", "w")
        self.processes.append(
            subprocess.Popen(
                [str(BIN / "spark-class"), *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        )

    def state(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as r:
            return json.load(r)

    def alive_workers(self) -> int:
        try:
            return sum(w.get("state") == "ALIVE" for w in self.state().get("workers", []))
        except OSError:
            return 0

    def __enter__(self) -> StandaloneCluster:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start(
                "master",
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--webui-port",
                str(self.ui_port),
            )
            for i in range(self.n_workers):
                work = self.log_dir / f"worker-{i}"
                work.mkdir(exist_ok=True)
                self._start(
                    f"worker-{i}",
                    "org.apache.spark.deploy.worker.Worker",
                    self.url,
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    str(self.cores),
                    "--memory",
                    self.memory,
                    "--webui-port",
                    str(free_port()),
                    "--work-dir",
                    str(work),
                )
            deadline = time.monotonic() + self.start_timeout
            while self.alive_workers() < self.n_workers:
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                    raise RuntimeError(f"the cluster did not start; logs in {self.log_dir}")
                time.sleep(0.5)
        except BaseException:
            self.stop()
            raise
        return self

    def executor_pids(self) -> list[int]:
        """Process ids of executor JVMs launched by this cluster's workers."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                cwd = os.readlink(f"/proc/{entry}/cwd")
            except OSError:
                continue
            if (
                b"org.apache.spark.executor.CoarseGrainedExecutorBackend" in cmdline
                and cwd.startswith(str(self.log_dir.resolve()))
            ):
                pids.append(int(entry))
        return pids

    def stop(self) -> None:
        for p in self.processes:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in self.processes:
            p.wait(timeout=30)
        for pid in self.executor_pids():  # executors live in the workers' groups, but be sure
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __exit__(self, *exc) -> None:
        self.stop()
