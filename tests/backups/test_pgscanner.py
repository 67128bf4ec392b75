"""The PostgreSQL scanner on hand-written SQL: what pg_dump could write, and what it never does.

Real pg_dump output is in test_pg_dump.py; these pin the edges no real dump reaches on its
own: quotes in column names, E'' strings, statements in dollar quotes, INSERTs that are not
a list of rows, COPY from a file, psql's `\\i`.
"""

from pathlib import Path

import pytest

from sidecar.backups.dump import DumpCount, ProblemKind, count_rows

HEADER = b"--\n-- PostgreSQL database dump\n--\n\n"
FOOTER = b"\n--\n-- PostgreSQL database dump complete\n--\n\n"


def _count(tmp_path: Path, body: bytes, tables: list[str], chunk: int = 1 << 22) -> DumpCount:
    path = tmp_path / "dump.sql"
    path.write_bytes(HEADER + body + FOOTER)
    return count_rows(path, tables, "app", chunk=chunk)


@pytest.mark.parametrize("chunk", [1, 5, 1 << 22])
def test_column_lists_that_read_as_rows_are_not_counted_as_rows(tmp_path: Path, chunk: int) -> None:
    body = (
        b'INSERT INTO public.t (id, "a(b)") VALUES (1, 2);\n'
        b'INSERT INTO public.t (id, "a(b)") VALUES (3, 4), (5, 6);\n'
        b"INSERT INTO public.u (\"it's\") VALUES ('x');\n"
        b"INSERT INTO public.u (\"it's\") VALUES ('y'), ('z');\n"
    )
    count = _count(tmp_path, body, ["t", "u"], chunk)
    assert count.problem is None
    assert (count.rows("t"), count.rows("u")) == (3, 3)


@pytest.mark.parametrize("chunk", [1, 5, 1 << 22])
def test_literals_of_every_kind_hide_their_statement_ends(tmp_path: Path, chunk: int) -> None:
    body = (
        b"CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS $fn$ SELECT 1;"
        b" INSERT INTO public.t VALUES (9); $$ $fn$;\n"
        b"CREATE FUNCTION public.g() RETURNS int LANGUAGE sql AS $$ SELECT ';' $$;\n"
        b"INSERT INTO public.t VALUES (1, E'it\\'s; (', 'back\\'), (2, 'a''b;)');\n"
        b"INSERT INTO public.t VALUES (3, $$;$$);\n"
        b"INSERT INTO public.t OVERRIDING SYSTEM VALUE VALUES (4, -1, 'x')"
        b" ON CONFLICT DO NOTHING;\n"
        b"INSERT INTO public.t VALUES (5, '--', '/*'), (6, NULL, '\\N');\n"
    )
    count = _count(tmp_path, body, ["t"], chunk)
    assert count.problem is None and count.rows("t") == 6


def test_an_insert_that_is_not_a_list_of_rows_is_uncountable(tmp_path: Path) -> None:
    body = b"CREATE TABLE public.t (id int);\nINSERT INTO public.t SELECT generate_series(1, 9);\n"
    count = _count(tmp_path, body, ["t"])
    assert count.problem is not None and count.problem.kind is ProblemKind.UNCOUNTABLE
    assert count.problem.message.endswith("it is not a plain VALUES list")
    assert count.rows("t") is None


def test_copy_from_a_file_is_uncountable(tmp_path: Path) -> None:
    count = _count(tmp_path, b"COPY public.t (id) FROM '/tmp/t.csv';\n", ["t"])
    assert count.problem is not None and count.problem.kind is ProblemKind.UNCOUNTABLE
    assert "its COPY reads from a file, not from the dump" in count.problem.message


def test_psql_include_makes_the_database_uncountable(tmp_path: Path) -> None:
    body = b"COPY public.t (id) FROM stdin;\n1\n\\.\n\\i more.sql\n"
    count = _count(tmp_path, body, ["t"])
    assert count.problem is not None and count.problem.kind is ProblemKind.UNCOUNTABLE
    assert "reads rows from another file" in count.problem.message


def test_a_table_created_without_rows_holds_none(tmp_path: Path) -> None:
    body = b'CREATE TABLE public."User" (id int);\n'
    count = _count(tmp_path, body, ["User"])
    assert count.problem is None and count.rows("User") == 0


def test_an_empty_copy_block_and_a_table_without_columns(tmp_path: Path) -> None:
    body = b"COPY public.t (id, name) FROM stdin;\n\\.\nCOPY public.e  FROM stdin;\n\n\n\\.\n"
    count = _count(tmp_path, body, ["t", "e"])
    assert count.problem is None and (count.rows("t"), count.rows("e")) == (0, 2)


def test_copy_with_options_is_skipped_not_counted(tmp_path: Path) -> None:
    """CSV may quote a newline: its lines are not its rows. The block is skipped whole."""
    body = (
        b'COPY public.t (id, note) FROM stdin WITH (FORMAT csv);\n1,"two\nlines"\n\\.\n'
        b"COPY public.u (id) FROM stdin;\n1\n\\.\n"
    )
    count = _count(tmp_path, body, ["t", "u"])
    assert count.problem is not None and count.problem.kind is ProblemKind.UNCOUNTABLE
    assert "its COPY has options, so its lines may not be its rows" in count.problem.message
    assert (count.rows("t"), count.rows("u")) == (None, 1)
