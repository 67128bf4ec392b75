"""What the demo does on each engine: start a throwaway server, seed the sample app, replay the
incident. The story around it (serving, the verdicts told, signals, clean-up) is in run.py.

On both, the incident is the renamed-volume case: the server restarted on the same port with
the same credentials on a brand-new data directory (a new datadir for MariaDB, a new cluster
initdb'd for PostgreSQL), the app's migrations recreating the schema and seeding one admin.
"""

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sidecar.demo import ENGINES, mariadb_app, postgres_app
from sidecar.demo.mariadb import MariaDBServer, sweep_orphaned_servers
from sidecar.demo.postgres import PostgresServer, sweep_orphaned_clusters


class DemoServer(Protocol):
    """One engine's throwaway server under the demo's directory, as the story uses it."""

    name: str  # as the story says it: MariaDB, PostgreSQL
    directory: str  # under the demo's temporary directory
    fresh: str  # what the incident starts the server on
    pings: str  # the usual checks that would call the new database healthy
    seeded: str  # the table `seed` filled, told after it

    process: subprocess.Popen[bytes] | None
    port: int
    datadir: Path

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def seed(self, monitor_password: str, created: Sequence[datetime]) -> None:
        """The sample app, a SELECT-only monitor account and one user per time in `created`."""

    def replay(self, monitor_password: str) -> None:
        """The incident: a new, empty data directory; migrations recreate the schema and seed
        one admin."""

    def monitor_url(self, monitor_password: str) -> str:
        """The sidecar's `SIDECAR_DB_URL`: the SELECT-only account."""
        ...


def kill(server: DemoServer) -> None:
    """SIGKILL the server and its children without waiting (safe in a signal handler)."""
    if server.process is not None:
        # Each server runs in a session, hence a group, of its own (PostgreSQL's backends
        # with its postmaster).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)


class MariaDBDemo(MariaDBServer):
    """The throwaway MariaDB of the demo."""

    name = "MariaDB"
    directory = "mariadb"
    fresh = "a NEW, EMPTY datadir"
    pings = "`mysqladmin ping` and `SELECT 1`"
    seeded = "app.User"

    def __init__(self, base: Path) -> None:
        super().__init__(base / self.directory)
        self.base.mkdir()

    def seed(self, monitor_password: str, created: Sequence[datetime]) -> None:
        mariadb_app.seed(self, monitor_password, len(created), created=created)

    def replay(self, monitor_password: str) -> None:
        self.swap_datadir()
        mariadb_app.seed(self, monitor_password, users=0)
        mariadb_app.seed_admin(self)

    def monitor_url(self, monitor_password: str) -> str:
        return self.url(mariadb_app.MONITOR_USER, monitor_password)


class PostgresDemo(PostgresServer):
    """The throwaway PostgreSQL cluster of the demo."""

    name = "PostgreSQL"
    directory = "postgres"
    fresh = "a NEW cluster in a fresh data directory"
    pings = "`pg_isready` and `SELECT 1`"
    seeded = 'app."User"'

    def __init__(self, base: Path) -> None:
        # The server runs as the `postgres` user when we are root: it must enter the demo's
        # directory (mkdtemp makes it root's alone) to reach its own.
        if os.geteuid() == 0:
            base.chmod(0o711)
        super().__init__(base=base / self.directory)

    def seed(self, monitor_password: str, created: Sequence[datetime]) -> None:
        postgres_app.seed(self, monitor_password, len(created), created=created)

    def replay(self, monitor_password: str) -> None:
        self.swap_datadir()
        postgres_app.seed(self, monitor_password, users=0)
        postgres_app.seed_admin(self)

    def monitor_url(self, monitor_password: str) -> str:
        return self.url(postgres_app.MONITOR, monitor_password)


DEMOS: dict[str, type[MariaDBDemo] | type[PostgresDemo]] = dict(
    zip(ENGINES, (MariaDBDemo, PostgresDemo), strict=True)
)


def sweep_killed_servers() -> list[str]:
    """Stop the servers of a demo (or test run) that was SIGKILLed; what went, one a line."""
    return [f"mariadbd (pid {pid})" for pid in sweep_orphaned_servers()] + [
        f"postgres (pid {pid})" for pid in sweep_orphaned_clusters()
    ]
