"""An MLflow tracking server for the tests: SQLite-backed, a file artifact root, a free port,
its own process group, stopped by the fixture that starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.helpers.connect import free_port


class MlflowServer:
    def __init__(self, root: Path, start_timeout: float = 180.0):
        self.root, self.port = root, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "MlflowServer":
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.root / "server.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server",
             "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
             "--default-artifact-root", (self.root / "artifacts").as_uri(),
             "--no-serve-artifacts", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "1"],
            cwd=self.root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=dict(os.environ, MLFLOW_TRACKING_URI=""))
        log.close()
        deadline = time.monotonic() + self.start_timeout
        try:
            while not self._healthy():
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the MLflow server did not start; see {self.root}/server.log")
                time.sleep(0.5)
        except BaseException:
            self.stop()
            raise
        return self

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

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
