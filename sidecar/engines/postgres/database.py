"""Time-bounded, read-only access to PostgreSQL with errors sorted into reasons an operator reads.

The bounds and the connection handling are the engine seam's (engines/base.py `Pool`), on
asyncpg. The server's bound: each session starts with `statement_timeout` a little below the
client's budget, `lock_timeout`, `idle_in_transaction_session_timeout`, and
`default_transaction_read_only`, so a slow query is cancelled there rather than left running
after the client gave up, and nothing the sidecar sends can write. A connection that saw any
error or timeout is closed, never reused. Errors are sorted by SQLSTATE; the server's message
text is never passed on (it names roles and databases).
"""

import math
from collections.abc import Sequence
from typing import Any

import asyncpg

from sidecar.engines.base import DatabaseError, ErrorKind, Pool, os_error, timed_out
from sidecar.engines.postgres.dialect import POSTGRES
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
        return timed_out(budget)
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(exc, asyncpg.PostgresError) and isinstance(sqlstate, str):
        found = _CODES.get(sqlstate) or _CLASSES.get(sqlstate[:2])
        kind, reason = found or (ErrorKind.OTHER, "database error")
        return DatabaseError(kind, f"{reason} (SQLSTATE {sqlstate})")
    if isinstance(exc, asyncpg.InterfaceError):
        # asyncpg's own word for a connection it no longer has (closed under a query).
        return DatabaseError(ErrorKind.CONNECT, "lost the connection to the database")
    if isinstance(exc, OSError):
        return os_error(exc, socket_setting="host= in the URL")
    return DatabaseError(ErrorKind.OTHER, f"unexpected database error ({type(exc).__name__})")


def server_milliseconds(seconds: float) -> int:
    """`statement_timeout` for a client budget: the server cancels a statement a little before
    the client would give up, so the usual timeout arrives as a clean error (57014) rather
    than a dropped connection."""
    return max(100, int(seconds * 900))


def session_settings(timeout: float, read_only: bool) -> dict[str, str]:
    """What each session is told at start: the server-side bounds and the read-only switch."""
    statement_ms = server_milliseconds(timeout)
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


class PostgresDatabase(Pool[asyncpg.Connection]):
    """Connections to one PostgreSQL database, each call bounded by `timeout`."""

    dialect = POSTGRES

    def classify(self, exc: BaseException, budget: float) -> DatabaseError:
        """SQLSTATE codes in plain words."""
        return classify(exc, budget)

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

    async def _fetch(
        self, conn: asyncpg.Connection, sql: str, args: Sequence[Any], budget: float
    ) -> list[Any]:
        if budget <= self._timeout:
            return list(await conn.fetch(sql, *args))
        # A longer budget than the session's (a background full count): SET LOCAL lifts
        # statement_timeout for this one transaction, read-only like every other.
        async with conn.transaction(readonly=True):
            await conn.execute(f"SET LOCAL statement_timeout = {server_milliseconds(budget)}")
            return list(await conn.fetch(sql, *args))

    async def _write(self, conn: asyncpg.Connection, sql: str, args: Sequence[Any]) -> int:
        status = await conn.execute(sql, *args)
        # The command tag: "INSERT 0 1", "CREATE TABLE", "UPDATE 3": its last word if a count.
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    def _drop(self, conn: asyncpg.Connection) -> None:
        conn.terminate()
