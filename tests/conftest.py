"""Fixtures: real MariaDB servers on temporary datadirs and free ports."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.mariadb_server import MariaDBServer
from tests.support.servers import seed


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[MariaDBServer]:
    """A fresh, empty, running MariaDB server of this test's own."""
    base = tmp_path / "mariadb"
    base.mkdir()
    server = MariaDBServer(base)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def seeded(mariadb: MariaDBServer) -> MariaDBServer:
    """A server with app.User holding 14 users and a SELECT-only `monitor` account."""
    seed(mariadb)
    return mariadb
