"""The sample app on a server of either engine, behind one small interface, for the contract
cases that hold on both (tests/engines/test_contract.py).

What a case does to the server (stop it, hang it, restart it, swap it onto a fresh datadir or
cluster, dump and restore it) and the SQL it runs as the owner are said once; what differs
(the quoting, the grants, the dump tools) is said here, per engine. The sidecar watches as it
would be set up by a new user: `SIDECAR_TABLE=User` and a SELECT-only account (on MariaDB
without the `mysql.gtid_slave_pos` grant, on PostgreSQL with nothing more to grant).
"""

import asyncio
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sidecar.config import load_settings
from sidecar.demo import mariadb_app, postgres_app
from sidecar.demo.postgres import SUPERUSER_PASSWORD
from sidecar.evaluator import Evaluator
from sidecar.results import Report
from sidecar.service import build_evaluator
from tests.support import postgres_app as pg_test_app
from tests.support import servers
from tests.support.mariadb import MariaDBTestServer
from tests.support.postgres_server import PostgresTestServer


class AppServer(ABC):
    """A running server of one engine holding the sample app, and what the cases do to it."""

    engine: str
    datadir: Path
    secrets: tuple[str, ...]  # passwords of the app's accounts: never in a report

    # -- the app -----------------------------------------------------------------------
    @abstractmethod
    def seed(self, users: int = 14, tables: int = 1) -> None:
        """The app database, its `User` table with `users` users (`tables=3`: with `Order` and
        `Session` rows for each user too), and the SELECT-only account."""

    @abstractmethod
    def add_users(self, count: int, prefix: str = "user", created: Sequence[datetime] = ()) -> None:
        """`count` more users (created now, or at the times in `created`)."""

    @abstractmethod
    def sql(self, *statements: str) -> None:
        """Run statements as the owner in the app database."""

    @abstractmethod
    def q(self, name: str) -> str:
        """`name` quoted as an identifier of this engine."""

    @abstractmethod
    def grant(self, privileges: str) -> None:
        """Grant `privileges` (`INSERT, DELETE`) on `User` to the sidecar's account."""

    @abstractmethod
    def url(self) -> str:
        """The sidecar's `SIDECAR_DB_URL`: the SELECT-only account."""

    def evaluator(self, state_dir: Path | None = None, **settings: Any) -> Evaluator:
        """An evaluator watching `User` as `sidecar serve` builds it (2s interval, 1s timeout)."""
        values: dict[str, Any] = {
            "db_url": self.url(),
            "table": "User",
            "timestamp_column": "createdAt",
            "interval": "2s",
            "timeout": "1s",
            "state_dir": str(state_dir) if state_dir else None,
        }
        values.update(settings)
        return build_evaluator(load_settings(values))

    def run(self, cycles: int = 1, state_dir: Path | None = None, **settings: Any) -> list[Report]:
        """`cycles` cycles of a sidecar started now (on `state_dir`), then stopped."""

        async def go() -> list[Report]:
            evaluator = self.evaluator(state_dir, **settings)
            try:
                return [await evaluator.run_cycle() for _ in range(cycles)]
            finally:
                await evaluator.aclose()

        return asyncio.run(go())

    # -- what happens to the server ----------------------------------------------------
    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def hang(self) -> None:
        """SIGSTOP: the kernel accepts connections, nothing answers."""

    @abstractmethod
    def resume(self) -> None: ...

    @abstractmethod
    def restart(self) -> None: ...

    @abstractmethod
    def swap(self) -> None:
        """The server restarted on a brand-new, empty datadir or cluster (same port, same
        credentials), nothing in it yet."""

    def incident(self) -> None:
        """The incident: swapped, the app's migrations recreate the schema and seed one admin."""
        self.swap()
        self.seed(users=0)
        self.sql(f"INSERT INTO {self.q('User')} (email) VALUES ('admin@example.com')")

    @abstractmethod
    def after_creation(self) -> None:
        """Wait until a table recreated now can be told from the one `seed` made."""

    @abstractmethod
    def dump(self, path: Path) -> None:
        """The app database dumped into `path` as the engine's own tool writes it (a plain SQL
        file that drops and recreates each table)."""

    @abstractmethod
    def dump_by_table(self, directory: Path) -> list[Path]:
        """The same, one file per table, in the tables' name order."""

    @abstractmethod
    def restore(self, path: Path) -> None:
        """A dump (or one table's) loaded over the app database."""

    def _three_tables(self) -> list[str]:
        q = self.q
        return [
            f"CREATE TABLE {q('Order')} (id INT PRIMARY KEY, {q('userId')} INT, total INT)",
            f"CREATE TABLE {q('Session')} (id INT PRIMARY KEY, {q('userId')} INT)",
            f"INSERT INTO {q('Order')} SELECT id, id, id * 10 FROM {q('User')}",
            f"INSERT INTO {q('Session')} SELECT id, id FROM {q('User')}",
        ]


class MariaDBApp(AppServer):
    engine = "mariadb"
    secrets = (servers.MONITOR_PASSWORD,)

    def __init__(self, server: MariaDBTestServer) -> None:
        self.server = server
        self.datadir = server.datadir
        self.seeded_at = 0.0

    def seed(self, users: int = 14, tables: int = 1) -> None:
        servers.seed(self.server, users, grant_datadir=False)
        self.seeded_at = time.time()
        if tables == 3:
            self.sql(*self._three_tables())

    def add_users(self, count: int, prefix: str = "user", created: Sequence[datetime] = ()) -> None:
        mariadb_app.add_users(self.server, count, prefix, created)

    def sql(self, *statements: str) -> None:
        self.server.execute(*statements, database="app")

    def q(self, name: str) -> str:
        return f"`{name}`"

    def grant(self, privileges: str) -> None:
        self.server.execute(
            f"GRANT {privileges} ON app.User TO '{servers.MONITOR_USER}'@'127.0.0.1'"
        )

    def url(self) -> str:
        return self.server.url(servers.MONITOR_USER, servers.MONITOR_PASSWORD)

    def stop(self) -> None:
        self.server.stop()

    def hang(self) -> None:
        self.server.pause()

    def resume(self) -> None:
        self.server.resume()

    def restart(self) -> None:
        self.server.restart()

    def swap(self) -> None:
        # MariaDB records a datadir's birth to the second (CREATE_TIME). Two real datadirs are
        # never initialised within one second of each other; in a fast test they could be.
        time.sleep(max(0.0, 1.05 - (time.time() - self.server.initialised_at)))
        self.server.swap_datadir()

    def after_creation(self) -> None:
        # A table's CREATE_TIME has one-second resolution.
        time.sleep(max(0.0, 1.1 - (time.time() - self.seeded_at)))

    def dump(self, path: Path) -> None:
        with path.open("wb") as out:
            subprocess.run(
                ["mariadb-dump", "-uroot", "-h127.0.0.1", f"-P{self.server.port}", "app"],
                stdout=out, check=True, timeout=60,
            )  # fmt: skip

    def dump_by_table(self, directory: Path) -> list[Path]:
        """mariadb-dump's file cut into its tables' sections (it writes them in name order)."""
        whole = directory / "whole.sql"
        self.dump(whole)
        marker = "\n--\n-- Table structure for table "
        head, *sections = whole.read_text().split(marker)
        paths = []
        for number, section in enumerate(sections):
            path = directory / f"table-{number}.sql"
            path.write_text(head + marker + section)
            paths.append(path)
        return paths

    def restore(self, path: Path) -> None:
        with path.open("rb") as dump:
            subprocess.run(
                ["mariadb", "-uroot", "-h127.0.0.1", f"-P{self.server.port}", "app"],
                stdin=dump, check=True, timeout=60,
            )  # fmt: skip


class PostgresApp(AppServer):
    engine = "postgres"
    secrets = (pg_test_app.MONITOR_PASSWORD, SUPERUSER_PASSWORD)

    def __init__(self, server: PostgresTestServer) -> None:
        self.server = server
        self.datadir = server.datadir

    def seed(self, users: int = 14, tables: int = 1) -> None:
        pg_test_app.seed(self.server, users)
        if tables == 3:
            self.sql(*self._three_tables())

    def add_users(self, count: int, prefix: str = "user", created: Sequence[datetime] = ()) -> None:
        if count <= 0:
            return
        start = int(self.server.psql('SELECT COALESCE(max(id), 0) FROM "User"', database="app"))
        rows = []
        for i in range(1, count + 1):
            at = (
                f"'{created[i - 1].strftime('%Y-%m-%d %H:%M:%S')}'"
                if i <= len(created)
                else "now() AT TIME ZONE 'UTC'"
            )
            rows.append(f"('{prefix}{start + i}@example.com', {at})")
        self.sql(f'INSERT INTO "User" (email, "createdAt") VALUES {", ".join(rows)}')

    def sql(self, *statements: str) -> None:
        self.server.psql(*statements, database="app")

    def q(self, name: str) -> str:
        return f'"{name}"'

    def grant(self, privileges: str) -> None:
        self.sql(f'GRANT {privileges} ON "User" TO {postgres_app.MONITOR}')

    def url(self) -> str:
        return pg_test_app.monitor_url(self.server)

    def stop(self) -> None:
        self.server.stop()

    def hang(self) -> None:
        self.server.pause()

    def resume(self) -> None:
        self.server.resume()

    def restart(self) -> None:
        self.server.restart()

    def swap(self) -> None:
        self.server.swap_datadir()

    def after_creation(self) -> None:
        pass  # nothing to wait for: a table made anew has a new OID

    def dump(self, path: Path) -> None:
        self.server.pg_dump("app", path)

    def dump_by_table(self, directory: Path) -> list[Path]:
        """One `pg_dump --table` a table (each with the sequence its column owns)."""
        names = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        paths = []
        for number, table in enumerate(self.server.psql(names, database="app").split()):
            path = directory / f"table-{number}.sql"
            self.server.pg_dump("app", path, "--clean", "--if-exists", f'--table="{table}"')
            paths.append(path)
        return paths

    def restore(self, path: Path) -> None:
        self.server.psql_file(path, database="app")
