"""A Spark Connect server for the tests (a free port, its own process group, stopped by the
fixture that starts it) and clients of it run as separate Python processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyspark

ROOT = Path(__file__).resolve().parents[2]
SPARK_SUBMIT = Path(pyspark.__file__).parent / "bin" / "spark-submit"
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ConnectServer:
    """``local[2]`` Spark Connect server on 127.0.0.1:``port``; ``url`` is what clients use."""

    def __init__(self, log: Path, start_timeout: float = 180.0):
        self.port = free_port()
        self.url = f"sc://localhost:{self.port}"
        self.log, self.start_timeout = log, start_timeout
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "ConnectServer":
        env = dict(os.environ, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
        env.pop("SPARK_REMOTE", None)
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [str(SPARK_SUBMIT), "--class", SERVER_CLASS, "--master", "local[2]",
                 "--name", "spark-em tests: Connect server", "--driver-memory", "2g",
                 "--conf", f"spark.connect.grpc.binding.port={self.port}",
                 "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
                 "--conf", "spark.ui.enabled=false", "spark-internal"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        try:
            while not self._listening():
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the Connect server did not start; see {self.log}")
                time.sleep(0.5)
        except BaseException:
            self.stop()
            raise
        return self

    def _listening(self) -> bool:
        with socket.socket() as s:
            s.settimeout(1)
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=60)

    def __exit__(self, *exc) -> None:
        self.stop()


def run_client(url: str, script: str, *args: str, cwd: Path = ROOT) -> dict:
    """Run ``script`` in a fresh Python (in ``cwd``) whose ``spark`` is a session of the
    server at ``url``; its "RESULT {json}" line, parsed."""
    prelude = ("from pyspark.sql import SparkSession\n"
               f"spark = SparkSession.builder.remote({url!r}).getOrCreate()\n")
    done = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(script), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, PYSPARK_PYTHON=sys.executable,
                                   PYTHONPATH=str(ROOT)))
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads(lines[0][len("RESULT "):])
