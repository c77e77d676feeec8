"""An MLflow tracking server for the tests: SQLite-backed, a file artifact root, on a free
port; stopped by the fixture that starts it."""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

from tests.helpers.servers import Server


class MlflowServer(Server):
    name = "MLflow server"

    def __init__(self, root: Path, start_timeout: float = 180.0):
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(root / "server.log", start_timeout)
        self.root = self.cwd = root
        self.url = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.root / 'mlflow.db'}",
            "--default-artifact-root",
            (self.root / "artifacts").as_uri(),
            "--no-serve-artifacts",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]

    def environment(self) -> dict:
        env = dict(os.environ)
        env.pop("MLFLOW_TRACKING_URI", None)
        return env

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False
