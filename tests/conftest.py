"""Fixtures: real MariaDB servers on temporary datadirs and free ports (PostgreSQL clusters:
tests/support/postgres_server.py)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.demo.mariadb import sweep_orphaned_servers
from sidecar.demo.postgres import sweep_orphaned_clusters
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import seed


@pytest.fixture(scope="session", autouse=True)
def _no_orphaned_servers() -> None:
    """Stop the servers an earlier, SIGKILLed run left running (their owner is gone); those
    of a run still alive, another worktree's, are left alone (tests/test_orphaned_servers.py)."""
    sweep_orphaned_servers()
    sweep_orphaned_clusters()


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[MariaDBTestServer]:
    """A fresh, empty, running MariaDB server of this test's own."""
    base = tmp_path / "mariadb"
    base.mkdir()
    server = MariaDBTestServer(base)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def seeded(mariadb: MariaDBTestServer) -> MariaDBTestServer:
    """A server with app.User holding 14 users and a SELECT-only `monitor` account."""
    seed(mariadb)
    return mariadb
