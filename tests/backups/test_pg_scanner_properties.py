"""The PostgreSQL scanner counts exactly the rows a generated dump holds, wherever chunks break it.

The generator writes what pg_dump (or a person with psql) could: COPY blocks escaped as COPY's
text format escapes them, INSERTs of one or more rows with standard and E'' strings, column
lists (some reading as a row tuple), functions whose dollar-quoted bodies hold statements,
comments, SET lines, `\\restrict` lines. It knows how many rows it wrote to each table: that
is the truth the count must equal, whatever the chunk size.
"""

from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar.backups.dump import count_rows

# (watched name, the table as pg_dump names it, its columns)
TABLES = [
    ("User", 'public."User"', '(id, note, "createdAt")'),
    ("user", "public.user", "(id, note, name)"),
    ("shop.Order", 'shop."Order"', '(id, "the ""body""", x)'),
]
WATCHED = [name for name, _, _ in TABLES]
# Every byte that means something to a PostgreSQL lexer or to COPY, and some that mean nothing.
PIECES = [
    *"'\"\\(),;\n\r\t $-/*Eé€😀aZ0",
    "''",
    "$$",
    "$fn$",
    "--",
    "/*",
    "*/",
    "\\.",
    "\\N",
    "E'",
    ");\n",
    "),(",
    '\\.\nINSERT INTO public."User" VALUES (1, 2, 3);\n',
]
_text = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)


def copy_value(value: str | None) -> str:
    """A value as COPY's text format writes it."""
    if value is None:
        return "\\N"
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


@st.composite
def literal(draw: st.DrawFn) -> str:
    """One value of an INSERT, as pg_dump (or a person) writes it."""
    kind = draw(
        st.sampled_from(["int", "null", "bool", "str", "str", "escaped", "negative", "dollar"])
    )
    if kind == "int":
        return str(draw(st.integers(0, 10**6)))
    if kind == "negative":
        return str(draw(st.integers(-(10**6), -1)))
    if kind == "null":
        return "NULL"
    if kind == "bool":
        return draw(st.sampled_from(["true", "false"]))
    value = draw(_text)
    if kind == "dollar":  # never pg_dump's for data, but SQL: the tokenizer takes it
        tag = draw(st.sampled_from(["", "q", "fn"]))
        return f"${tag}$" + value.replace(f"${tag}$", "").replace("$", "") + f"${tag}$"
    if kind == "escaped":
        return "E'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + value.replace("'", "''") + "'"


@st.composite
def dump(draw: st.DrawFn) -> tuple[str, Counter[str]]:
    """A plain dump and the rows it holds per watched name."""
    rows: Counter[str] = Counter()
    parts = ["--\n-- PostgreSQL database dump\n--\n\n\\restrict k3y\n\n"]
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["copy", "insert", "insert", "function", "noise"]))
        name, table, columns = draw(st.sampled_from(TABLES))
        if kind == "copy":
            lines = draw(st.lists(st.lists(st.one_of(st.none(), _text), min_size=3, max_size=3)))
            parts.append(f"COPY {table} {columns} FROM stdin;\n")
            parts += ["\t".join(copy_value(v) for v in line) + "\n" for line in lines]
            parts.append("\\.\n\n")
            rows[name] += len(lines)
        elif kind == "insert":
            tuples = draw(st.lists(st.lists(literal(), min_size=3, max_size=3), min_size=1))
            head = f"INSERT INTO {table}" + (f" {columns}" if draw(st.booleans()) else "")
            separator = draw(st.sampled_from([", ", ",\n\t"]))
            body = separator.join("(" + ", ".join(t) + ")" for t in tuples)
            parts.append(f"{head} VALUES {body};\n")
            rows[name] += len(tuples)
        elif kind == "function":
            inside = draw(_text).replace("$body$", "")
            parts.append(
                "CREATE FUNCTION public.f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN"
                f" INSERT INTO {table} VALUES (1, 2, 3); -- {inside.replace(chr(10), ' ')}\n"
                f" RETURN '{inside.replace(chr(39), chr(39) * 2)}'; END; $body$;\n"
            )
        else:
            comment = draw(_text).replace("\n", " ")
            block = draw(_text)
            while "*/" in block or "/*" in block:  # PostgreSQL's block comments nest
                block = block.replace("*/", "").replace("/*", "")
            parts.append(
                f"-- {comment}\n/* {block} */\nSET client_encoding = 'UTF8';\n"
                f"SELECT pg_catalog.set_config('search_path', '', false);\n"
            )
    parts.append("\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict k3y\n")
    return "".join(parts), rows


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(generated=dump(), chunk=st.integers(1, 200))
def test_counts_are_the_rows_the_dump_holds(
    tmp_path: Path, generated: tuple[str, Counter[str]], chunk: int
) -> None:
    sql, rows = generated
    path = tmp_path / "dump.sql"
    path.write_bytes(sql.encode())
    for size in (chunk, 1 << 20):
        result = count_rows(path, WATCHED, "app", chunk=size)
        assert result.problem is None, result.problem
        assert {name: result.rows(name) for name in WATCHED if name in rows} == dict(rows)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(generated=dump(), cut=st.floats(0, 1), chunk=st.integers(1, 200))
def test_a_generated_dump_cut_anywhere_is_never_counted_wrong(
    tmp_path: Path, generated: tuple[str, Counter[str]], cut: float, chunk: int
) -> None:
    sql, rows = generated
    data = sql.encode()
    at = int(len(data) * cut)
    footer = data.rindex(b"-- PostgreSQL database dump complete")
    path = tmp_path / "cut.sql"
    path.write_bytes(data[:at])
    result = count_rows(path, WATCHED, "app", chunk=chunk)
    if at <= footer:
        assert result.problem is not None
    for name in WATCHED:
        assert result.rows(name) in (None, rows.get(name, None))
