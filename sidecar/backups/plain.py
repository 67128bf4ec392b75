"""Counting the rows of INSERTs as dump tools write them, with bytes methods alone.

`plain_rows(text, head, heads)` takes `heads` whole INSERT statements that all start with
`head` and returns their rows, or None when it cannot prove the count; the scanner then
uses its tokenizer. It is the path nearly every byte of a real dump takes, so it must be
fast (translate, count, find and split run in C, at hundreds of MB/s) and exact.

The proof, in short: once `\\\\` and `\\'` escapes are dropped, the quotes that are left
delimit literals. When no literal holds a quote, parenthesis or semicolon (the common case),
the parentheses and semicolons of the text are all outside literals, in order; otherwise the
literals are cut out with one split, which is exact unless a comment, a double-quoted string
or a quoted name hides a quote, and each of those leaves its opener outside: refused. The
parentheses must then read `()()...();`, and the bytes around them must be exactly the gaps
mysqldump and mariadb-dump write (`),(` or `),\\n(` between rows, `);\\n` plus the head
between statements), so no keyword (`ON DUPLICATE KEY UPDATE`, `RETURNING`) can hide among
them. The property tests compare it with a character-by-character reader.
"""

import re

# The only bytes whose place (inside a literal or not) decides a count.
_SPECIAL = b"'\"();"
_NOT_SPECIAL = bytes(c for c in range(256) if c not in _SPECIAL)
# An INSERT head holding one of these could be mistaken for values: the tokenizer's job.
FAST_HEAD_REFUSES = frozenset(b"'\"\\;\n")
# sre finds this needle with memchr on its first byte: twice as fast as `in` here.
_DASHES = re.compile(rb"--")


def plain_rows(text: bytes, head: bytes, heads: int) -> int | None:
    """Rows in `text`: `heads` INSERTs that all start with `head`, each ending in `);\\n`.

    Bytes methods alone (C speed, no per-row Python). None unless the rows are certain: rows
    separated by `),(` or `),\\n(` as mysqldump and mariadb-dump write them, nothing between
    the statements, no comment, double-quoted string or quoted identifier among the values.
    Anything else is left to the regex path.
    """
    # Escapes first: what is left of a `'` then delimits a literal (or doubles a quote in it).
    clean = text.replace(b"\\\\", b"").replace(b"\\'", b"") if b"\\" in text else text
    # The special bytes alone, minus every literal that held none of them (now `''`).
    skeleton = clean.translate(None, _NOT_SPECIAL).replace(b"''", b"")
    if b"'" not in skeleton and b'"' not in skeleton and _bare(text, head, heads):
        # No literal holds a special byte and nothing else can (no comment, no quoted name):
        # every special byte of `text` lies outside the literals, so `text` counts as well as
        # its outside would. (A comment opener inside a literal merely takes the next path.)
        return _proven_rows(skeleton, text, head, heads)
    # Some literals hold special bytes (JSON, prose): cut every literal out, one object each.
    # The cut is exact unless a comment, a "string" or a `quoted` name hides a quote, and
    # each of those would leave its opener outside the literals: refused.
    parts = clean.split(b"'")
    if len(parts) % 2 == 0:
        return None
    outside = b"".join(parts[::2])
    if b'"' in outside or b"\\" in outside or not _bare(outside, head, heads):
        return None
    return _proven_rows(outside.translate(None, _NOT_SPECIAL), outside, head, heads)


def _bare(outside: bytes, head: bytes, heads: int) -> bool:
    """No comment opener (`#`, `/*`, `--`) in `outside`, no backtick but the heads' own."""
    if b"#" in outside or (b"*" in outside and b"/*" in outside) or _DASHES.search(outside):
        return False
    return outside.count(b"`") == heads * head.count(b"`")


def _proven_rows(skeleton: bytes, outside: bytes, head: bytes, heads: int) -> int | None:
    """Rows, if `skeleton` (the `(`, `)`, `;` outside literals, in order) and `outside` (text
    whose special bytes all lie outside literals) show `heads` statements of plain rows."""
    prefix = head.translate(None, _NOT_SPECIAL)  # a column list's parentheses
    if prefix:
        if not skeleton.startswith(prefix) or skeleton.count(b";" + prefix) != heads - 1:
            return None
        skeleton = skeleton[len(prefix) :].replace(b";" + prefix, b";")
    # The skeleton must read ()()...(); with a `;` in exactly heads - 1 of the gaps.
    rows = skeleton.count(b"(")
    if (
        skeleton.count(b")") != rows
        or skeleton.count(b";") != heads
        or skeleton.count(b")(") + skeleton.count(b");(") != rows - 1
        or not skeleton.startswith(b"(")
        or not skeleton.endswith(b");")
    ):
        return None
    # These patterns hold special bytes, so their counts are exact: each gap between rows is
    # `,\\n` (mariadb-dump) or `,` (mysqldump), each statement starts with the head and ends
    # with `);` and a newline. Nothing else can sit between two rows.
    gaps = outside.count(b"),\n(")
    if gaps != rows - heads:
        gaps += outside.count(b"),(")
        if gaps != rows - heads:
            return None
    if outside.count(head + b" (") + outside.count(head + b"\n(") != heads:
        return None
    if heads > 1 and outside.count(b");\n" + head) != heads - 1:
        return None
    return rows if outside.startswith(head) and outside.endswith(b");\n") else None
