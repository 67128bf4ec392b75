"""Time-bounded, read-only access to PostgreSQL with errors sorted into reasons an operator reads.

The same guarantees as MariaDB's `sidecar/database.py`, on asyncpg. Every call is bounded twice:
by the client (`asyncio.timeout`), so a hung server (SIGSTOP, a dead network path) cannot hold a
cycle, and by the server: each session starts with `statement_timeout` a little below the
client's budget, `lock_timeout`, `idle_in_transaction_session_timeout`, and
`default_transaction_read_only`, so a slow query is cancelled there rather than left running
after the client gave up, and nothing the sidecar sends can write. A connection that saw any
error or timeout is closed, never reused. Errors are sorted by SQLSTATE; the server's message
text is never passed on (it names roles and databases).
"""

import asyncio
import math
from collections.abc import Sequence
from typing import Any

import asyncpg

from sidecar.database import (
    _CONNECTION_LIMIT,
    DatabaseError,
    ErrorKind,
    QueryResult,
    _bounded,
    _connect_reason,
)
from sidecar.dburl import DatabaseURL
from sidecar.engines.postgres.url import SSLMODES

# SQLSTATE codes and what they mean for us (PostgreSQL's errcodes.txt). Classes are matched
# after exact codes: 08 is any connection exception, 53 insufficient resources, 57P any
# operator intervention that ends the session.
_CODES: dict[str, tuple[ErrorKind, str]] = {
    "28P01": (ErrorKind.PERMISSION, "access denied (wrong user or password)"),
    "28000": (
        ErrorKind.PERMISSION,
        "access denied (no such role, or pg_hba.conf allows it no connection)",
    ),
    "3D000": (ErrorKind.MISSING_DATABASE, "database does not exist (check its name in the URL)"),
    "42501": (ErrorKind.PERMISSION, "permission denied (SELECT not granted)"),
    "42P01": (ErrorKind.MISSING_TABLE, "table does not exist"),
    "3F000": (ErrorKind.MISSING_TABLE, "schema does not exist"),
    "42703": (ErrorKind.MISSING_COLUMN, "column does not exist"),
    "57014": (ErrorKind.TIMEOUT, "query timed out (statement_timeout)"),
    "55P03": (ErrorKind.TIMEOUT, "query timed out waiting for a lock (lock_timeout)"),
    "53300": (ErrorKind.TOO_MANY_CONNECTIONS, "too many connections to the database"),
    "57P03": (
        ErrorKind.CONNECT,
        "the database is not accepting connections yet (starting up, shutting down or in recovery)",
    ),
    "57P01": (ErrorKind.CONNECT, "connection closed: the database is shutting down"),
    "57P02": (ErrorKind.CONNECT, "connection closed: the database crashed and is restarting"),
    "25006": (ErrorKind.PERMISSION, "the sidecar's session is read-only"),
    "25P03": (ErrorKind.CONNECT, "connection closed by idle_in_transaction_session_timeout"),
}
_CLASSES: dict[str, tuple[ErrorKind, str]] = {
    "08": (ErrorKind.CONNECT, "lost the connection to the database"),
    "53": (ErrorKind.OTHER, "the database is out of resources (disk, memory or connections)"),
    "57": (ErrorKind.CONNECT, "the database ended the session"),
}


def classify(exc: BaseException, budget: float) -> DatabaseError:
    """Turn an asyncpg or socket exception into a `DatabaseError` naming no host or user."""
    if isinstance(exc, DatabaseError):
        return exc
    if isinstance(exc, TimeoutError):
        return DatabaseError(ErrorKind.TIMEOUT, f"no answer within {budget:g}s (timed out)")
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(exc, asyncpg.PostgresError) and isinstance(sqlstate, str):
        found = _CODES.get(sqlstate) or _CLASSES.get(sqlstate[:2])
        kind, reason = found or (ErrorKind.OTHER, "database error")
        return DatabaseError(kind, f"{reason} (SQLSTATE {sqlstate})")
    if isinstance(exc, asyncpg.InterfaceError):
        # asyncpg's own word for a connection it no longer has (closed under a query).
        return DatabaseError(ErrorKind.CONNECT, "lost the connection to the database")
    if isinstance(exc, OSError):
        return DatabaseError(
            ErrorKind.CONNECT, _connect_reason("cannot connect to the database", exc)
        )
    return DatabaseError(ErrorKind.OTHER, f"unexpected database error ({type(exc).__name__})")


def session_settings(timeout: float, read_only: bool) -> dict[str, str]:
    """What each session is told at start: the server-side bounds and the read-only switch."""
    # The server cancels a statement a little before the client would give up, so the usual
    # timeout arrives as a clean error (57014) rather than a dropped connection.
    statement_ms = max(100, int(timeout * 900))
    settings = {
        "statement_timeout": str(statement_ms),
        "lock_timeout": str(statement_ms),
        "idle_in_transaction_session_timeout": str(max(1000, math.ceil(timeout * 2000))),
        "application_name": "sidecar",
        # timestamptz comes back as an aware UTC datetime whatever the server's zone; a
        # plain timestamp is taken to be UTC, as DATETIME is on MariaDB.
        "TimeZone": "UTC",
    }
    if read_only:
        settings["default_transaction_read_only"] = "on"
    return settings


class PostgresDatabase:
    """A small set of connections to one PostgreSQL database, each call bounded by `timeout`."""

    def __init__(self, url: DatabaseURL, timeout: float, read_only: bool = True) -> None:
        self._url = url
        self._timeout = timeout
        self._read_only = read_only
        self._idle: list[asyncpg.Connection] = []
        self._slots = asyncio.Semaphore(_CONNECTION_LIMIT)
        self.queries = 0  # statements sent, for tests and benchmarks

    @property
    def name(self) -> str:
        """The database the checks look at."""
        return self._url.database

    @property
    def timeout(self) -> float:
        """The budget of one call, in seconds."""
        return self._timeout

    async def _connect(self) -> asyncpg.Connection:
        url = self._url
        # No sslmode in the URL: no TLS asked for (libpq would `prefer` it; a sidecar beside its
        # database on a private network does not need it, and the URL says when it does).
        ssl_arg = SSLMODES.get(url.sslmode or "disable", "disable")
        return await asyncpg.connect(
            host=url.unix_socket or url.host,
            port=url.port,
            user=url.user,
            password=url.password,
            database=url.database,
            timeout=self._timeout,
            ssl=ssl_arg,
            # No prepared-statement cache: each check's statement is sent a few times a
            # minute at most, and a cache would outlive DDL the app runs (cached plan errors).
            statement_cache_size=0,
            server_settings=session_settings(self._timeout, self._read_only),
        )

    async def query(
        self, sql: str, args: Sequence[Any] | None = None, timeout: float | None = None
    ) -> QueryResult:
        """Run one read-only statement; raise `DatabaseError` on failure or timeout."""
        budget = timeout or self._timeout
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with _bounded(budget), self._slots:
            while self._idle:
                # An idle connection may have died with a server restart: that is no news
                # about the database, so try the next, then a fresh one.
                try:
                    rows = await self._run(self._idle.pop(), sql, args, budget)
                    return QueryResult(rows, loop.time() - started)
                except DatabaseError as exc:
                    if exc.kind is not ErrorKind.CONNECT:
                        raise
            rows = await self._run(None, sql, args, budget)
        return QueryResult(rows, loop.time() - started)

    async def _run(
        self,
        conn: asyncpg.Connection | None,
        sql: str,
        args: Sequence[Any] | None,
        budget: float,
    ) -> list[tuple[Any, ...]]:
        try:
            if conn is None:
                conn = await self._connect()
            self.queries += 1
            records = await conn.fetch(sql, *(args or ()))
        except BaseException as exc:
            if conn is not None:
                conn.terminate()
            # A CancelledError (our own timeout, or shutdown) propagates untouched.
            if isinstance(exc, Exception):
                raise classify(exc, budget) from exc
            raise
        if len(self._idle) < _CONNECTION_LIMIT:
            self._idle.append(conn)
        else:
            conn.terminate()
        return [tuple(record) for record in records]

    async def execute(self, sql: str, args: Sequence[Any] | None = None) -> int:
        """Run one writing statement (used only by `sidecar adopt`); return affected rows."""
        if self._read_only:
            raise DatabaseError(ErrorKind.PERMISSION, "this connection is read-only")
        async with _bounded(self._timeout):
            try:
                conn = await self._connect()
            except Exception as exc:
                raise classify(exc, self._timeout) from exc
            try:
                self.queries += 1
                status = await conn.execute(sql, *(args or ()))
            except Exception as exc:
                raise classify(exc, self._timeout) from exc
            finally:
                conn.terminate()
        # The command tag: "INSERT 0 1", "CREATE TABLE", "UPDATE 3": its last word if a count.
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    def close(self) -> None:
        """Drop every idle connection."""
        while self._idle:
            self._idle.pop().terminate()
