"""Damaged and hostile PostgreSQL dumps: a clear problem each, never a crash, never a wrong count.

Each starts from real pg_dump output of the module's cluster (conftest.py) and breaks it the
way a disk, a cron job or an attacker would: cut anywhere, a COPY block that lost its `\\.`,
a line longer than the limit, a dollar quote never closed, a custom-format archive cut short,
one whose header lies about a length, and one that expands past the limits (a bomb).
"""

import asyncio
import gzip
import re
from pathlib import Path

import pytest

from sidecar.backups.dump import DumpCount, ProblemKind, count_rows
from sidecar.backups.runner import Budget, count_in_child
from tests.backups.pgdumps import live_counts, pg_dump, write
from tests.backups.test_bombs import PEAK_LIMIT, count_in_worker
from tests.support.postgres_server import PostgresTestServer

MIB = 1 << 20


def _problem(count: DumpCount, kind: ProblemKind) -> str:
    assert count.problem is not None, count
    assert count.problem.kind is kind, count.problem
    assert "\n" not in count.problem.message
    return count.problem.message


def _user_copy(sql: bytes) -> re.Match[bytes]:
    found = re.search(rb'COPY public\."User" \([^)]*\) FROM stdin;\n(.*?\n)\\\.\n', sql, re.S)
    assert found is not None
    return found


def test_a_copy_block_cut_short_counts_nothing(
    pg_server: PostgresTestServer, tmp_path: Path
) -> None:
    sql = pg_dump(pg_server, "app")
    data = _user_copy(sql)
    cut = write(tmp_path / "cut.sql", sql[: data.start(1) + 200])
    message = _problem(count_rows(cut, ["User"], "app"), ProblemKind.TRUNCATED)
    assert re.fullmatch(
        r'the COPY data of public\."User" \(from byte [\d,]+\) is not ended by a `\\\.` line:'
        r" the dump was cut short",
        message,
    )
    assert count_rows(cut, ["User"], "app").counts == ()


def test_a_copy_block_that_lost_its_end_line_is_damaged(
    pg_server: PostgresTestServer, tmp_path: Path
) -> None:
    """Without its `\\.` the block runs into the comments and statements after it."""
    sql = pg_dump(pg_server, "app")
    data = _user_copy(sql)
    broken = sql[: data.end(1)] + sql[data.end() :]
    count = count_rows(write(tmp_path / "lost.sql", broken), ["User", "user"], "app")
    message = _problem(count, ProblemKind.TRUNCATED)
    assert message.endswith("does not have 6 columns on every line: the dump is damaged")
    assert count.counts == ()


def test_a_dump_cut_anywhere_is_never_counted_wrong(
    pg_server: PostgresTestServer, tmp_path: Path
) -> None:
    """Cut at 400 places (gzip'd too): a count is either the right one or absent, with why."""
    truth = live_counts(pg_server)["User"]
    for options in ([], ["--inserts"], ["--rows-per-insert=50"]):
        sql = pg_dump(pg_server, "app", *options)
        for at in range(0, len(sql), max(1, len(sql) // 400)):
            for name in ("cut.sql", "cut.sql.gz"):
                count = count_rows(write(tmp_path / name, sql[:at]), ["User"], "app")
                assert count.rows("User") in (None, truth), (options, at)
                footer = sql.rindex(b"-- PostgreSQL database dump complete")
                if count.problem is None and at <= footer:
                    pytest.fail(f"a dump cut at byte {at} of {len(sql)} passed: {count}")


def test_a_line_longer_than_the_limit_is_refused(tmp_path: Path) -> None:
    head = b'--\n-- PostgreSQL database dump\n--\n\nCOPY public."User" (id, note) FROM stdin;\n'
    sql = head + b"1\t" + b"x" * (9 * MIB) + b"\n\\.\n"
    count = count_rows(write(tmp_path / "long.sql", sql), ["User"], "app", max_statement=MIB)
    message = _problem(count, ProblemKind.TRUNCATED)
    assert message.endswith("is longer than 1,048,576 bytes: not counted")


def test_a_dump_without_its_footer_was_cut_short(tmp_path: Path) -> None:
    sql = b'--\n-- PostgreSQL database dump\n--\n\nCOPY public."User" (id) FROM stdin;\n1\n\\.\n'
    message = _problem(
        count_rows(write(tmp_path / "a.sql", sql), ["User"], "app"), ProblemKind.TRUNCATED
    )
    assert (
        message
        == "no `-- PostgreSQL database dump complete` line at the end: the dump was cut short"
    )
    whole = sql + b"\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n"
    count = count_rows(write(tmp_path / "b.sql", whole), ["User"], "app")
    assert count.problem is None and count.rows("User") == 1 and count.complete is True


def test_a_dollar_quote_never_closed_is_a_dump_cut_short(tmp_path: Path) -> None:
    sql = (
        b"--\n-- PostgreSQL database dump\n--\n\n"
        b'CREATE FUNCTION f() RETURNS int AS $fn$ SELECT 1; INSERT INTO public."User" VALUES (1);\n'
        b'COPY public."User" (id) FROM stdin;\n1\n\\.\n'
    )
    count = count_rows(write(tmp_path / "dollar.sql", sql), ["User"], "app")
    message = _problem(count, ProblemKind.TRUNCATED)
    assert message.startswith("the dump ends in the middle of a statement (byte ")


def test_a_truncated_custom_archive_is_reported(
    pg_server: PostgresTestServer, tmp_path: Path
) -> None:
    archive = pg_dump(pg_server, "app", "-Fc")
    for keep in (len(archive) // 2, len(archive) - 10, 40):
        path = tmp_path / "cut.dump"
        path.write_bytes(archive[:keep])
        count = count_rows(path, ["User"], "app")
        message = _problem(count, ProblemKind.TRUNCATED)
        assert message.startswith("pg_restore could not read the custom-format dump: ")
        assert count.rows("User") is None


def test_a_custom_archive_whose_header_lies_about_a_length(
    pg_server: PostgresTestServer, tmp_path: Path
) -> None:
    """The database name's length says 2 GiB: pg_restore, inside the worker's memory limit,
    fails; the count says so in one line."""
    archive = pg_dump(pg_server, "app", "-Fc")
    honest = b"\x00\x03\x00\x00\x00app"
    assert honest in archive
    path = tmp_path / "lying.dump"
    path.write_bytes(archive.replace(honest, b"\x00\xff\xff\xff\x7fapp", 1))
    count = asyncio.run(count_in_child(path, ["User"], "app", Budget(memory_bytes=512 * MIB)))
    assert count.problem is not None and count.rows("User") is None
    assert count.problem.kind in (ProblemKind.TRUNCATED, ProblemKind.BUDGET)
    assert "pg_restore" in count.problem.message or "memory" in count.problem.message


def test_garbage_after_the_magic_is_not_counted(tmp_path: Path) -> None:
    path = tmp_path / "fake.dump"
    path.write_bytes(b"PGDMP" + bytes(range(256)) * 4)
    message = _problem(count_rows(path, ["User"], "app"), ProblemKind.TRUNCATED)
    assert message.startswith("pg_restore could not read the custom-format dump: ")


def test_a_custom_archive_inside_gzip_is_not_a_dump_we_read(
    pg_server: PostgresTestServer, tmp_path: Path
) -> None:
    path = tmp_path / "app.dump.gz"
    path.write_bytes(gzip.compress(pg_dump(pg_server, "app", "-Fc")))
    message = _problem(count_rows(path, ["User"], "app"), ProblemKind.NOT_A_DUMP)
    assert message == "a custom-format dump inside gzip: not supported"


def test_a_custom_archive_bomb_is_refused_once(
    pg_server: PostgresTestServer, tmp_path: Path
) -> None:
    """64 MiB of one repeated value compress to a few hundred KiB in -Fc's zlib: past the
    ratio it is a bomb, refused (kind `expansion`, never retried) and pg_restore is stopped."""
    pg_server.psql(
        "CREATE TABLE filler (id int, body text)",
        "INSERT INTO filler SELECT g, repeat('a', 1000) FROM generate_series(1, 65536) g",
        database="app",
    )
    try:
        archive = pg_dump(pg_server, "app", "-Fc", "--table=filler")
    finally:
        pg_server.psql("DROP TABLE filler", database="app")
    path = tmp_path / "bomb.dump"
    path.write_bytes(archive)
    assert len(archive) * 100 < 64 * MIB
    budget = Budget(min_expansion=8 * MIB, max_ratio=10)
    count = asyncio.run(count_in_child(path, ["filler"], "app", budget))
    message = _problem(count, ProblemKind.EXPANSION)
    assert message == "it expands past 8.0 MiB of SQL: not counted"
    # The worker and its pg_restore stay small (the kernel's peak RSS of the larger).
    answer, rss = count_in_worker(path, budget)
    assert answer["problem"] == {"kind": "expansion", "message": message}
    assert rss < PEAK_LIMIT, f"{rss / MIB:.0f} MiB"
    # The same archive within the limits is counted: it was the limit, not the file.
    whole = asyncio.run(count_in_child(path, ["filler"], "app"))
    assert whole.problem is None and whole.rows("filler") == 65536
