"""Time-bounded, read-only access to MariaDB with errors sorted into reasons an operator reads.

Every call is bounded twice: by the client (`asyncio.timeout`), so a hung server (SIGSTOP, a
dead network path) cannot hold a cycle, and by the server (`max_statement_time`,
`lock_wait_timeout`), so a slow query is aborted there rather than left running after the
client gave up. A connection that saw any error or timeout is closed, never reused.
"""

import asyncio
import contextlib
import errno
import math
import os
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiomysql
import pymysql

from sidecar.dburl import DatabaseURL

# At most this many connections at once, and as many kept idle between cycles: enough for the
# checks of a cycle to overlap, few enough for `MAX_USER_CONNECTIONS 10` on the monitoring
# account, and a hung server never collects more than this many half-open sockets from us.
_CONNECTION_LIMIT = 4


class ErrorKind(StrEnum):
    """Why a database call failed, as far as an operator needs to know."""

    CONNECT = "connect"
    TIMEOUT = "timeout"
    PERMISSION = "permission"
    MISSING_TABLE = "missing_table"
    MISSING_COLUMN = "missing_column"
    MISSING_DATABASE = "missing_database"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    OTHER = "other"


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


@contextlib.asynccontextmanager
async def _bounded(budget: float) -> AsyncIterator[None]:
    """asyncio.timeout() whose TimeoutError arrives as a `DatabaseError` of kind TIMEOUT."""
    try:
        async with asyncio.timeout(budget):
            yield
    except TimeoutError:
        raise classify(TimeoutError(), budget) from None


class DatabaseError(Exception):
    """A failed database call: `kind` for logic, `reason` (safe to show) for people."""

    def __init__(self, kind: ErrorKind, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.code = code


def classify(exc: BaseException, budget: float) -> DatabaseError:
    """Turn a driver exception into a `DatabaseError` whose text carries no host or user."""
    if isinstance(exc, DatabaseError):
        return exc
    if isinstance(exc, TimeoutError):
        return DatabaseError(ErrorKind.TIMEOUT, f"no answer within {budget:g}s (timed out)")
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
        kind, reason = _CODES.get(code, (ErrorKind.OTHER, "database error"))
        cause = exc.__cause__
        if kind is ErrorKind.CONNECT and isinstance(cause, OSError):
            reason = _connect_reason(reason, cause)
        return DatabaseError(kind, f"{reason} (MariaDB error {code})", code)
    if isinstance(exc, OSError):
        detail = f": {os.strerror(exc.errno).lower()}" if exc.errno else ""
        return DatabaseError(ErrorKind.CONNECT, f"cannot connect to the database{detail}")
    return DatabaseError(ErrorKind.OTHER, f"unexpected database error ({type(exc).__name__})")


def _connect_reason(reason: str, cause: OSError) -> str:
    """Why a connection failed, in words that point at the typo; never the host's name."""
    # os.strerror, not the exception's text: asyncio's names the host and port.
    if isinstance(cause, socket.gaierror):
        return "cannot resolve the database host's name (check the host in the URL)"
    if cause.errno == errno.ECONNREFUSED:
        return f"{reason}: connection refused (is it running, and on that port?)"
    if cause.errno == errno.ENOENT:
        return "cannot connect to the database socket: it does not exist (check unix_socket)"
    if cause.errno:
        return f"{reason}: {os.strerror(cause.errno).lower()}"
    return reason


@dataclass(frozen=True)
class QueryResult:
    """Rows of one query and how long it took."""

    rows: list[tuple[Any, ...]]
    seconds: float


class Database:
    """A small set of connections to one database, each call bounded by `timeout`."""

    def __init__(self, url: DatabaseURL, timeout: float, read_only: bool = True) -> None:
        self._url = url
        self._timeout = timeout
        self._read_only = read_only
        self._idle: list[aiomysql.Connection] = []
        self._slots = asyncio.Semaphore(_CONNECTION_LIMIT)
        self.queries = 0  # statements sent, for tests and benchmarks

    @property
    def name(self) -> str:
        """The database (schema) the checks look at."""
        return self._url.database

    @property
    def timeout(self) -> float:
        """The budget of one call, in seconds."""
        return self._timeout

    def _init_command(self) -> str:
        # The server stops a statement a little before the client would give up, so the
        # usual timeout arrives as a clean error and the connection stays usable.
        server_budget = max(0.1, self._timeout * 0.9)
        parts = [
            f"max_statement_time={server_budget:.3f}",
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

    async def query(
        self, sql: str, args: Sequence[Any] | None = None, timeout: float | None = None
    ) -> QueryResult:
        """Run one read-only statement; raise `DatabaseError` on failure or timeout."""
        budget = timeout or self._timeout
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with _bounded(budget), self._slots:
            while self._idle:
                # An idle connection may have died with a server restart or wait_timeout:
                # that is no news about the database, so try the next, then a fresh one.
                try:
                    rows = await self._run(self._idle.pop(), sql, args, budget)
                    return QueryResult(rows, loop.time() - started)
                except DatabaseError as exc:
                    if exc.kind is not ErrorKind.CONNECT:
                        raise
            rows = await self._run(None, sql, args, budget)
        return QueryResult(rows, loop.time() - started)

    async def _run(
        self, conn: aiomysql.Connection | None, sql: str, args: Sequence[Any] | None, budget: float
    ) -> list[tuple[Any, ...]]:
        try:
            if conn is None:
                conn = await self._connect()
            async with conn.cursor() as cursor:
                self.queries += 1
                await cursor.execute(sql, args)
                rows = list(await cursor.fetchall())
        except BaseException as exc:
            if conn is not None:
                conn.close()
            # A CancelledError (our own timeout, or shutdown) propagates untouched.
            if isinstance(exc, Exception):
                raise classify(exc, budget) from exc
            raise
        if len(self._idle) < _CONNECTION_LIMIT:
            self._idle.append(conn)
        else:
            conn.close()
        return rows

    async def execute(self, sql: str, args: Sequence[Any] | None = None) -> int:
        """Run one writing statement (used only by `sidecar adopt`); return affected rows."""
        if self._read_only:
            raise DatabaseError(ErrorKind.PERMISSION, "this connection is read-only")
        async with _bounded(self._timeout):
            conn = await self._connect()
            try:
                async with conn.cursor() as cursor:
                    self.queries += 1
                    return int(await cursor.execute(sql, args))
            finally:
                conn.close()

    def close(self) -> None:
        """Drop every idle connection."""
        while self._idle:
            self._idle.pop().close()
