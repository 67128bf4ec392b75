"""A MariaDB server holding what the dumps are made of, shared by a module's tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.mariadb_server import MariaDBServer
from tests.backups.dumps import add_notes
from tests.support.servers import seed


@pytest.fixture(scope="module")
def dump_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    """app.User (14 users) and app.Note (awkward rows); `other` has a User table of 3 rows.

    The tests only dump it: nothing changes it after seeding, so one server serves a module.
    """
    base = tmp_path_factory.mktemp("backups-mariadb")
    server = MariaDBServer(base)
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
