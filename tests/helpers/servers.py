"""Servers the tests start: a free port, a process in its own group, ready when it answers,
killed with its group when the fixture that started it ends (also when the start fails)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """Subclasses give ``command()``, ``environment()``, ``cwd`` and ``ready()``."""

    name = "server"
    cwd: Path | None = None

    def __init__(self, log: Path, start_timeout: float = 180.0):
        self.port, self.log, self.start_timeout = free_port(), log, start_timeout
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict:
        return dict(os.environ)

    def ready(self) -> bool:
        raise NotImplementedError

    def __enter__(self):
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.cwd,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        try:
            while not self.ready():
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the {self.name} did not start; see {self.log}")
                time.sleep(0.5)
        except BaseException:
            self.stop()
            raise
        return self

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
