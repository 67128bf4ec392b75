"""PostgreSQL access: bounded twice, read-only, errors in plain words, against real clusters."""

import asyncio
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from sidecar.engines.base import ErrorKind
from sidecar.engines.postgres.database import PostgresDatabase, classify
from sidecar.engines.postgres.url import parse_postgres_url
from tests.support.postgres_server import PostgresTestServer

MONITOR, MONITOR_PASSWORD = "monitor", "Pg-Mon1tor-Secret-9a3c"


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresTestServer]:
    """One cluster for the module: an app database, a "User" table, a SELECT-only role."""
    server = PostgresTestServer()
    server.start()
    server.psql("CREATE DATABASE app")
    server.psql(
        'CREATE TABLE "User" (id serial PRIMARY KEY, "createdAt" timestamptz DEFAULT now())',
        'INSERT INTO "User" DEFAULT VALUES',
        "CREATE TABLE secret (id int)",
        f"CREATE ROLE {MONITOR} LOGIN PASSWORD '{MONITOR_PASSWORD}'",
        f'GRANT SELECT ON "User" TO {MONITOR}',
        database="app",
    )
    try:
        yield server
    finally:
        server.remove()


def _db(
    server: PostgresTestServer, timeout: float = 2.0, change: dict[str, Any] | None = None
) -> PostgresDatabase:
    parsed = replace(parse_postgres_url(server.url(MONITOR, MONITOR_PASSWORD)), **(change or {}))
    return PostgresDatabase(parsed, timeout)


async def _reason(db: PostgresDatabase, sql: str) -> tuple[ErrorKind, str]:
    try:
        await db.query(sql)
    except Exception as exc:
        kind, reason = getattr(exc, "kind", None), getattr(exc, "reason", str(exc))
        assert kind is not None, exc
        return kind, reason
    finally:
        db.close()
    raise AssertionError(f"{sql} did not fail")


def _secret_free(reason: str, server: PostgresTestServer) -> None:
    for secret in (MONITOR, MONITOR_PASSWORD, "127.0.0.1", str(server.port)):
        assert secret not in reason, (secret, reason)


async def test_a_select_only_role_reads_and_counts_its_statements(
    cluster: PostgresTestServer,
) -> None:
    db = _db(cluster)
    result = await db.query('SELECT count(*) FROM "User" WHERE id >= $1', [1])
    again = await db.query("SELECT 1")
    db.close()
    assert result.rows == [(1,)] and again.rows == [(1,)]
    assert db.queries == 2
    assert result.seconds < 2


async def test_the_session_is_read_only_and_bounded_by_the_server(
    cluster: PostgresTestServer,
) -> None:
    db = _db(cluster)
    rows = (
        await db.query(
            "SELECT current_setting('default_transaction_read_only'),"
            " current_setting('statement_timeout'), current_setting('lock_timeout'),"
            " current_setting('idle_in_transaction_session_timeout'), current_setting('TimeZone')"
        )
    ).rows
    db.close()
    assert rows == [("on", "1800ms", "1800ms", "4s", "UTC")]
    # even a table the role could write would refuse: the session itself is read-only
    cluster.psql(f'GRANT INSERT ON "User" TO {MONITOR}', database="app")
    try:
        kind, reason = await _reason(_db(cluster), 'INSERT INTO "User" DEFAULT VALUES')
    finally:
        cluster.psql(f'REVOKE INSERT ON "User" FROM {MONITOR}', database="app")
    assert (kind, reason) == (
        ErrorKind.PERMISSION,
        "the sidecar's session is read-only (SQLSTATE 25006)",
    )


async def test_a_slow_statement_is_cancelled_by_the_server_first(
    cluster: PostgresTestServer,
) -> None:
    db = _db(cluster, timeout=1.0)
    began = time.monotonic()
    kind, reason = await _reason(db, "SELECT pg_sleep(10)")
    assert (kind, reason) == (
        ErrorKind.TIMEOUT,
        "query timed out (statement_timeout) (SQLSTATE 57014)",
    )
    assert time.monotonic() - began < 1.5


@pytest.mark.parametrize(
    ("sql", "kind", "reason"),
    [
        (
            "SELECT * FROM secret",
            ErrorKind.PERMISSION,
            "permission denied (SELECT not granted) (SQLSTATE 42501)",
        ),
        (
            'SELECT * FROM "Missing"',
            ErrorKind.MISSING_TABLE,
            "table does not exist (SQLSTATE 42P01)",
        ),
        (
            'SELECT nope FROM "User"',
            ErrorKind.MISSING_COLUMN,
            "column does not exist (SQLSTATE 42703)",
        ),
        # quoted names are case-sensitive: "user" is not "User"
        ('SELECT * FROM "user"', ErrorKind.MISSING_TABLE, "table does not exist (SQLSTATE 42P01)"),
    ],
)
async def test_query_errors_in_plain_words(
    cluster: PostgresTestServer, sql: str, kind: ErrorKind, reason: str
) -> None:
    got = await _reason(_db(cluster), sql)
    assert got == (kind, reason)
    _secret_free(got[1], cluster)


@pytest.mark.parametrize(
    ("change", "kind", "words"),
    [
        ({"password": "wrong"}, ErrorKind.PERMISSION, "wrong user or password"),
        ({"user": "nobody"}, ErrorKind.PERMISSION, "wrong user or password"),
        ({"database": "nosuchdb"}, ErrorKind.MISSING_DATABASE, "database does not exist"),
    ],
)
async def test_connection_errors_in_plain_words_naming_no_one(
    cluster: PostgresTestServer, change: dict[str, str], kind: ErrorKind, words: str
) -> None:
    got_kind, reason = await _reason(_db(cluster, change=change), "SELECT 1")
    assert got_kind is kind and words in reason
    _secret_free(reason, cluster)
    assert "nobody" not in reason and "nosuchdb" not in reason


async def test_a_connection_limit_is_named(cluster: PostgresTestServer) -> None:
    cluster.psql(f"ALTER ROLE {MONITOR} CONNECTION LIMIT 0")
    try:
        kind, reason = await _reason(_db(cluster), "SELECT 1")
    finally:
        cluster.psql(f"ALTER ROLE {MONITOR} CONNECTION LIMIT -1")
    assert kind is ErrorKind.TOO_MANY_CONNECTIONS and "SQLSTATE 53300" in reason


async def test_a_socket_directory_and_sslmode_in_the_url(cluster: PostgresTestServer) -> None:
    url = f"postgresql://{MONITOR}:{MONITOR_PASSWORD}@/app?host={cluster.sockets}&sslmode=disable"
    parsed = parse_postgres_url(url.replace("@/", f"@localhost:{cluster.port}/"))
    db = PostgresDatabase(parsed, 2.0)
    rows = (await db.query("SELECT inet_server_addr() IS NULL")).rows  # NULL over a socket
    db.close()
    assert rows == [(True,)]


async def test_a_restart_needs_no_new_database_object(cluster: PostgresTestServer) -> None:
    db = _db(cluster)
    await db.query("SELECT 1")  # leaves an idle connection, which the restart kills
    cluster.restart()
    assert (await db.query("SELECT 1")).rows == [(1,)]
    db.close()


async def test_a_hung_cluster_costs_one_budget_and_leaks_no_socket(
    cluster: PostgresTestServer,
) -> None:
    db = _db(cluster, timeout=0.5)
    await db.query("SELECT 1")
    db.close()
    before = len(os.listdir("/proc/self/fd"))
    cluster.pause()
    try:
        for _ in range(10):
            began = time.monotonic()
            kind, reason = await _reason(db, "SELECT 1")
            assert kind is ErrorKind.TIMEOUT and "timed out" in reason
            assert time.monotonic() - began < 1.0
        await asyncio.sleep(0)
        assert len(os.listdir("/proc/self/fd")) <= before + 1
    finally:
        cluster.resume()
    assert (await db.query("SELECT 1")).rows == [(1,)]
    db.close()


async def test_a_stopped_cluster_is_connection_refused(cluster: PostgresTestServer) -> None:
    cluster.stop()
    try:
        kind, reason = await _reason(_db(cluster), "SELECT 1")
    finally:
        cluster.start()
    assert kind is ErrorKind.CONNECT and "connection refused" in reason
    _secret_free(reason, cluster)


@pytest.mark.parametrize(
    ("exc", "kind", "words"),
    [
        (
            asyncpg.exceptions.CannotConnectNowError(),
            ErrorKind.CONNECT,
            "starting up, shutting down or in recovery",
        ),
        (asyncpg.exceptions.AdminShutdownError(), ErrorKind.CONNECT, "shutting down"),
        (asyncpg.exceptions.CrashShutdownError(), ErrorKind.CONNECT, "crashed"),
        (asyncpg.exceptions.TooManyConnectionsError(), ErrorKind.TOO_MANY_CONNECTIONS, "too many"),
        (asyncpg.exceptions.LockNotAvailableError(), ErrorKind.TIMEOUT, "lock_timeout"),
        (
            asyncpg.exceptions.ConnectionDoesNotExistError(),
            ErrorKind.CONNECT,
            "lost the connection",
        ),
        (asyncpg.exceptions.DiskFullError(), ErrorKind.OTHER, "out of resources"),
        (
            asyncpg.exceptions.DivisionByZeroError(),
            ErrorKind.OTHER,
            "database error (SQLSTATE 22012)",
        ),
        (
            asyncpg.exceptions.InvalidSchemaNameError(),
            ErrorKind.MISSING_TABLE,
            "schema does not exist",
        ),
        (asyncpg.exceptions.InterfaceError("closed"), ErrorKind.CONNECT, "lost the connection"),
        (TimeoutError(), ErrorKind.TIMEOUT, "no answer within 2s"),
        (ValueError("odd"), ErrorKind.OTHER, "unexpected database error (ValueError)"),
    ],
)
def test_every_sqlstate_class_has_a_kind(exc: BaseException, kind: ErrorKind, words: str) -> None:
    got = classify(exc, 2.0)
    assert got.kind is kind and words in got.reason
