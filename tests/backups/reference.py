"""A slow, obviously-correct reader of SQL dumps: one character at a time, for comparison.

It knows exactly what the fast scanner must know (string literals with backslash and doubled
quote escapes, quoted identifiers, comments, USE, INSERT heads with column lists) and
nothing clever: rows are the parenthesised groups at depth 0 after VALUES.
"""

import re

_HEAD = re.compile(
    r"(?:INSERT|REPLACE)\s+(?:(?:IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY)\s+)*(?:INTO\s+)?"
    r"(?:(`(?:[^`]|``)+`|\w+)\s*\.\s*)?(`(?:[^`]|``)+`|\w+)",
    re.I | re.S,
)
_USE = re.compile(r"USE\s+(`(?:[^`]|``)+`|\w+)\s*$", re.I | re.S)


def _name(raw: str) -> str:
    return raw[1:-1].replace("``", "`") if raw.startswith("`") else raw


def _past_literal(text: str, i: int) -> int:
    """The index just past the quoted literal or identifier that starts at text[i]."""
    quote, j = text[i], i + 1
    while True:
        if text[j] == "\\" and quote != "`":
            j += 2
        elif text[j] != quote:
            j += 1
        elif j + 1 < len(text) and text[j + 1] == quote:
            j += 2
        else:
            return j + 1


def statements(sql: str) -> list[str]:
    """The statements of `sql` (comments outside literals dropped), split at `;`."""
    out: list[str] = []
    current: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            j = _past_literal(sql, i)
            current.append(sql[i:j])
            i = j
        elif sql.startswith("/*", i):
            i = sql.index("*/", i + 2) + 2
            current.append(" ")
        elif c == "#" or (sql.startswith("--", i) and i + 2 < n and sql[i + 2] in " \t\r\n"):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
            current.append(" ")
        elif c == ";":
            out.append("".join(current).strip())
            current = []
            i += 1
        else:
            current.append(c)
            i += 1
    if "".join(current).strip():
        raise ValueError("the input ends inside a statement")
    return [s for s in out if s]


def _rows(values: str) -> int:
    depth = rows = 0
    i, n = 0, len(values)
    while i < n:
        c = values[i]
        if c in "'\"`":
            i = _past_literal(values, i)
            continue
        if c == "(":
            rows += depth == 0
            depth += 1
        elif c == ")":
            depth -= 1
        i += 1
    return rows


def count(sql: str, database: str | None = None) -> dict[tuple[str | None, str], int]:
    """Rows per (database, table) that restoring `sql` would insert."""
    counts: dict[tuple[str | None, str], int] = {}
    for statement in statements(sql):
        use = _USE.match(statement)
        if use:
            database = _name(use.group(1))
            continue
        head = _HEAD.match(statement)
        if not head:
            continue
        rest = statement[head.end() :].lstrip()
        if rest.startswith("("):  # the column list
            depth, i = 0, 0
            while True:
                depth += {"(": 1, ")": -1}.get(rest[i], 0)
                i += 1
                if depth == 0:
                    break
            rest = rest[i:].lstrip()
        keyword = re.match(r"VALUES?", rest, re.I)
        assert keyword, statement
        db = _name(head.group(1)) if head.group(1) else database
        key = (db, _name(head.group(2)))
        counts[key] = counts.get(key, 0) + _rows(rest[keyword.end() :])
    return counts
