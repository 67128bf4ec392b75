"""Count the rows of the watched tables in one dump file: SQL (plain, gzip, zstd) or pg_dump -Fc.

    count = count_rows(Path("/backups/app-2026-11-25.sql.gz"), ["User"], database="app")
    count.rows("User")   # 14, or None when the dump does not hold it (or cannot be trusted)
    count.problem        # None, or DumpProblem(kind, message): why the dump is not usable
    count.complete       # the `-- Dump completed` line was there (None: no header to expect it)

The compression is told by magic bytes, not by the name, and so is the dialect: the first
64 KiB of SQL (`dialect()`) tell PostgreSQL's dumps (pg_dump's and pg_dumpall's header, a
psql `\\connect` or `\\restrict`) from MariaDB's. A custom-format archive (`PGDMP`) is read
through pg_restore (`pgrestore.py`). The file is streamed in chunks (`scanner.py` or
`pgscanner.py` does the SQL), so memory stays at one chunk plus the longest statement.

Invariant: a count is never wrong. What could not be counted for certain is left out of
`counts` and named in `problem`: a truncated gzip or zstd stream or a dump cut short counts
nothing; a statement the scanner cannot count removes only its table. A dump holding the
watched tables only under another database name, or naming databases other than the one
asked for, is reported as a dump of another database (its counts are kept, under their
names). A dump that names no database at all (`--skip-comments`, no USE) restores into
whichever database it is piped into, so its tables count for the one asked for.
"""

import errno
import itertools
import os
import re
import stat
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from sidecar.backups import pgrestore
from sidecar.backups.catalog import size_text
from sidecar.backups.pgscanner import PgScanner
from sidecar.backups.scanner import CutShort, NotADump, Scanner

CHUNK = 4 * 1024 * 1024  # read size: large enough that per-chunk Python work is noise
MAX_STATEMENT = 256 * 1024 * 1024  # mysqldump's statements are bounded by max_allowed_packet
_COMPRESSED_READ = 64 * 1024  # gzip input per read; its output is capped per step
_STEP = 1 << 20  # the most gzip's decompressobj may return per call (max_length)
_ZSTD_PIECE = 512  # zstd input per step: at most 129 blocks of 128 KiB out, 16.1 MiB
# What a compressed dump may expand to: SQL compresses 5-50x, gzip cannot pass 1032x; a
# larger ratio is a bomb (558 KB of zstd expanding to 6.1 GB). Below the floor, never judged.
MAX_RATIO = 1000
MIN_EXPANSION = 1 << 30

_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
}
_SUPPORTED = ("plain", "gzip", "zstd", "custom")
_TAR_MAGIC_END = 263  # a tar header's `ustar\0` (GNU: `ustar `) sits at bytes 257-262
SNIFF = 64 * 1024  # how much SQL decides the dialect: pg_dump's header is in its first lines
_POSTGRES = re.compile(
    rb"^-- PostgreSQL database (?:cluster )?dump$|^\\(?:connect|restrict) |"
    rb"^SELECT pg_catalog\.set_config\('search_path'",
    re.M,
)


class ProblemKind(StrEnum):
    """Why a dump's counts are missing or not to be trusted."""

    UNREADABLE = "unreadable"  # permissions, a directory, a FIFO, an I/O error
    NOT_A_DUMP = "not_a_dump"  # binary, empty, or text without dump markers
    TRUNCATED = "truncated"  # a cut gzip/zstd stream, or SQL that ends mid-statement
    OTHER_DATABASE = "other_database"  # the watched tables are there under another name
    UNCOUNTABLE = "uncountable"  # an INSERT that is not a plain VALUES list
    BUDGET = "budget"  # the parse ran out of time, CPU or memory (set by the runner)
    EXPANSION = "expansion"  # a compressed file expanding past its limit: a bomb, never retried


@dataclass(frozen=True)
class DumpProblem:
    """What is wrong with a dump, in one line."""

    kind: ProblemKind
    message: str


@dataclass(frozen=True)
class TableRows:
    """The rows one table holds in the dump."""

    database: str
    table: str
    rows: int


@dataclass(frozen=True)
class DumpCount:
    """The outcome of reading one dump: row counts per (database, table), or why there are none."""

    database: str  # the database the counts were asked for
    tables: tuple[str, ...]  # the tables asked for
    counts: tuple[TableRows, ...] = ()  # only counts known for certain, any database
    databases: tuple[str, ...] = ()  # the databases the dump names, in order
    complete: bool | None = None  # `-- Dump completed` seen; None when no header promised it
    compression: str = "plain"
    sql_bytes: int = 0  # uncompressed bytes read
    problem: DumpProblem | None = None

    def rows(self, table: str) -> int | None:
        """Rows of `table` in the database asked for; None when not known for certain."""
        for entry in self.counts:
            if entry.table == table and entry.database == self.database:
                return entry.rows
        return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (`from_json` reads it back)."""
        return {
            "database": self.database,
            "tables": list(self.tables),
            "counts": [[c.database, c.table, c.rows] for c in self.counts],
            "databases": list(self.databases),
            "complete": self.complete,
            "compression": self.compression,
            "sqlBytes": self.sql_bytes,
            "problem": {"kind": str(self.problem.kind), "message": self.problem.message}
            if self.problem
            else None,
        }

    @classmethod
    def from_json(cls, data: Any) -> "DumpCount":
        """Read `to_json()`'s form back; raise ValueError when it is not that."""
        try:
            problem = data["problem"]
            complete = data["complete"]
            counts = tuple(
                TableRows(_str(db), _str(table), _count(rows)) for db, table, rows in data["counts"]
            )
            return cls(
                database=_str(data["database"]),
                tables=tuple(_str(t) for t in data["tables"]),
                counts=counts,
                databases=tuple(_str(d) for d in data["databases"]),
                complete=None if complete is None else bool(complete),
                compression=_str(data["compression"]),
                sql_bytes=_count(data["sqlBytes"]),
                problem=DumpProblem(ProblemKind(problem["kind"]), _str(problem["message"]))
                if problem is not None
                else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a dump count ({type(exc).__name__}: {exc})") from None


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"expected a count, got {value!r}")
    return value


class Unreadable(Exception):
    """The file cannot be opened or read as a regular file."""


def open_dump(path: Path) -> BinaryIO:
    """Open a regular file for reading: never blocking on a FIFO, never through a symlink.

    The catalog hands over resolved paths, so a symlink here means the directory changed
    under us. Raise Unreadable with a one-line reason otherwise.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Unreadable("it is a symbolic link") from None
        raise Unreadable(f"cannot open it: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise Unreadable(f"it is {kind}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


class _Truncated(Exception):
    """A compressed stream ended early or is corrupt."""


def _compression(handle: BinaryIO) -> str:
    head = handle.read(_TAR_MAGIC_END)
    handle.seek(0)
    if head.startswith(pgrestore.MAGIC):
        return "custom"
    if head[257:_TAR_MAGIC_END] in (b"ustar\x00", b"ustar "):
        return "tar"  # pg_dump -Ft writes one, with its toc.dat first
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return name
    return "plain"


def _plain(handle: BinaryIO, chunk: int) -> Iterator[bytes]:
    while block := handle.read(chunk):
        yield block


class _Expands(Exception):
    """A compressed stream expands past its limit: a decompression bomb, or as good as one."""


def _decompressed(handle: BinaryIO, compression: str, limit: int) -> Iterator[bytes]:
    """Decompressed blocks of every gzip member or zstd frame; _Truncated when one is cut.

    Bounded by output, not by input: no step returns more than `_STEP` bytes (plus one zstd
    block), and the whole stream may expand to `limit` bytes at most (_Expands past it).
    """
    decompressor: Any = None
    produced = 0
    try:
        while data := handle.read(_piece(compression)):
            while True:
                if decompressor is None:
                    decompressor = _decompressor(compression)
                block, data = _step(decompressor, compression, data)
                produced += len(block)
                if produced > limit:
                    raise _Expands(f"it expands past {size_text(limit)} of SQL: not counted")
                if block:
                    yield block
                if decompressor.eof:
                    # A member or frame ended: what follows is the next one (`cat a.gz b.gz`).
                    data = decompressor.unused_data
                    decompressor = None
                # A full step may leave output inside zlib with no input left: ask again.
                if not data and (decompressor is None or len(block) < _STEP):
                    break
    except (zlib.error, zstandard.ZstdError) as exc:
        raise _Truncated(f"the {compression} stream is corrupt ({exc})") from None
    if decompressor is not None:
        raise _Truncated(
            f"the {compression} stream is truncated after {produced:,} bytes of SQL: "
            "the file was cut short"
        )


def _decompressor(compression: str) -> Any:
    if compression == "gzip":
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    return zstandard.ZstdDecompressor().decompressobj()


def _piece(compression: str) -> int:
    """How much compressed input one step takes: what bounds zstd's output per step."""
    return _ZSTD_PIECE if compression == "zstd" else _COMPRESSED_READ


def _step(decompressor: Any, compression: str, data: bytes) -> tuple[bytes, bytes]:
    """One bounded step: (output of at most about `_STEP` bytes, input still to feed)."""
    if compression == "gzip":
        block = decompressor.decompress(data, _STEP)
        return block, decompressor.unconsumed_tail
    # zstandard's decompressobj has no max_length (and its stream reader cannot tell a cut
    # frame from a finished one): small pieces bound its output instead, since a zstd block
    # of at most 128 KiB takes at least 4 bytes (an RLE block), so one piece of _ZSTD_PIECE
    # bytes finishes at most _ZSTD_PIECE / 4 + 1 blocks.
    return decompressor.decompress(data), b""


def count_rows(
    path: Path,
    tables: Iterable[str],
    database: str,
    *,
    chunk: int = CHUNK,
    max_statement: int = MAX_STATEMENT,
    max_ratio: float = MAX_RATIO,
    min_expansion: int = MIN_EXPANSION,
    pg_restore: Path | None = None,
) -> DumpCount:
    """Stream the dump at `path` and count the rows of `tables` (see the module docstring);
    `pg_restore` reads a custom-format dump (found under /usr/lib/postgresql when None)."""
    wanted = tuple(dict.fromkeys(tables))
    result = DumpCount(database=database, tables=wanted)
    try:
        handle = open_dump(path)
    except Unreadable as exc:
        return replace(result, problem=DumpProblem(ProblemKind.UNREADABLE, str(exc)))
    scanner: Scanner | PgScanner = Scanner(frozenset(wanted))
    with handle:
        try:
            compression = _compression(handle)
            result = replace(result, compression=compression)
            if compression == "tar":
                raise NotADump("a tar archive (pg_dump -Ft?), which is not supported")
            if compression not in _SUPPORTED:
                raise NotADump(f"compressed with {compression}, which is not supported")
            limit = max(min_expansion, int(os.fstat(handle.fileno()).st_size * max_ratio))
            if compression == "plain":
                blocks = _plain(handle, chunk)
            elif compression == "custom":
                blocks = pgrestore.restored(handle, limit, pg_restore)
            else:
                blocks = _decompressed(handle, compression, limit)
            head, blocks = _peek(blocks, SNIFF)
            if head.startswith(pgrestore.MAGIC):
                raise NotADump(f"a custom-format dump inside {compression}: not supported")
            if dialect(head) == "postgresql":
                scanner = PgScanner(frozenset(wanted))
            _scan(scanner, blocks, chunk, max_statement)
        except pgrestore.RestoreMissing as exc:
            return replace(result, problem=DumpProblem(ProblemKind.UNREADABLE, str(exc)))
        except pgrestore.RestoreExpands:
            problem = DumpProblem(
                ProblemKind.EXPANSION, f"it expands past {size_text(limit)} of SQL: not counted"
            )
            return replace(result, sql_bytes=scanner.consumed, problem=problem)
        except pgrestore.RestoreFailed as exc:
            problem = DumpProblem(ProblemKind.TRUNCATED, str(exc))
            return replace(result, sql_bytes=scanner.consumed, problem=problem)
        except OSError as exc:
            problem = DumpProblem(ProblemKind.UNREADABLE, f"reading it failed: {exc.strerror}")
            return replace(result, sql_bytes=scanner.consumed, problem=problem)
        except NotADump as exc:
            problem = DumpProblem(ProblemKind.NOT_A_DUMP, str(exc))
            return replace(result, sql_bytes=scanner.consumed, problem=problem)
        except _Expands as exc:
            problem = DumpProblem(ProblemKind.EXPANSION, str(exc))
            return replace(result, sql_bytes=scanner.consumed, problem=problem)
        except (_Truncated, CutShort) as exc:
            problem = DumpProblem(ProblemKind.TRUNCATED, str(exc))
            return replace(result, sql_bytes=scanner.consumed, problem=problem)
    return _result(result, scanner)


def dialect(head: bytes) -> str:
    """`postgresql` or `mariadb`: whose dump starts with `head` (its first `SNIFF` bytes)."""
    return "postgresql" if _POSTGRES.search(head[:SNIFF]) else "mariadb"


def _peek(blocks: Iterator[bytes], size: int) -> tuple[bytes, Iterator[bytes]]:
    """The first `size` bytes of `blocks` (fewer at the end), and all of `blocks` again."""
    taken: list[bytes] = []
    held = 0
    for block in blocks:
        taken.append(block)
        held += len(block)
        if held >= size:
            break
    head = b"".join(taken)
    return head[:size], itertools.chain(taken, blocks)


def _scan(
    scanner: Scanner | PgScanner, blocks: Iterator[bytes], chunk: int, max_statement: int
) -> None:
    """Feed `blocks` to `scanner` in buffers of at least `chunk` bytes, then finish it."""
    buf = b""
    pending: list[bytes] = []
    pending_size = 0
    want = chunk
    for block in blocks:
        at = block.find(b"\x00")
        if at >= 0:
            # mariadb-dump and mysqldump escape NUL (\0) in strings: a raw one is binary data.
            offset = scanner.consumed + len(buf) + pending_size + at
            raise NotADump(f"not a SQL dump: binary data (a NUL byte at byte {offset:,})")
        pending.append(block)
        pending_size += len(block)
        if pending_size < want:
            continue
        buf = b"".join([buf, *pending])
        pending, pending_size = [], 0
        pos = scanner.feed(buf)
        scanner.consumed += pos
        buf = buf[pos:]
        if len(buf) > max_statement:
            raise CutShort(
                f"a statement after byte {scanner.consumed:,} is longer than"
                f" {max_statement:,} bytes: not counted"
            )
        # Rescan an unfinished statement only once the buffer has doubled: linear overall.
        want = max(chunk, len(buf))
    buf = b"".join([buf, *pending])
    pos = scanner.feed(buf, final=True)
    scanner.consumed += pos
    scanner.finish(buf[pos:])
    scanner.consumed += len(buf) - pos


def _result(result: DumpCount, scanner: Scanner | PgScanner) -> DumpCount:
    """The counts certain enough to report, and the first problem worth naming."""
    asked = result.database
    databases = tuple(scanner.databases)
    if not scanner.header and not scanner.statements:
        problem: DumpProblem | None = DumpProblem(
            ProblemKind.NOT_A_DUMP,
            "not a SQL dump: no dump header and no CREATE, USE or INSERT statement",
        )
        return replace(result, sql_bytes=scanner.consumed, problem=problem)
    found, unsure = scanner.watched_counts()
    counts: dict[tuple[str, str], int] = {}
    for (database, table), rows in found.items():
        # Tables of a dump that names no database restore into the one it is piped into.
        key = (asked if database is None else database, table)
        counts[key] = counts.get(key, 0) + rows
    uncountable = {(asked if db is None else db, t): why for (db, t), why in unsure.items()}
    for key in uncountable:
        counts.pop(key, None)
    complete = scanner.completed or (False if scanner.header else None)
    problem = _problem(
        result.tables, asked, databases, counts, uncountable, complete, scanner.footer
    )
    if problem is not None and problem.kind is ProblemKind.TRUNCATED:
        counts = {}  # a dump cut short holds fewer rows than its database did: no count at all
    return replace(
        result,
        counts=tuple(TableRows(db, table, rows) for (db, table), rows in counts.items()),
        databases=databases,
        complete=complete,
        sql_bytes=scanner.consumed,
        problem=problem,
    )


def _problem(
    tables: tuple[str, ...],
    asked: str,
    databases: tuple[str, ...],
    counts: dict[tuple[str, str], int],
    uncountable: dict[tuple[str, str], str],
    complete: bool | None,
    footer: str,
) -> DumpProblem | None:
    if complete is False:
        return DumpProblem(
            ProblemKind.TRUNCATED, f"no `{footer}` line at the end: the dump was cut short"
        )
    for table in tables:
        if (asked, table) in counts or (asked, table) in uncountable:
            continue
        elsewhere = sorted({db for db, name in counts if name == table})
        if elsewhere:
            return DumpProblem(
                ProblemKind.OTHER_DATABASE,
                f"a dump of another database: {table} is in {_names(elsewhere)}, not in `{asked}`",
            )
    if databases and asked not in databases:
        return DumpProblem(
            ProblemKind.OTHER_DATABASE,
            f"a dump of another database: it holds {_names(databases)}, not `{asked}`",
        )
    for (database, table), why in uncountable.items():
        if table in tables:
            return DumpProblem(
                ProblemKind.UNCOUNTABLE, f"cannot count the rows of `{database}`.`{table}`: {why}"
            )
    return None


def _names(databases: Iterable[str]) -> str:
    names = [f"`{name}`" for name in databases]
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
