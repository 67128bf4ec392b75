"""Schemas with many tables, and configurations watching many, for the benchmark of how a
cycle's cost grows with them (bench/schema.py) and the tests that pin it
(tests/test_schema_scale.py, tests/test_many_watched_tables.py).

Creating a table costs MariaDB a few milliseconds (its .frm and .ibd files, the InnoDB
dictionary): measured 3 ms a table on an idle machine, 15 ms with the machine busy, so 15,000
take one to four minutes. They go in over one connection, many statements per round trip.
On PostgreSQL (the `pg_` functions) a table costs about a millisecond, a thousand to a
transaction.
"""

import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pymysql

from bench import measure
from sidecar.demo.mariadb import MariaDBServer
from sidecar.demo.throwaway import free_port

if TYPE_CHECKING:  # the runtime package never imports the tests' cluster
    from sidecar.demo.postgres import PostgresServer

# The cycle both schema benchmarks run (the defaults of `sidecar serve`).
INTERVAL, TIMEOUT = 5.0, 2.0


def database_of(tables: int) -> str:
    """`schema_15000`: the app database holding `tables` tables."""
    return f"schema_{tables}"


@dataclass
class Incident:
    tables: int
    caught_after: float | None  # seconds from the migrated new database to /health failing
    budget: float
    reason: str


def caught_after_swap(
    db_url: str,
    tables: int,
    work: Path,
    swapped: Callable[[], AbstractContextManager[None]],
    migrate: Callable[[], None],
) -> Incident:
    """`sidecar serve` on `db_url`; after a few healthy cycles the storage is `swapped` for a
    new one that the app's `migrate` seeds with `User` and one admin; seconds until /health
    fails on the identity, within interval + timeout or not."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "SIDECAR_DB_URL": db_url,
        "SIDECAR_TABLE": "User",
        "SIDECAR_TIMESTAMP_COLUMN": "createdAt",
        "SIDECAR_STATE_DIR": str(work / "state-incident"),
        "SIDECAR_INTERVAL": f"{INTERVAL:g}s",
        "SIDECAR_TIMEOUT": f"{TIMEOUT:g}s",
        "SIDECAR_LOG_LEVEL": "warning",
        "SIDECAR_PORT": str(port),
        "SIDECAR_HOST": "127.0.0.1",
    }
    command = [sys.executable, "-m", "sidecar", "serve"]
    budget = INTERVAL + TIMEOUT
    with (
        measure.process(command, env, work / "incident.log", f"{base}/readyz"),
        httpx.Client(base_url=base, timeout=5) as client,
    ):
        time.sleep(3 * INTERVAL)  # healthy cycles: the baseline is recorded and confirmed
        with swapped():
            migrate()
            migrated = time.monotonic()
            while time.monotonic() - migrated < budget + 3 * INTERVAL:
                body = client.get("/health").json()
                identity = body["checks"]["volume:identity"][0]
                if body["status"] == "fail" and identity["status"] == "fail":
                    return Incident(tables, time.monotonic() - migrated, budget, identity["output"])
                time.sleep(0.05)
            return Incident(tables, None, budget, "not caught")


# Statements per round trip: enough to make the round trips vanish beside the work.
_PER_TRIP = 200
DDL = "CREATE TABLE IF NOT EXISTS {name} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB"
# A watched table: a timestamp column that leads an index, as Prisma's `createdAt` does.
WATCHED_DDL = (
    "CREATE TABLE IF NOT EXISTS {name} (id INT AUTO_INCREMENT PRIMARY KEY,"
    " createdAt DATETIME(3) NOT NULL, INDEX (createdAt)) ENGINE=InnoDB"
)
WATCHED_ROWS = 20


def filler_name(index: int) -> str:
    """`t00042`: the tables that fill a schema (they sort before `User`, as most do)."""
    return f"t{index:05d}"


def watched_name(index: int) -> str:
    """`w042`: the watched tables of a many-table configuration."""
    return f"w{index:03d}"


def add_tables(server: MariaDBServer, database: str, count: int, first: int = 0) -> list[str]:
    """Create `count` small InnoDB tables in `database` (existing ones are kept); their names."""
    names = [filler_name(i) for i in range(first, first + count)]
    _run(server, database, [DDL.format(name=name) for name in names])
    return names


def add_watched(server: MariaDBServer, database: str, count: int) -> list[str]:
    """`count` tables of `WATCHED_ROWS` rows each, their `createdAt` up to now; their names."""
    names = [watched_name(i) for i in range(count)]
    statements = []
    for name in names:
        statements.append(WATCHED_DDL.format(name=name))
        statements.append(
            f"INSERT INTO {name} (createdAt) SELECT NOW(3) - INTERVAL seq MINUTE"
            f" FROM seq_1_to_{WATCHED_ROWS}"
        )
    _run(server, database, statements)
    return names


def watching(names: list[str], path: Path) -> Path:
    """A SIDECAR_CONFIG file watching `names`, each by its `createdAt`."""
    entries = (f'[[tables]]\nname = "{n}"\ntimestamp_column = "createdAt"\n' for n in names)
    path.write_text("\n".join(entries))
    return path


def _run(server: MariaDBServer, database: str, statements: list[str]) -> None:
    """Statements as root, many to a round trip."""
    conn = pymysql.connect(
        host="127.0.0.1",
        port=server.port,
        user="root",
        database=database,
        autocommit=True,
        read_timeout=1800,
        client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS,
    )
    try:
        with conn.cursor() as cursor:
            for start in range(0, len(statements), _PER_TRIP):
                cursor.execute(";".join(statements[start : start + _PER_TRIP]))
                while cursor.nextset():
                    pass
    finally:
        conn.close()


# -- PostgreSQL ------------------------------------------------------------------------------
# One transaction per thousand: a table takes a lock until commit (max_locks_per_transaction).
_PG_PER_TRANSACTION = 1000
PG_DDL = "CREATE TABLE IF NOT EXISTS %I (id int PRIMARY KEY)"
PG_WATCHED = (
    'CREATE TABLE IF NOT EXISTS %1$I (id serial PRIMARY KEY, "createdAt" timestamp(3) NOT NULL);'
    ' CREATE INDEX IF NOT EXISTS %2$I ON %1$I ("createdAt");'
    " INSERT INTO %1$I (\"createdAt\") SELECT (now() AT TIME ZONE ''UTC'')"
    " - (g || '' minutes'')::interval FROM generate_series(1, {rows}) g"
)


def pg_add_tables(
    server: "PostgresServer", database: str, count: int, ddl: str = PG_DDL
) -> list[str]:
    """Create `count` small tables in `database`'s public schema (`ddl`, a format() string of
    the name); their names."""
    names = [filler_name(i) for i in range(count)]
    _pg_run(server, database, names, f"format('{ddl}', name)")
    return names


def pg_add_watched(server: "PostgresServer", database: str, count: int) -> list[str]:
    """`count` tables of `WATCHED_ROWS` rows each, `"createdAt"` indexed; their names."""
    names = [watched_name(i) for i in range(count)]
    ddl = PG_WATCHED.format(rows=WATCHED_ROWS)
    _pg_run(server, database, names, f"format('{ddl}', name, name || '_createdAt_idx')")
    return names


def _pg_run(server: "PostgresServer", database: str, names: list[str], statement: str) -> None:
    """EXECUTE `statement` (an SQL expression of `name`) for each name, as the superuser."""
    for start in range(0, len(names), _PG_PER_TRANSACTION):
        batch = ",".join(f"'{n}'" for n in names[start : start + _PG_PER_TRANSACTION])
        server.psql(
            f"DO $$ DECLARE name text; BEGIN FOREACH name IN ARRAY ARRAY[{batch}] LOOP"
            f" EXECUTE {statement}; END LOOP; END $$",
            database=database,
            timeout=1800,
        )
