"""A Spark Connect server for the tests (a free port, its own process group, stopped by the
fixture that starts it) and clients of it run as separate Python processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pyspark

from tests.helpers.servers import Server

ROOT = Path(__file__).resolve().parents[2]
SPARK_SUBMIT = Path(pyspark.__file__).parent / "bin" / "spark-submit"
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


class ConnectServer(Server):
    """``local[2]`` Spark Connect server on 127.0.0.1:``port``; ``url`` is what clients use."""

    name, cwd = "Connect server", ROOT

    def __init__(self, log: Path, start_timeout: float = 180.0):
        super().__init__(log, start_timeout)
        self.url = f"sc://localhost:{self.port}"

    def command(self) -> list[str]:
        return [
            str(SPARK_SUBMIT),
            "--class",
            SERVER_CLASS,
            "--master",
            "local[2]",
            "--name",
            "spark-em tests: Connect server",
            "--driver-memory",
            "2g",
            "--conf",
            f"spark.connect.grpc.binding.port={self.port}",
            "--conf",
            "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf",
            "spark.ui.enabled=false",
            "spark-internal",
        ]

    def environment(self) -> dict:
        env = dict(os.environ, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
        env.pop("SPARK_REMOTE", None)
        return env

    def ready(self) -> bool:
        with socket.socket() as s:
            s.settimeout(1)
            return s.connect_ex(("127.0.0.1", self.port)) == 0


def run_client(url: str, script: str, *args: str, cwd: Path = ROOT) -> dict:
    """Run ``script`` in a fresh Python (in ``cwd``) whose ``spark`` is a session of the
    server at ``url``; its "RESULT {json}" line, parsed."""
    prelude = (
        "from pyspark.sql import SparkSession\n"
        f"spark = SparkSession.builder.remote({url!r}).getOrCreate()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, PYSPARK_PYTHON=sys.executable, PYTHONPATH=str(ROOT)),
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads(lines[0][len("RESULT ") :])
