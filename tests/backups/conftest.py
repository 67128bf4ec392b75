"""A MariaDB server holding what the dumps are made of, shared by a module's tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backups.dumps import add_notes
from tests.backups.pgdumps import ODD_DATABASE, seed_app
from tests.support.mariadb import MariaDBTestServer
from tests.support.postgres_server import PostgresTestServer
from tests.support.servers import seed


@pytest.fixture(scope="module")
def dump_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBTestServer]:
    """app.User (14 users) and app.Note (awkward rows); `other` has a User table of 3 rows.

    The tests only dump it: nothing changes it after seeding, so one server serves a module.
    """
    base = tmp_path_factory.mktemp("backups-mariadb")
    server = MariaDBTestServer(base)
    server.start()
    try:
        seed(server)
        add_notes(server, "app")
        server.execute("CREATE DATABASE other")
        server.execute(
            "CREATE TABLE User (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(191))",
            database="other",
        )
        server.execute(
            "INSERT INTO User (email) VALUES ('a@other'), ('b@other'), ('c@other')",
            database="other",
        )
        yield server
    finally:
        server.stop()


@pytest.fixture
def backup_dir(tmp_path: Path) -> Path:
    """An empty directory for dumps."""
    directory = tmp_path / "backups"
    directory.mkdir()
    return directory


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresTestServer]:
    """A PostgreSQL cluster: `app` (tests/backups/pgdumps.py's awkward rows), `other` (a
    "User" table of 3 rows) and ODD_DATABASE (2). Only dumped: one serves a module."""
    server = PostgresTestServer()
    server.start()
    try:
        seed_app(server)
        server.psql("CREATE DATABASE other")
        server.psql(
            'CREATE TABLE "User" (id int, email text)',
            "INSERT INTO \"User\" VALUES (1, 'a@other'), (2, 'b@other'), (3, 'c@other')",
            database="other",
        )
        # pg_dumpall names it in a connection string: \connect -reuse-previous=on "dbname='...'"
        odd = ODD_DATABASE.replace('"', '""')
        server.psql(f'CREATE DATABASE "{odd}"')
        server.psql(
            'CREATE TABLE "User" (id int)',
            'INSERT INTO "User" VALUES (1), (2)',
            database=ODD_DATABASE,
        )
        yield server
    finally:
        server.remove()
