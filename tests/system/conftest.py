"""The system tests' Spark Connect server: started once on a free port, stopped at the end."""

from __future__ import annotations

import pytest

from tests.helpers.connect import ConnectServer


@pytest.fixture(scope="session")
def connect_server(tmp_path_factory):
    with ConnectServer(tmp_path_factory.mktemp("connect") / "server.log") as server:
        yield server
