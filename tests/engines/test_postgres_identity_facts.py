"""What a SELECT-only role can know of a PostgreSQL cluster's identity, measured on real events.

Each candidate the PostgreSQL engine may build an identity source on is read as the monitor
role (CONNECT, schema USAGE and SELECT on one table, nothing else) before and after each event,
each event on a cluster of its own state. The table below is what PostgreSQL 15 did here; the
engine trusts a candidate only for what this test pins:

events (columns): R restart; W VACUUM FULL, a rewriting ALTER TYPE, CLUSTER; M ADD COLUMN,
REINDEX, ANALYZE, DELETE; D the table dropped and created again (an older dump restored);
N a new cluster on the same port.

| candidate | R | W | M | D | N |
| --- | --- | --- | --- | --- | --- |
| `system_identifier` (pg_control_system()) | same | same | same | same | changes |
| the database's OID (pg_database) | same | same | same | same | by chance only |
| the table's OID (pg_class) | same | same | same | changes | by chance only |
| the table's relfilenode | same | changes | same | changes | by chance only |
| pg_postmaster_start_time() | changes | same | same | same | changes |

So: `system_identifier` is the strong storage source (the `datadir` of MariaDB, without a grant);
the watched tables' OIDs play the role MariaDB's CREATE_TIME plays for `schema`, and better, since
no ALTER moves them; relfilenode and the start time are not identities.
"""

import os
import subprocess
from collections.abc import Callable, Iterator

import pytest

from sidecar.demo.postgres import bin_dir
from tests.support.postgres_server import PostgresTestServer

MONITOR, MONITOR_PASSWORD = "monitor", "Pg-Mon1tor-Secret-5e0d"
CANDIDATES = {
    "system_identifier": "SELECT system_identifier FROM pg_control_system()",
    "database_oid": "SELECT oid FROM pg_database WHERE datname = current_database()",
    "table_oid": "SELECT 'public.\"User\"'::regclass::oid",
    "relfilenode": "SELECT relfilenode FROM pg_class WHERE oid = 'public.\"User\"'::regclass",
    "start_time": "SELECT pg_postmaster_start_time()",
}


def _seed(server: PostgresTestServer) -> None:
    server.psql("CREATE DATABASE app")
    server.psql(
        'CREATE TABLE "User" (id serial PRIMARY KEY, email text NOT NULL)',
        "INSERT INTO \"User\" (email) SELECT 'u' || g FROM generate_series(1, 14) g",
        f"DO $$ BEGIN CREATE ROLE {MONITOR} LOGIN PASSWORD '{MONITOR_PASSWORD}';"
        " EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        f"GRANT CONNECT ON DATABASE app TO {MONITOR}",
        f"GRANT USAGE ON SCHEMA public TO {MONITOR}",
        f'GRANT SELECT ON "User" TO {MONITOR}',
        database="app",
    )


def _read(server: PostgresTestServer) -> dict[str, str]:
    """Every candidate, as the monitor role sees it."""
    values = {}
    for name, sql in CANDIDATES.items():
        done = subprocess.run(
            [str(bin_dir() / "psql"), "-X", "-At", "-h", "127.0.0.1", "-p", str(server.port),
             "-U", MONITOR, "-d", "app", "-c", sql],
            capture_output=True, text=True, timeout=30, check=False,
            env={"PATH": os.environ["PATH"], "PGPASSWORD": MONITOR_PASSWORD},
        )  # fmt: skip
        assert done.returncode == 0, (name, done.stderr)
        values[name] = done.stdout.strip()
    return values


def _app(statement: str) -> Callable[[PostgresTestServer], None]:
    def run(server: PostgresTestServer) -> None:
        server.psql(statement, database="app")

    return run


def _recreate(server: PostgresTestServer) -> None:
    """An older dump loaded over the data: the table dropped, created and filled again."""
    server.psql('DROP TABLE "User"', database="app")
    _seed_table_only(server)


def _seed_table_only(server: PostgresTestServer) -> None:
    server.psql(
        'CREATE TABLE "User" (id serial PRIMARY KEY, email text NOT NULL)',
        "INSERT INTO \"User\" (email) SELECT 'u' || g FROM generate_series(1, 10) g",
        f'GRANT SELECT ON "User" TO {MONITOR}',
        database="app",
    )


def _new_cluster(server: PostgresTestServer) -> None:
    server.swap_datadir()
    _seed(server)


EVENTS: dict[str, tuple[Callable[[PostgresTestServer], None], set[str]]] = {
    # event: (what is done, the candidates that change)
    "restart": (lambda server: server.restart(), {"start_time"}),
    "VACUUM FULL": (_app('VACUUM FULL "User"'), {"relfilenode"}),
    "ALTER TYPE (rewrite)": (
        _app('ALTER TABLE "User" ALTER COLUMN email TYPE varchar(320)'), {"relfilenode"}
    ),
    "CLUSTER": (_app('CLUSTER "User" USING "User_pkey"'), {"relfilenode"}),
    "ADD COLUMN": (_app('ALTER TABLE "User" ADD COLUMN nickname text'), set()),
    "REINDEX": (_app('REINDEX TABLE "User"'), set()),
    "ANALYZE": (_app('ANALYZE "User"'), set()),
    "DELETE": (_app('DELETE FROM "User" WHERE id > 10'), set()),
    "table recreated": (_recreate, {"table_oid", "relfilenode"}),
    "new cluster": (_new_cluster, {"system_identifier", "start_time"}),
}  # fmt: skip


@pytest.fixture
def cluster() -> Iterator[PostgresTestServer]:
    server = PostgresTestServer()
    server.start()
    _seed(server)
    try:
        yield server
    finally:
        server.remove()


@pytest.mark.parametrize("event", list(EVENTS))
def test_which_candidates_an_event_moves(cluster: PostgresTestServer, event: str) -> None:
    act, moved = EVENTS[event]
    before = _read(cluster)
    act(cluster)
    after = _read(cluster)
    changed = {name for name in CANDIDATES if before[name] != after[name]}
    if event == "new cluster":
        # a fresh cluster hands out OIDs from the same start: the same OIDs come back, so
        # an OID never tells one cluster from another (only system_identifier does)
        changed -= {"database_oid", "table_oid", "relfilenode"}
    assert changed == moved, (event, before, after)
