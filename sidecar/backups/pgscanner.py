"""The SQL side of reading a PostgreSQL dump: `pg_dump` and `pg_dumpall` plain output.

`PgScanner` has `Scanner`'s interface (fed buffer by buffer, `feed()` returning where the
first incomplete statement starts), and counts the rows of every table, per (database,
schema, table); `watched_counts()` then says which table each watched name means
(pgnames.py: schema-qualified, case-sensitive, an ambiguous name refused).

Where the rows are:
- `COPY public."User" (id, email) FROM stdin;` and its data lines up to a `\\.` line, as
  pg_dump writes by default. COPY's text format escapes newlines (`\\n`), tabs (`\\t`) and
  backslashes in values, so one line is one row, counted with `bytes.count` in C, and a
  raw tab is a column separator: every line of a table with N columns has N - 1 of them,
  checked on the whole block at once (a block that lost its `\\.` and runs into the next
  statements fails it: the dump is reported damaged and counts nothing). A block is read
  line by line, so its size is not bounded by the longest-statement limit (one line is);
  a block still open at the end of the dump is a dump cut short.
- `INSERT INTO public."User" VALUES (...);` (`--inserts`), with a column list
  (`--column-inserts`), `OVERRIDING SYSTEM VALUE`, several rows a statement
  (`--rows-per-insert`), `ON CONFLICT DO NOTHING`. Runs of them with one head (column list
  included) are counted by one match and `subn` in C; the rest by the tokenizer and
  `scanner.folded_tuples`. String literals are PostgreSQL's: `'it''s'` (backslashes are
  plain: pg_dump sets standard_conforming_strings), `E'a\\'b'`, dollar quoting (`$$ ... $$`,
  `$fn$ ... $fn$`: function bodies), `"quoted ""names"" "`; a `;` in any of them ends nothing.
- psql meta-commands are lines of their own: `\\connect app` (pg_dumpall, `pg_dump -C`)
  switches the database, `\\restrict` / `\\unrestrict` (pg_dump 15.14+, 16.10+) are skipped,
  `\\i` and `\\copy` (rows from elsewhere) make the database's tables uncountable.

Why it is never wrong, and why a buffer's end changes nothing: as in `scanner`, a statement
is judged only once its `;` is in the buffer, every quantifier is possessive, and what
cannot be proven (an INSERT ... SELECT, a COPY from a file, a block whose lines do not have
its columns) makes its table uncountable, never guessed. Block comments do not nest here
(PostgreSQL's do; pg_dump writes none).
"""

import re
from dataclasses import dataclass

from sidecar.backups import possessive
from sidecar.backups.pgnames import QualifiedName, dump_identifier, resolve
from sidecar.backups.scanner import CutShort, folded_tuples

_FLAGS = re.S | re.I
_ID_CHAR = rb"0-9A-Za-z_$\x80-\xff"
# -- tokens -------------------------------------------------------------------------------
_STANDARD = rb"'(?:[^']++|'')*+'"  # backslashes are plain characters
_ESCAPED = rb"'(?:[^'\\]++|\\.|'')*+'"  # after a lone E: E'it\'s'
# Which kind a quote opens is told by the byte before it, never by whether the literal
# closes: an E'..' string cut by the buffer's end must not be read as a standard one (which
# would close it early, at `\'`, and end the statement at a `;` inside it).
_LONE_E = rb"(?<=[Ee])(?<![" + _ID_CHAR + rb"][Ee])"
_NOT_LONE_E = rb"(?:(?<![Ee])|(?<=[" + _ID_CHAR + rb"][Ee]))"
_STRING = rb"(?:" + _LONE_E + _ESCAPED + rb"|" + _NOT_LONE_E + _STANDARD + rb")"
_DQ = rb'"(?:[^"]++|"")*+"'
_TAG = rb"[A-Za-z_\x80-\xff][" + _ID_CHAR.replace(b"$", b"") + rb"]*+"
_DOLLAR = rb"(?<![" + _ID_CHAR + rb"])\$(?P<tag>(?:" + _TAG + rb")?)\$.*?\$(?P=tag)\$"
_DOLLAR_PLAIN = rb"(?<=[" + _ID_CHAR + rb"])\$|\$(?=[0-9])"  # in a name (a$b), a parameter
_BLOCK = rb"/\*(?:[^*]++|\*(?!/))*+\*/"
_LINE = rb"--[^\n]*+\n"
_OTHER = rb"/(?!\*)|-(?!-)"
_TOKEN = b"|".join((_STRING, _DQ, _DOLLAR, _DOLLAR_PLAIN, _BLOCK, _LINE, _OTHER))
_STATEMENT = possessive.compile(rb"(?:[^;'\"$/\-]++|" + _TOKEN + rb")*+;", _FLAGS)
_LITERALS = possessive.compile(b"|".join((_STRING, _DQ, _DOLLAR, _BLOCK, rb"--[^\n]*+")), _FLAGS)

_IDENT = rb"(?:" + _DQ + rb"|[A-Za-z_\x80-\xff][" + _ID_CHAR + rb"]*+)"
_NAME = rb"(?:(" + _IDENT + rb")\s*+\.\s*+)?(" + _IDENT + rb")"  # [schema.]table
_COLUMNS = rb"\((?:[^()\"]++|" + _DQ + rb")*+\)"
_GAP = possessive.compile(rb"(?:\s++|" + _BLOCK + rb"|" + _LINE + rb")*+", _FLAGS)
_TAIL = possessive.compile(rb"(?:\s++|" + _BLOCK + rb"|--[^\n]*+)*+", _FLAGS)
_WORD = possessive.compile(rb"[A-Za-z]++")

_INSERT = possessive.compile(
    rb"INSERT\s++INTO\s++" + _NAME + rb"\s*+(" + _COLUMNS + rb"\s*+)?+"
    rb"(?:OVERRIDING\s++(?:SYSTEM|USER)\s++VALUE\s++)?+VALUES(?=[\s(])",
    _FLAGS,
)
_INSERT_TABLE = possessive.compile(rb"INSERT\s++INTO\s++" + _NAME, _FLAGS)
_CONFLICT = possessive.compile(rb"\s*+ON\s++CONFLICT\s++DO\s++NOTHING\s*+\Z", _FLAGS)
# One row tuple of plain literals, as pg_dump writes them: numbers, 'strings', NULL, true.
_ROW = rb"\((?:[^()'\"$;/\-\\]++|" + _STRING + rb"|-(?!-)|/(?!\*))*+\)"
_ROW_RE = possessive.compile(_ROW, _FLAGS)
_ROWS = rb"\s*+" + _ROW + rb"(?:\s*+,\s*+" + _ROW + rb")*+\s*+;"
_COPY = possessive.compile(
    rb"COPY\s++" + _NAME + rb"\s*+(" + _COLUMNS + rb")?+\s*+FROM\s++(STDIN\b)?+", _FLAGS
)
_CREATE_TABLE = possessive.compile(
    rb"CREATE\s++(?:(?:UNLOGGED|TEMP|TEMPORARY)\s++)?+TABLE\s++(?:IF\s++NOT\s++EXISTS\s++)?+"
    + _NAME,
    _FLAGS,
)
_CREATE_DATABASE = possessive.compile(rb"CREATE\s++DATABASE\s++(" + _IDENT + rb")", _FLAGS)

_HEADER = possessive.compile(rb"^-- PostgreSQL database (cluster )?+dump$", re.M)
_FOOTER = possessive.compile(rb"^-- PostgreSQL database (cluster )?+dump complete$", re.M)
# `\connect app`, `\connect "My DB"`, `\connect -reuse-previous=on "dbname='we''ird'"`.
_CONNECT = possessive.compile(
    rb"\\c(?:onnect)?+[ \t]++(?:-reuse-previous=\S++[ \t]++)?+(\"(?:[^\"]++|\"\")*+\"|\S++)"
)
_CONNINFO_NAME = possessive.compile(rb"dbname\s*+=\s*+('(?:[^'\\]++|\\.)*+'|\S++)")
_ELSEWHERE = possessive.compile(rb"\\(?:i|ir|include|include_relative|copy)\b")
_INCOMPLETE = -1

Key = tuple[str | None, QualifiedName]


@dataclass
class _Copy:
    """A COPY block being read: whose, how many columns, what was counted so far."""

    key: Key
    columns: int | None  # None: no column list, the tab check is off
    at: int  # where its data starts, in bytes of the dump
    rows: int = 0
    tabs: int = 0
    why: str | None = None  # why its lines are not counted as rows, when they are not


def connect_target(line: bytes) -> str | None:
    """The database a psql `\\connect` line switches to; None when it is not one."""
    match = _CONNECT.match(line)
    if match is None:
        return None
    arg = match.group(1)
    if arg.startswith(b'"'):
        arg = arg[1:-1].replace(b'""', b'"')
    named = _CONNINFO_NAME.match(arg)
    if named is not None:  # a connection string: dbname='...' with backslash escapes
        value = named.group(1)
        if value.startswith(b"'"):
            value = re.sub(rb"\\(.)", rb"\1", value[1:-1], flags=re.S)
        arg = value
    return arg.decode("utf-8", "surrogateescape")


class PgScanner:
    """Counts rows per (database, schema, table), fed a PostgreSQL dump buffer by buffer."""

    def __init__(self, tables: frozenset[str]) -> None:
        self.tables = tables
        self.counts: dict[Key, int] = {}
        self.uncountable: dict[Key, str] = {}  # key -> why
        self.blind: dict[str | None, str] = {}  # database -> why none of its tables counts
        self.databases: dict[str, None] = {}  # an ordered set: first named, first
        self.header = False  # a `-- PostgreSQL database [cluster ]dump` header was seen
        self.cluster = False  # ... pg_dumpall's: only its own footer completes the dump
        self.completed = False  # the footer was seen after the last statement
        self.statements = 0  # COPY, CREATE, INSERT and \connect: the evidence of a dump
        self.consumed = 0  # bytes before the current buffer (the caller advances it)
        self._current: str | None = None  # the database of the statements (\connect)
        self._started = False
        self._copy: _Copy | None = None
        self._runs: dict[bytes, tuple[re.Pattern[bytes], int]] = {}  # head -> its run

    @property
    def footer(self) -> str:
        """The last comment line a whole dump has: pg_dump's, or pg_dumpall's."""
        return f"-- PostgreSQL database {'cluster ' if self.cluster else ''}dump complete"

    def feed(self, buf: bytes, final: bool = False) -> int:
        """Consume every complete statement of `buf`; return the offset of the first incomplete."""
        pos, size = 0, len(buf)
        while pos < size:
            if self._copy is not None:
                pos = self._copy_data(buf, pos, final)
                if self._copy is not None:
                    break
                continue
            gap = _GAP.match(buf, pos).end()  # type: ignore[union-attr]  # matches empty
            self._gap(buf, pos, gap)
            pos = gap
            if pos == size:
                break
            if buf[pos] == 0x5C:  # `\`: a psql meta-command, one line
                end = buf.find(b"\n", pos)
                if end < 0:
                    if not final:
                        break
                    end = size
                self._meta(buf[pos:end], pos)
                pos = end + 1
                self._started = True  # the header is in the comments before the first
                continue
            fast = self._insert_run(buf, pos)
            if fast == _INCOMPLETE:
                break
            if fast is not None:
                pos = fast
                self._started = True
                continue
            statement = _STATEMENT.match(buf, pos)
            if statement is None:
                break
            after = self._statement(buf, pos, statement.end() - 1, final)
            if after == _INCOMPLETE:
                break
            pos = after
            self._started = True
        return min(pos, size)

    def finish(self, tail: bytes) -> None:
        """The input ended with `tail` unconsumed: it must be comments only, else it was cut."""
        if self._copy is not None:
            raise CutShort(
                f"the COPY data of {self._copy.key[1]} (from byte {self._copy.at:,}) is not"
                " ended by a `\\.` line: the dump was cut short"
            )
        clean = _TAIL.match(tail)
        if clean is None or clean.end() != len(tail):
            raise CutShort(
                f"the dump ends in the middle of a statement (byte {self.consumed + len(tail):,}): "
                "it was cut short"
            )
        self._gap(tail, 0, len(tail))

    def watched_counts(
        self,
    ) -> tuple[dict[tuple[str | None, str], int], dict[tuple[str | None, str], str]]:
        """Rows and uncountable tables keyed by (database, watched name): each watched name
        resolved among the tables of each database the dump holds (pgnames.resolve)."""
        present: dict[str | None, set[QualifiedName]] = {}
        for database, name in (*self.counts, *self.uncountable):
            present.setdefault(database, set()).add(name)
        for database in self.blind:
            present.setdefault(database, set())
        counts: dict[tuple[str | None, str], int] = {}
        uncountable: dict[tuple[str | None, str], str] = {}
        for database, names in present.items():
            for watched in self.tables:
                key = (database, watched)
                resolution = resolve(watched, names)
                if database in self.blind:
                    uncountable[key] = self.blind[database]
                elif resolution.ambiguous:
                    uncountable[key] = resolution.why(watched)
                elif resolution.table is not None:
                    found = (database, resolution.table)
                    if found in self.uncountable:
                        uncountable[key] = self.uncountable[found]
                    else:
                        counts[key] = self.counts[found]
        return counts, uncountable

    # -- statements ----------------------------------------------------------------------
    def _statement(self, buf: bytes, start: int, stop: int, final: bool) -> int:
        """Read one statement ending at `stop` (its `;`); return where the next one starts."""
        self.completed = False
        word = _WORD.match(buf, start, stop)
        keyword = word.group().upper() if word is not None else b""
        if keyword == b"COPY":
            return self._copy_start(buf, start, stop, final)
        if keyword == b"INSERT":
            self._other_insert(buf, start, stop)
        elif keyword == b"CREATE":
            self._create(buf, start, stop)
        return stop + 1

    def _copy_start(self, buf: bytes, start: int, stop: int, final: bool) -> int:
        copy = _COPY.match(buf, start, stop)
        if copy is None:
            return stop + 1
        key = self._key(copy)
        self.statements += 1
        if copy.group(4) is None:  # FROM a file or a program: rows we cannot see
            self._uncountable(key, start, "its COPY reads from a file, not from the dump")
            return stop + 1
        newline = buf.find(b"\n", stop)
        if newline < 0:
            return len(buf) if final else _INCOMPLETE
        columns = copy.group(3)
        self._copy = _Copy(
            key,
            None if columns is None else _column_count(columns),
            self.consumed + newline + 1,
        )
        if buf[copy.end() : stop].strip():
            # `WITH (FORMAT csv)` and the like: a quoted newline would make one row two
            # lines. pg_dump writes none; the block is skipped up to its `\.`, not counted.
            self._copy.why = (
                f"an INSERT or COPY at byte {self.consumed + start:,}: its COPY"
                " has options, so its lines may not be its rows"
            )
        self.counts.setdefault(key, 0)
        return newline + 1

    def _copy_data(self, buf: bytes, pos: int, final: bool) -> int:
        """Count the whole lines of the open COPY block from `pos` (a line start) on."""
        copy = self._copy
        assert copy is not None
        if buf.startswith(b"\\.\n", pos) or (final and buf[pos:] == b"\\."):
            self._copy_end(copy)
            return pos + 3
        end = buf.find(b"\n\\.\n", pos)
        if end < 0 and final and buf.endswith(b"\n\\."):
            end = len(buf) - 3
        last = end if end >= 0 else buf.rfind(b"\n", pos)
        if last < 0:
            return pos
        copy.rows += buf.count(b"\n", pos, last + 1)
        copy.tabs += buf.count(b"\t", pos, last + 1)
        if end < 0:
            return last + 1
        self._copy_end(copy)
        return end + 4

    def _copy_end(self, copy: _Copy) -> None:
        self._copy = None
        if copy.why is not None:
            self.uncountable.setdefault(copy.key, copy.why)
            return
        if copy.columns is not None and copy.tabs != copy.rows * max(copy.columns - 1, 0):
            # pg_dump cannot write that: a `\.` line was lost and the block ran on into the
            # statements after it, or lines were cut out. Nothing after it can be trusted.
            raise CutShort(
                f"the COPY data of {copy.key[1]} from byte {copy.at:,} does not have"
                f" {copy.columns} columns on every line: the dump is damaged"
            )
        self._add(copy.key, copy.rows)

    def _insert_run(self, buf: bytes, at: int) -> int | None:
        """A run of INSERTs of plain rows with one head, counted; its end, or None for the
        tokenizer (an expression, a dollar quote, a quote in a column's name). _INCOMPLETE:
        no `;` after the head yet."""
        head = _INSERT.match(buf, at)
        if head is None:
            return None
        text = buf[at : head.end()]
        if b"'" in text or b";" in text:  # a column named so: the tokenizer's job
            return None
        pattern, head_rows = self._run(text)
        run = pattern.match(buf, at).end()  # type: ignore[union-attr]  # matches empty
        if run == at:
            return _INCOMPLETE if buf.find(b";", head.end()) < 0 else None
        self.completed = False
        # What the row expression leaves of the run: the heads, commas, blanks and one `;`
        # a statement. A head is matched as it is matched alone (no match that starts in it
        # can leave it: no quote in it, and its column list closes in it), so a column list
        # that reads as a row tuple counts `head_rows` times per statement, taken off.
        between, rows = _ROW_RE.subn(b"", buf[at:run])
        statements = between.count(b";")
        self._add(self._key(head), rows - statements * head_rows)
        self.statements += statements
        return run

    def _run(self, head: bytes) -> tuple[re.Pattern[bytes], int]:
        """The expression matching a run of statements with this head, and the row tuples
        the head itself reads as (1 for `(id, email)`, 0 for `("createdAt")` or none)."""
        compiled = self._runs.get(head)
        if compiled is None:
            if len(self._runs) >= 64:
                self._runs.clear()
            pattern = rb"(?:" + re.escape(head) + _ROWS + rb"\s*+)*+"
            compiled = self._runs[head] = (
                possessive.compile(pattern, re.S),
                _ROW_RE.subn(b"", head)[1],
            )
        return compiled

    def _other_insert(self, buf: bytes, start: int, stop: int) -> None:
        """An INSERT the run did not take: a column list, expressions, or no VALUES at all."""
        self.statements += 1
        head = _INSERT.match(buf, start, stop)
        if head is not None:
            values = _LITERALS.sub(b" ", buf[head.end() : stop])
            conflict = _CONFLICT.search(values)
            if conflict is not None:  # pg_dump --on-conflict-do-nothing: every row is new
                values = values[: conflict.start()]
            rows = folded_tuples(values)
            if rows is not None:
                self._add(self._key(head), rows)
            else:
                self._uncountable(self._key(head), start, "its VALUES are not a list of rows")
            return
        target = _INSERT_TABLE.match(buf, start, stop)
        if target is None:
            self.blind.setdefault(
                self._current,
                f"an INSERT at byte {self.consumed + start:,}: its table cannot be read",
            )
            return
        self._uncountable(self._key(target), start, "it is not a plain VALUES list")

    def _create(self, buf: bytes, start: int, stop: int) -> None:
        database = _CREATE_DATABASE.match(buf, start, stop)
        if database is not None:
            self.statements += 1
            self._seen(dump_identifier(database.group(1)))
            return
        table = _CREATE_TABLE.match(buf, start, stop)
        if table is not None:
            self.statements += 1
            self.counts.setdefault(self._key(table), 0)  # a table restored empty

    def _meta(self, line: bytes, at: int) -> None:
        self.completed = self.completed and line.startswith(b"\\unrestrict")
        target = connect_target(line)
        if target is not None:
            self.statements += 1
            self._current = target
            self._seen(target)
        elif _ELSEWHERE.match(line):
            self.blind.setdefault(
                self._current,
                f"a psql {line.split()[0].decode(errors='replace')} at byte"
                f" {self.consumed + at:,} reads rows from another file",
            )

    def _gap(self, buf: bytes, start: int, stop: int) -> None:
        """Comments between statements: the header before the first, the footers."""
        if start == stop or b"-- PostgreSQL" not in buf[start:stop]:
            return
        text = buf[start:stop]
        if not self._started:
            header = _HEADER.search(text)
            if header is not None:
                self.header = True
                self.cluster = header.group(1) is not None
        for footer in _FOOTER.finditer(text):
            if self.cluster == (footer.group(1) is not None):
                self.completed = True

    # -- bookkeeping ---------------------------------------------------------------------
    def _key(self, match: re.Match[bytes]) -> Key:
        schema, name = match.group(1), match.group(2)
        qualified = QualifiedName(
            dump_identifier(schema) if schema else "public", dump_identifier(name)
        )
        return self._current, qualified

    def _add(self, key: Key, rows: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + rows

    def _uncountable(self, key: Key, at: int, why: str) -> None:
        self.uncountable.setdefault(key, f"an INSERT or COPY at byte {self.consumed + at:,}: {why}")

    def _seen(self, database: str) -> None:
        self.databases.setdefault(database)


def _column_count(columns: bytes) -> int:
    """Columns in a COPY column list `(id, "a,b", email)`."""
    inside = _LITERALS.sub(b"x", columns[1:-1])
    return inside.count(b",") + 1 if inside.strip() else 0
