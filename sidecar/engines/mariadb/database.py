"""Time-bounded, read-only access to MariaDB with errors sorted into reasons an operator reads.

The bounds and the connection handling are the engine seam's (engines/base.py `Pool`); this
module holds what is MariaDB's: aiomysql's calls, the server-side bound of each statement
(`max_statement_time`, `lock_wait_timeout` on the session, `SET STATEMENT` for a longer one)
and the error numbers.
"""

import math
from collections.abc import Sequence
from typing import Any

import aiomysql
import pymysql

from sidecar.engines.base import (
    DatabaseError,
    ErrorKind,
    Pool,
    connect_reason,
    os_error,
    timed_out,
)
from sidecar.engines.mariadb.dialect import MARIADB

# MariaDB error numbers and what they mean for us. Server messages are not passed on: some
# name the user and the host ("Access denied for user 'monitor'@'10.0.0.5'").
_CODES: dict[int, tuple[ErrorKind, str]] = {
    1044: (
        ErrorKind.PERMISSION,
        "access denied to the database: it may not exist, or the account has no grant on it",
    ),
    1045: (ErrorKind.PERMISSION, "access denied (wrong user or password)"),
    1698: (ErrorKind.PERMISSION, "access denied (wrong user or password)"),
    1142: (ErrorKind.PERMISSION, "permission denied (SELECT not granted)"),
    1143: (ErrorKind.PERMISSION, "permission denied on a column"),
    1227: (ErrorKind.PERMISSION, "permission denied (privilege missing)"),
    1146: (ErrorKind.MISSING_TABLE, "table does not exist"),
    1054: (ErrorKind.MISSING_COLUMN, "column does not exist"),
    1049: (ErrorKind.MISSING_DATABASE, "database does not exist (check its name in the URL)"),
    1969: (ErrorKind.TIMEOUT, "query timed out (max_statement_time)"),
    3024: (ErrorKind.TIMEOUT, "query timed out"),
    1205: (ErrorKind.TIMEOUT, "query timed out waiting for a lock"),
    1040: (ErrorKind.TOO_MANY_CONNECTIONS, "too many connections to the database"),
    1203: (
        ErrorKind.TOO_MANY_CONNECTIONS,
        "connection limit of the sidecar's database account reached",
    ),
    1226: (
        ErrorKind.TOO_MANY_CONNECTIONS,
        "connection limit of the sidecar's database account reached",
    ),
    2003: (ErrorKind.CONNECT, "cannot connect to the database"),
    2002: (ErrorKind.CONNECT, "cannot connect to the database socket"),
    2006: (ErrorKind.CONNECT, "lost the connection to the database"),
    2013: (ErrorKind.CONNECT, "lost the connection to the database"),
    1152: (ErrorKind.CONNECT, "connection aborted by the database"),
    1927: (ErrorKind.CONNECT, "connection killed by the database"),
}


def classify(exc: BaseException, budget: float) -> DatabaseError:
    """Turn a driver exception into a `DatabaseError` whose text carries no host or user."""
    if isinstance(exc, DatabaseError):
        return exc
    if isinstance(exc, TimeoutError):
        return timed_out(budget)
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
        kind, reason = _CODES.get(code, (ErrorKind.OTHER, "database error"))
        cause = exc.__cause__
        if kind is ErrorKind.CONNECT and isinstance(cause, OSError):
            reason = connect_reason(reason, cause)
        return DatabaseError(kind, f"{reason} (MariaDB error {code})", code)
    if isinstance(exc, OSError):
        return os_error(exc)
    return DatabaseError(ErrorKind.OTHER, f"unexpected database error ({type(exc).__name__})")


def server_budget(seconds: float) -> str:
    """`max_statement_time` for a client budget: the server stops a statement a little before
    the client would give up, so the usual timeout arrives as a clean error and the connection
    stays usable."""
    return f"{max(0.1, seconds * 0.9):.3f}"


class MariaDB(Pool[aiomysql.Connection]):
    """Connections to one MariaDB database, each call bounded by `timeout`."""

    dialect = MARIADB

    def classify(self, exc: BaseException, budget: float) -> DatabaseError:
        """MariaDB's error numbers in plain words."""
        return classify(exc, budget)

    def _init_command(self) -> str:
        parts = [
            f"max_statement_time={server_budget(self._timeout)}",
            f"lock_wait_timeout={max(1, math.ceil(self._timeout))}",
            # TIMESTAMP columns come back in UTC; DATETIME columns are taken to be UTC.
            "time_zone='+00:00'",
        ]
        command = "SET SESSION " + ", ".join(parts)
        if self._read_only:
            command += "; SET SESSION TRANSACTION READ ONLY"
        return command

    async def _connect(self) -> aiomysql.Connection:
        url = self._url
        conn = aiomysql.Connection(
            host=url.host,
            port=url.port,
            user=url.user,
            password=url.password or "",
            db=url.database,
            unix_socket=url.unix_socket,
            connect_timeout=self._timeout,
            autocommit=True,
            init_command=self._init_command(),
            client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS,
        )
        try:
            # aiomysql.connect() leaks the socket when cancelled mid-handshake (it only
            # cleans up on Exception, and CancelledError is not one), which a hung server
            # would turn into one leaked descriptor per cycle; so we own the object and
            # close it ourselves on any way out.
            await conn._connect()
        except BaseException:
            conn.close()
            raise
        return conn

    async def _fetch(
        self, conn: aiomysql.Connection, sql: str, args: Sequence[Any], budget: float
    ) -> list[Any]:
        if budget > self._timeout:
            # A longer budget than the session's (a background full count): SET STATEMENT
            # lifts max_statement_time for this one statement only.
            sql = f"SET STATEMENT max_statement_time={server_budget(budget)} FOR {sql}"
        async with conn.cursor() as cursor:
            await cursor.execute(sql, args or None)
            return list(await cursor.fetchall())

    async def _write(self, conn: aiomysql.Connection, sql: str, args: Sequence[Any]) -> int:
        async with conn.cursor() as cursor:
            return int(await cursor.execute(sql, args or None))

    def _drop(self, conn: aiomysql.Connection) -> None:
        conn.close()
