"""The SQL side of reading a dump: statements found and rows counted by regexes over bytes.

`Scanner` takes a dump as `mariadb-dump` / `mysqldump` write it, fed as successive buffers,
and counts the rows each INSERT or REPLACE adds to the watched tables, per database (`USE`
switches it; a single-database dump has no USE and belongs to the database its header names).

Why it is fast: no Python loop per byte or per row. An INSERT as the dump tools write it
(rows separated by `),(` or `),\\n(`, statements ending in `);\\n`, runs of single-row
INSERTs taken a buffer of lines at a time) is proven and counted by `plain_rows()` with bytes
methods alone: translate, count, find, and one split when literals hold quotes or
parentheses. Everything else goes through compiled expressions: one finds where a statement
ends, with string literals, quoted identifiers and comments as tokens, so a `;` inside them
never ends a statement; every quantifier is possessive, so a match cut by the end of the
buffer fails in one pass, never by backtracking (compiled as atomic groups: possessive.py says
why); rows are counted by `subn`, in C.

Why it is never wrong: each path counts only what it can prove and hands anything else
down: `plain_rows` to the row expressions, those to `fold_rows` (literals and comments
blanked out, parentheses folded inside out, still in C), and an INSERT none can count
(`INSERT ... SELECT`, `ON DUPLICATE KEY UPDATE`) makes its table uncountable, never guessed.
Routine and trigger bodies (`DELIMITER ;;` blocks, conditional comments) are not data.

Buffers: `feed()` consumes complete statements only and returns where the first incomplete
one starts; the caller appends more input and feeds again from there. A statement is judged
only once its delimiter is in the buffer, and every token before a delimiter is decided by
the bytes before it (lookaheads reach at most two bytes), so where a buffer ends never
changes a count.
"""

import re

from sidecar.backups import possessive
from sidecar.backups.plain import FAST_HEAD_REFUSES, plain_rows

# -- tokens -------------------------------------------------------------------------------
_SQ = rb"'(?:[^'\\]++|\\.|'')*+'"  # 'it''s', 'a\'b', raw newlines too (DOTALL)
_DQ = rb'"(?:[^"\\]++|\\.|"")*+"'
_BQ = rb"`(?:[^`]++|``)*+`"
_BLOCK = rb"/\*(?:[^*]++|\*(?!/))*+\*/"  # also /*!40000 conditional */ ones
_LINE = rb"(?:--(?=\s)|#)[^\n]*+\n"  # `-- ` needs a blank after it, as in MariaDB
_OTHER = rb"/(?!\*)|-(?!-\s)"  # a lone `/` or `-` that starts no comment
_IDENT = rb"(?:" + _BQ + rb"|[0-9A-Za-z_$\x80-\xff]++)"
_NAME = rb"(?:(" + _IDENT + rb")\s*+\.\s*+)?(" + _IDENT + rb")"  # [db.]table

_FLAGS = re.S | re.I

# Whitespace and comments before a statement (conditional comments included: they only set
# session variables, or wrap triggers whose bodies must not be counted).
_GAP = possessive.compile(rb"(?:\s++|" + _BLOCK + rb"|" + _LINE + rb")*+", _FLAGS)
# What may follow the last statement: the same, with a last line that has no newline.
_TAIL = possessive.compile(
    rb"(?:\s++|" + _BLOCK + rb"|(?:--(?=\s|\Z)|#)[^\n]*+|DELIMITER[ \t]++[^\n]*+)*+", _FLAGS
)
_DELIMITER = possessive.compile(rb"DELIMITER[ \t]++(\S++)[^\n]*+\n", _FLAGS)
_DELIMITER_START = possessive.compile(rb"DELIMITER[ \t]", _FLAGS)
_WORD = possessive.compile(rb"[A-Za-z]++")

# One row tuple of literals: numbers, 'strings', NULL, 0x.. hex. No nested parentheses,
# comments, double quotes or backticks: those take the slow path.
_ROW = rb"\((?:[^()'\"`;/#\\\-]++|" + _SQ + rb"|-(?!-))*+\)"
_ROW_RE = possessive.compile(_ROW, _FLAGS)
_VALUES_BODY = rb"\s*+" + _ROW + rb"(?:\s*+,\s*+" + _ROW + rb")*+\s*+;"
_VALUES = possessive.compile(_VALUES_BODY, _FLAGS)
_INSERT = possessive.compile(
    rb"(?:INSERT|REPLACE)\s++(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\s++)*+"
    rb"(?:INTO\s++)?+" + _NAME + rb"\s*+"
    rb"(?:\((?:[^()`'\"]++|" + _BQ + rb")*+\)\s*+)?+"  # --complete-insert column list
    rb"VALUES?+(?=[\s(])",
    _FLAGS,
)
# Where an INSERT that is not a plain VALUES list says which table it fills.
_INSERT_TABLE = possessive.compile(
    rb"(?:INSERT|REPLACE)\s++(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\s++)*+"
    rb"(?:INTO\s++)?+" + _NAME,
    _FLAGS,
)
_USE = possessive.compile(rb"USE\s++(" + _IDENT + rb")\s*+\Z", _FLAGS)
_SPACE = rb"(?:\s++|" + _BLOCK + rb")*+"  # CREATE DATABASE /*!32312 IF NOT EXISTS*/ `app`
_CREATE_DATABASE = possessive.compile(
    rb"CREATE"
    + _SPACE
    + rb"(?:DATABASE|SCHEMA)"
    + _SPACE
    + rb"(?:IF\s++NOT\s++EXISTS"
    + _SPACE
    + rb")?+("
    + _IDENT
    + rb")",
    _FLAGS,
)
_CREATE_TABLE = possessive.compile(
    rb"CREATE\s++(?:OR\s++REPLACE\s++)?+(?:TEMPORARY\s++)?+TABLE\s++(IF\s++NOT\s++EXISTS\s++)?+"
    + _NAME,
    _FLAGS,
)

# The slow path: blank out literals and plain comments, then fold parentheses inside out.
_LITERALS = possessive.compile(
    _SQ + rb"|" + _DQ + rb"|" + _BQ + rb"|/\*(?!!)(?:[^*]++|\*(?!/))*+\*/|(?:--(?=\s)|#)[^\n]*+",
    _FLAGS,
)
_INNERMOST = possessive.compile(rb"\([^()]*+\)")
_FOLDED = possessive.compile(rb"\s*+\x00(?:\s*+,\s*+\x00)*+\s*+")
_MAX_NESTING = 64

_HEADER = possessive.compile(rb"^-- (?:MariaDB|MySQL) dump\b", re.M)
_HEADER_DATABASE = possessive.compile(rb"^-- Host: [^\n]*?Database: ([^\n]*)$", re.M)
_FOOTER = possessive.compile(rb"^-- Dump completed\b", re.M)
_SNIFF_SKIP = possessive.compile(rb"(?:\xef\xbb\xbf)?\s*+")
_SNIFF = possessive.compile(
    rb"--|/\*|#|(?:CREATE|INSERT|REPLACE|USE|SET|DROP|LOCK|UNLOCK|DELIMITER|ALTER|START|BEGIN"
    rb"|COMMIT)\b",
    re.I,
)
_SNIFF_BYTES = 10  # enough to tell `DELIMITER ` from anything else


def _statement_end(delimiter: bytes) -> re.Pattern[bytes]:
    """The expression matching one statement up to and including `delimiter`."""
    if delimiter == b";":
        token = rb"[^;'\"`/#\-]++|" + b"|".join((_SQ, _DQ, _BQ, _BLOCK, _LINE, _OTHER))
        return possessive.compile(rb"(?:" + token + rb")*+;", _FLAGS)
    # `DELIMITER ;;` or `//` (routines, triggers): every token must first not be the delimiter.
    end = re.escape(delimiter)
    first = re.escape(delimiter[:1])
    token = (
        rb"(?!"
        + end
        + rb")(?:[^;'\"`/#\-"
        + first
        + rb"]++|"
        + b"|".join((_SQ, _DQ, _BQ, _BLOCK, _LINE, _OTHER))
        + rb"|;|"
        + first
        + rb")"
    )
    return possessive.compile(rb"(?:" + token + rb")*+" + end, _FLAGS)


_STATEMENT = _statement_end(b";")
_INCOMPLETE = -1


def _cached(
    cache: dict[bytes, re.Pattern[bytes]], head: bytes, pattern: bytes
) -> re.Pattern[bytes]:
    """A pattern compiled once per INSERT head (a dump has one head per table)."""
    compiled = cache.get(head)
    if compiled is None:
        if len(cache) >= 64:
            cache.clear()
        # Case-sensitive: `user` and `User` are two tables (lower_case_table_names=0).
        compiled = cache[head] = possessive.compile(pattern, re.S)
    return compiled


def identifier(raw: bytes) -> str:
    """An identifier as written in the dump (backticks removed, ```` undoubled), as text."""
    if raw.startswith(b"`"):
        raw = raw[1:-1].replace(b"``", b"`")
    # Names are utf8mb4 in every dump we read; surrogateescape keeps anything else lossless.
    return raw.decode("utf-8", "surrogateescape")


def fold_rows(values: bytes) -> int | None:
    """Rows in a VALUES list that may hold expressions; None when it is not a list of tuples."""
    return folded_tuples(_LITERALS.sub(b" ", values))


def folded_tuples(text: bytes) -> int | None:
    """Tuples in a VALUES list whose literals and comments are blanked out; None when it is
    not a list of tuples (or nests deeper than 64). The dialects share it (`pgscanner`)."""
    for _ in range(_MAX_NESTING):
        text, folded = _INNERMOST.subn(b"\x00", text)
        if not folded:
            break
    else:
        return None
    if not _FOLDED.fullmatch(text):
        return None
    return text.count(b"\x00")


class NotADump(Exception):
    """The input is not SQL as a dump tool writes it."""


class CutShort(Exception):
    """The input ends in the middle of a statement, or a statement outgrew the limit."""


class Scanner:
    """Counts rows per (database, table) for `tables`, fed a dump buffer by buffer."""

    footer = "-- Dump completed"  # the last line a whole dump has

    def __init__(self, tables: frozenset[str]) -> None:
        self.tables = tables
        self.counts: dict[tuple[str | None, str], int] = {}
        self.uncountable: dict[tuple[str | None, str], str] = {}  # key -> why
        self.databases: dict[str, None] = {}  # an ordered set: first named, first
        self.header = False  # a `-- MariaDB dump` / `-- MySQL dump` header was seen
        self.completed = False  # a `-- Dump completed` line ends the dump
        self.statements = 0  # CREATE, USE and INSERT statements: the evidence of a dump
        self.consumed = 0  # bytes before the current buffer (the caller advances it)
        self._current: str | None = None  # the database of unqualified names
        self._started = False  # the first statement (and the header before it) was read
        self._sniffed = False
        self._delimiter = b";"
        self._end = _STATEMENT
        self._runs: dict[bytes, re.Pattern[bytes]] = {}  # head -> run of VALUES statements
        self._lines: dict[bytes, re.Pattern[bytes]] = {}  # head -> run of whole lines

    def feed(self, buf: bytes, final: bool = False) -> int:
        """Consume every complete statement of `buf`; return the offset of the first incomplete."""
        if not self._sniffed and not self._sniff(buf, final):
            return 0
        pos, size = 0, len(buf)
        while pos < size:
            gap = _GAP.match(buf, pos).end()  # type: ignore[union-attr]  # matches empty
            if gap == size:
                break
            delimiter = _DELIMITER.match(buf, gap)
            if delimiter is not None:
                if not self._started:
                    self._read_header(buf[pos:gap])
                self._set_delimiter(delimiter.group(1))
                pos = delimiter.end()
                continue
            if _DELIMITER_START.match(buf, gap):
                break  # a DELIMITER line without its newline yet
            if not self._started:
                if self._end.match(buf, gap) is None:
                    break
                self._read_header(buf[pos:gap])
            if self._delimiter == b";":
                fast = self._plain_insert(buf, gap)
                if fast == _INCOMPLETE:
                    break
                if fast is not None:
                    pos = fast
                    continue
            end = self._end.match(buf, gap)
            if end is None:
                break
            self._statement(buf, gap, end.end() - len(self._delimiter))
            pos = end.end()
        return pos

    def finish(self, tail: bytes) -> None:
        """The input ended with `tail` unconsumed: it must be comments only, else it was cut."""
        if not self._sniffed:
            self._sniff(tail, final=True)
        if not self._started:
            self._read_header(tail)
        clean = _TAIL.match(tail)
        if clean is None or clean.end() != len(tail):
            raise CutShort(
                f"the dump ends in the middle of a statement (byte {self.consumed + len(tail):,}): "
                "it was cut short"
            )
        self.completed = _FOOTER.search(tail) is not None

    # -- statements ----------------------------------------------------------------------
    def _plain_insert(self, buf: bytes, at: int) -> int | None:
        """An INSERT of plain rows ending in `;`, counted; its end, or None for the slow path.

        _INCOMPLETE when the statement cannot be complete in `buf` (no `;` after its head).
        """
        head = _INSERT.match(buf, at)
        if head is None:
            return None
        key = self._key(head)
        watched = key[1] in self.tables
        text = buf[at : head.end()]
        if not FAST_HEAD_REFUSES.intersection(text):
            # The lines that are whole statements with this head (--skip-extended-insert, or
            # mysqldump's one line per extended INSERT), else one statement up to `);\n`.
            end = self._line_run(text).match(buf, at).end()  # type: ignore[union-attr]
            heads = buf.count(b"\n", at, end)
            if end == at:
                close = buf.find(b");\n", head.end())
                if close < 0 and buf.find(b";", head.end()) < 0:
                    return _INCOMPLETE
                end, heads = (close + 3, 1) if close >= 0 else (at, 0)
            if heads:
                rows = plain_rows(buf[at:end], text, heads)
                if rows is not None:
                    if watched:
                        self._add(key, rows)
                    self.statements += heads
                    return end
        body = _VALUES.match(buf, head.end())
        if body is None:
            return None
        end = body.end()
        if watched:
            self._add(key, _ROW_RE.subn(b"", buf[head.end() : end])[1])
        # A run of single-row INSERTs with the same head, consumed by one match. A head
        # holding a parenthesis (a column list) would be counted as a row: not batched.
        if b"(" not in text:
            run = self._run(text).match(buf, end)
            if run is not None and run.end() > end:
                if watched:
                    self._add(key, _ROW_RE.subn(b"", buf[end : run.end()])[1])
                end = run.end()
        self.statements += 1
        return end

    def _line_run(self, head: bytes) -> re.Pattern[bytes]:
        """Whole lines that start with `head` and end with `;` (before any check of them)."""
        return _cached(self._lines, head, rb"(?:" + re.escape(head) + rb"[^\n]*+(?<=;)\n)*+")

    def _run(self, head: bytes) -> re.Pattern[bytes]:
        """Statements of plain rows that all start with `head`, checked by the tokenizer."""
        return _cached(self._runs, head, rb"(?:\s*+" + re.escape(head) + _VALUES_BODY + rb")*+")

    def _statement(self, buf: bytes, start: int, stop: int) -> None:
        word = _WORD.match(buf, start, stop)
        if word is None:
            return
        keyword = word.group().upper()
        if keyword == b"USE":
            use = _USE.match(buf, start, stop)
            if use is not None:
                self._current = identifier(use.group(1))
                self._seen(self._current)
        elif keyword == b"CREATE":
            self._create(buf, start, stop)
        elif keyword in (b"INSERT", b"REPLACE"):
            self._other_insert(buf, start, stop)

    def _create(self, buf: bytes, start: int, stop: int) -> None:
        database = _CREATE_DATABASE.match(buf, start, stop)
        if database is not None:
            self._seen(identifier(database.group(1)))
            self.statements += 1
            return
        table = _CREATE_TABLE.match(buf, start, stop)
        if table is None:
            return
        self.statements += 1
        key = self._key(table, first=2)
        if key[1] in self.tables and not (table.group(1) and key in self.counts):
            self.counts[key] = 0  # restored empty: a CREATE after DROP TABLE IF EXISTS

    def _other_insert(self, buf: bytes, start: int, stop: int) -> None:
        """An INSERT the fast path did not take: nested values, odd spacing, or no VALUES."""
        self.statements += 1
        head = _INSERT.match(buf, start, stop)
        if head is not None:
            key = self._key(head)
            if key[1] in self.tables:
                rows = fold_rows(buf[head.end() : stop])
                if rows is not None:
                    self._add(key, rows)
                    return
                self._uncountable(key, start, "its VALUES are not a list of row tuples")
            return
        target = _INSERT_TABLE.match(buf, start, stop)
        if target is None:
            for table in self.tables:
                self._uncountable((self._current, table), start, "its table cannot be read")
            return
        key = self._key(target)
        if key[1] in self.tables:
            self._uncountable(key, start, "it is not a plain VALUES list")

    def watched_counts(
        self,
    ) -> tuple[dict[tuple[str | None, str], int], dict[tuple[str | None, str], str]]:
        """Rows and uncountable tables keyed by (database, watched name), as `dump` reads them."""
        return self.counts, self.uncountable

    # -- bookkeeping ---------------------------------------------------------------------
    def _key(self, match: re.Match[bytes], first: int = 1) -> tuple[str | None, str]:
        qualifier, name = match.group(first), match.group(first + 1)
        database = identifier(qualifier) if qualifier else self._current
        if qualifier:
            self._seen(database)
        return database, identifier(name)

    def _add(self, key: tuple[str | None, str], rows: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + rows

    def _uncountable(self, key: tuple[str | None, str], at: int, why: str) -> None:
        self.uncountable.setdefault(key, f"an INSERT at byte {self.consumed + at:,}: {why}")

    def _seen(self, database: str | None) -> None:
        if database:
            self.databases.setdefault(database)

    def _set_delimiter(self, delimiter: bytes) -> None:
        self._delimiter = delimiter
        self._end = _STATEMENT if delimiter == b";" else _statement_end(delimiter)

    def _read_header(self, text: bytes) -> None:
        """The comments before the first statement: the dump tool's header, if any."""
        self._started = True
        self.header = _HEADER.search(text) is not None
        named = _HEADER_DATABASE.search(text)
        if named is not None:
            # `--all-databases` leaves it empty; `--databases a b` names the first (USE follows).
            name = named.group(1).strip()
            if name:
                self._current = name.decode("utf-8", "surrogateescape")
                self._seen(self._current)

    def _sniff(self, buf: bytes, final: bool) -> bool:
        """Whether `buf` starts like SQL; False while too little has been read to tell."""
        start = _SNIFF_SKIP.match(buf).end()  # type: ignore[union-attr]  # matches empty
        if len(buf) - start < _SNIFF_BYTES and not final:
            return False
        if start == len(buf):
            raise NotADump("the file is empty" if not buf else "the file holds only blank space")
        if _SNIFF.match(buf, start) is None:
            raise NotADump("not a SQL dump: it does not start with SQL or a dump header")
        self._sniffed = True
        return True
