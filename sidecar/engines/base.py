"""What every database engine gives the checks: bounded connections, one error taxonomy, and a
dialect for the SQL and server knowledge that differ between engines.

The checks and identity sources see only this module. An engine (engines/mariadb/,
engines/postgres/) supplies three things, as SQLAlchemy's dialects and mysqld_exporter's
collectors each put one server's knowledge in one place:

- a `Pool` subclass: how to connect, fetch and drop a connection (the driver's calls);
  the idle-connection retry, the connection limit and both time bounds live here once;
- a `classify` of the driver's exceptions into `DatabaseError` (kinds below, plain words that
  never name a host, a user or a password);
- a `Dialect`: quoting, the catalogue lookups (row estimates, creation, indexes), the privileges
  that would let the account write, and which identity sources the server can answer.
"""

import asyncio
import contextlib
import errno
import os
import socket
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from sidecar.dburl import DatabaseURL

if TYPE_CHECKING:  # the sources import this module for `Database`
    from sidecar.identity.source import Source

# At most this many connections at once, and as many kept idle between cycles: enough for the
# checks of a cycle to overlap, few enough for a connection limit of 10 on the monitoring
# account, and a hung server never collects more than this many half-open sockets from us.
CONNECTION_LIMIT = 4

# Names asked for in one statement: 17 exact catalogue lookups took 1.7 ms and 100 took 13 ms
# at 15,000 tables on MariaDB (a table opened per branch); the bound keeps one statement well
# inside any cycle's budget.
GROUP = 100

C = TypeVar("C")
T = TypeVar("T")


def groups(items: Sequence[T], size: int = GROUP) -> Iterable[Sequence[T]]:
    """`items` in consecutive groups of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


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


class DatabaseError(Exception):
    """A failed database call: `kind` for logic, `reason` (safe to show) for people."""

    def __init__(self, kind: ErrorKind, reason: str, code: int | str | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.code = code


def timed_out(budget: float) -> DatabaseError:
    """The client's own deadline passed."""
    return DatabaseError(ErrorKind.TIMEOUT, f"no answer within {budget:g}s (timed out)")


@contextlib.asynccontextmanager
async def bounded(budget: float) -> AsyncIterator[None]:
    """asyncio.timeout() whose TimeoutError arrives as a `DatabaseError` of kind TIMEOUT."""
    try:
        async with asyncio.timeout(budget):
            yield
    except TimeoutError:
        raise timed_out(budget) from None


def connect_reason(reason: str, cause: OSError, socket_setting: str = "unix_socket") -> str:
    """Why a connection failed, in words that point at the typo (`socket_setting`: the URL's
    parameter naming the socket); never the host's name."""
    # os.strerror, not the exception's text: asyncio's names the host and port.
    if isinstance(cause, socket.gaierror):
        return "cannot resolve the database host's name (check the host in the URL)"
    if cause.errno == errno.ECONNREFUSED:
        return f"{reason}: connection refused (is it running, and on that port?)"
    if cause.errno == errno.ENOENT:
        return f"cannot connect to the database socket: it does not exist (check {socket_setting})"
    if cause.errno:
        return f"{reason}: {os.strerror(cause.errno).lower()}"
    return reason


def os_error(exc: OSError, socket_setting: str = "unix_socket") -> DatabaseError:
    """A socket error raised before the driver could say anything."""
    reason = connect_reason("cannot connect to the database", exc, socket_setting)
    return DatabaseError(ErrorKind.CONNECT, reason)


@dataclass(frozen=True)
class QueryResult:
    """Rows of one query and how long it took."""

    rows: list[tuple[Any, ...]]
    seconds: float


@dataclass(frozen=True)
class TableEntry:
    """One table as the server's catalogue shows it."""

    name: str
    base_table: bool  # False for a view
    rows: int | None  # the server's row estimate, when it keeps a usable one
    created: float | None  # when the table was created, epoch seconds (MariaDB only)
    # What changes when the table is created anew, whatever the engine: CREATE_TIME's text on
    # MariaDB, the table's OID on PostgreSQL (it has no creation time). None: not known.
    generation: str | None = None


class Catalogue(Protocol):
    """What an engine's catalogue module answers (engines/<engine>/catalogue.py)."""

    async def lookup(
        self, db: "Database", names: Iterable[str], schema: str | None = None
    ) -> dict[str, TableEntry]: ...

    async def list_tables(self, db: "Database", limit: int) -> list[str]: ...

    async def leading_index(
        self, db: "Database", columns: Sequence[tuple[str, str]]
    ) -> set[tuple[str, str]]: ...


class Dialect(ABC):
    """The SQL text and the server knowledge of one engine."""

    name: ClassVar[str]  # "MariaDB", "PostgreSQL": as operators say it
    estimate: ClassVar[str]  # what the row estimate is called: "InnoDB estimate"
    scheme: ClassVar[str]  # the URL scheme the engine is known by in a DatabaseURL

    @abstractmethod
    def quote(self, name: str) -> str:
        """`name` as an identifier in this engine's SQL (validated first: never executed raw)."""

    # The engine's catalogue reads: its `engines/<engine>/catalogue.py` module.
    catalogue: ClassVar["Catalogue"]

    async def lookup(
        self, db: "Database", names: Iterable[str], schema: str | None = None
    ) -> dict[str, TableEntry]:
        """The catalogue entries of the named tables that exist and the account may see."""
        return await self.catalogue.lookup(db, names, schema)

    async def list_tables(self, db: "Database", limit: int) -> list[str]:
        """The first `limit` tables: lists the schema, so call it at a slow cadence."""
        return await self.catalogue.list_tables(db, limit)

    async def leading_index(
        self, db: "Database", columns: Sequence[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """Which (table, column) pairs lead an index of their table."""
        return await self.catalogue.leading_index(db, columns)

    @abstractmethod
    async def similar_names(self, db: "Database", name: str) -> tuple[str, ...]:
        """Tables of the current schema whose names equal `name` but for case (lists it)."""

    @abstractmethod
    async def writing_privileges(self, db: "Database") -> tuple[str, ...]:
        """What lets the account change the app database's data or structure, sorted."""

    @abstractmethod
    def identity_sources(self) -> "tuple[type[Source], ...]":
        """The identity sources this server can answer, strongest first."""

    @abstractmethod
    def sentinel_statements(self, table: str) -> tuple[str, str]:
        """(create the sentinel table if absent, insert its one id given as the only argument)."""


class Pool(ABC, Generic[C]):
    """A small set of connections to one database, each call bounded by `timeout`.

    Every call is bounded twice: here by the client (`asyncio.timeout`), so a hung server
    (SIGSTOP, a dead network path) cannot hold a cycle, and by the server, which the engine
    tells the budget of each statement (`_fetch`), so a slow query is aborted there rather than
    left running after the client gave up. A connection that saw any error or timeout is
    closed, never reused.
    """

    dialect: Dialect

    def __init__(self, url: DatabaseURL, timeout: float, read_only: bool = True) -> None:
        self._url = url
        self._timeout = timeout
        self._read_only = read_only
        self._idle: list[C] = []
        self._slots = asyncio.Semaphore(CONNECTION_LIMIT)
        self.queries = 0  # statements sent, for tests and benchmarks

    @property
    def name(self) -> str:
        """The database the checks look at."""
        return self._url.database

    @property
    def timeout(self) -> float:
        """The budget of one call, in seconds."""
        return self._timeout

    @abstractmethod
    async def _connect(self) -> C:
        """A new connection with the session's bounds set; raises the driver's exceptions."""

    @abstractmethod
    async def _fetch(self, conn: C, sql: str, args: Sequence[Any], budget: float) -> list[Any]:
        """Run `sql` on `conn`; the server must stop it a little before `budget` passes."""

    @abstractmethod
    async def _write(self, conn: C, sql: str, args: Sequence[Any]) -> int:
        """Run one writing statement; the rows it affected."""

    @abstractmethod
    def _drop(self, conn: C) -> None:
        """Close `conn` at once, without waiting for the server."""

    @abstractmethod
    def classify(self, exc: BaseException, budget: float) -> DatabaseError:
        """The driver's exception as a `DatabaseError` naming no host, user or password."""

    async def query(
        self, sql: str, args: Sequence[Any] | None = None, timeout: float | None = None
    ) -> QueryResult:
        """Run one read-only statement; raise `DatabaseError` on failure or timeout."""
        budget = timeout or self._timeout
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with bounded(budget), self._slots:
            while self._idle:
                # An idle connection may have died with a server restart or an idle timeout:
                # that is no news about the database, so try the next, then a fresh one.
                try:
                    rows = await self._run(self._idle.pop(), sql, args or (), budget)
                    return QueryResult(rows, loop.time() - started)
                except DatabaseError as exc:
                    if exc.kind is not ErrorKind.CONNECT:
                        raise
            rows = await self._run(None, sql, args or (), budget)
        return QueryResult(rows, loop.time() - started)

    async def _run(
        self, conn: C | None, sql: str, args: Sequence[Any], budget: float
    ) -> list[tuple[Any, ...]]:
        try:
            if conn is None:
                conn = await self._connect()
            self.queries += 1
            rows = [tuple(row) for row in await self._fetch(conn, sql, args, budget)]
        except BaseException as exc:
            if conn is not None:
                self._drop(conn)
            # A CancelledError (our own timeout, or shutdown) propagates untouched.
            if isinstance(exc, Exception):
                raise self.classify(exc, budget) from exc
            raise
        if len(self._idle) < CONNECTION_LIMIT:
            self._idle.append(conn)
        else:
            self._drop(conn)
        return rows

    async def execute(self, sql: str, args: Sequence[Any] | None = None) -> int:
        """Run one writing statement (used only by `sidecar adopt`); return affected rows."""
        if self._read_only:
            raise DatabaseError(ErrorKind.PERMISSION, "this connection is read-only")
        async with bounded(self._timeout):
            conn = None
            try:
                conn = await self._connect()
                self.queries += 1
                return await self._write(conn, sql, args or ())
            except Exception as exc:
                raise self.classify(exc, self._timeout) from exc
            finally:
                if conn is not None:
                    self._drop(conn)

    def close(self) -> None:
        """Drop every idle connection."""
        while self._idle:
            self._drop(self._idle.pop())


# What the checks hold: a pool of any engine.
Database = Pool[Any]
