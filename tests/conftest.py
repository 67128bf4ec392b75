"""Fixtures: real MariaDB servers and PostgreSQL clusters on temporary directories and free ports
(tests/support/mariadb.py, tests/support/postgres_server.py)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.demo.mariadb import sweep_orphaned_servers
from sidecar.demo.postgres import sweep_orphaned_clusters
from tests.support.mariadb import MariaDBTestServer
from tests.support.postgres_server import PostgresTestServer
from tests.support.servers import seed
from tests.support.templates import copy_datadir


@pytest.fixture(scope="session", autouse=True)
def _no_orphaned_servers() -> None:
    """Stop the servers an earlier, SIGKILLed run left running (their owner is gone); those
    of a run still alive, another worktree's, are left alone (tests/test_orphaned_servers.py)."""
    sweep_orphaned_servers()
    sweep_orphaned_clusters()


@pytest.fixture(scope="session")
def mariadb_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A datadir mariadb-install-db made, never started: each `mariadb` gets a copy."""
    server = MariaDBTestServer(tmp_path_factory.mktemp("mariadb-template"))
    server.initialise()
    return server.datadir


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[Path]:
    """A cluster initdb made, never started: each `postgres` gets a copy."""
    server = PostgresTestServer()
    server.initialise()
    try:
        yield server.datadir
    finally:
        server.remove()


@pytest.fixture
def mariadb(tmp_path: Path, mariadb_template: Path) -> Iterator[MariaDBTestServer]:
    """A fresh, empty, running MariaDB server of this test's own."""
    base = tmp_path / "mariadb"
    base.mkdir()
    server = MariaDBTestServer(base)
    copy_datadir(mariadb_template, server)
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


@pytest.fixture
def postgres(postgres_template: Path) -> Iterator[PostgresTestServer]:
    """A fresh, empty, running PostgreSQL cluster of this test's own."""
    server = PostgresTestServer()
    copy_datadir(postgres_template, server)
    server.start()
    try:
        yield server
    finally:
        server.remove()
