"""PostgreSQL dumps counted: real pg_dump and pg_dumpall output, every format, against COUNT(*).

One real cluster per module (tests/support/postgres_server.py) holds the app database of
tests/backups/pgdumps.py and a database `other` with its own "User" table; each test dumps
it with the real tools and counts the file as the sidecar does.
"""

import asyncio
import time
from pathlib import Path

import pytest

from sidecar.backups.dump import DumpCount, ProblemKind, count_rows, dialect
from sidecar.backups.ledger import Ledger
from sidecar.backups.pgrestore import find_pg_restore
from sidecar.backups.runner import count_in_child
from sidecar.backups.survey import look_now
from sidecar.results import Status
from tests.backups.pgdumps import (
    ODD_DATABASE,
    USERS,
    WATCHED,
    live_counts,
    pg_dump,
    pg_dumpall,
    seed_app,
    write,
)
from tests.support.postgres_server import PostgresTestServer

DAY = 86400.0
PLAIN_OPTIONS = {
    "copy": [],
    "inserts": ["--inserts"],
    "column-inserts": ["--column-inserts"],
    "rows-per-insert": ["--rows-per-insert=50"],
    "create": ["--create"],
    "on-conflict": ["--inserts", "--on-conflict-do-nothing"],
    "quote-all": ["--quote-all-identifiers", "--column-inserts"],
}
CUSTOM_OPTIONS = {"custom": ["-Fc"], "custom-Z0": ["-Fc", "-Z0"], "custom-create": ["-Fc", "-C"]}


@pytest.fixture(scope="module")
def expected(pg_server: PostgresTestServer) -> dict[str, int]:
    counts = live_counts(pg_server)
    assert counts["User"] > USERS  # the awkward rows are there
    return counts


def _assert_counts(count: DumpCount, expected: dict[str, int]) -> None:
    assert count.problem is not None and count.problem.kind is ProblemKind.UNCOUNTABLE
    # The one watched name with two readings is refused by name, never guessed ...
    assert 'the name a.b is ambiguous in this dump: it holds both a.b and public."a.b"' in (
        count.problem.message
    )
    assert count.rows("a.b") is None
    # ... and every other count is COUNT(*).
    assert {name: count.rows(name) for name in expected} == expected


@pytest.mark.parametrize("suffix", [".sql", ".sql.gz", ".sql.zst"])
@pytest.mark.parametrize("options", list(PLAIN_OPTIONS), ids=list(PLAIN_OPTIONS))
def test_plain_dumps_count_what_count_star_says(
    pg_server: PostgresTestServer,
    expected: dict[str, int],
    tmp_path: Path,
    options: str,
    suffix: str,
) -> None:
    """COPY blocks and every INSERT form pg_dump writes, plain, gzip'd and zstd'd."""
    path = write(tmp_path / f"app{suffix}", pg_dump(pg_server, "app", *PLAIN_OPTIONS[options]))
    count = count_rows(path, WATCHED, "app")
    _assert_counts(count, expected)
    assert count.complete is True
    assert count.databases == (("app",) if options == "create" else ())


@pytest.mark.parametrize("options", list(CUSTOM_OPTIONS), ids=list(CUSTOM_OPTIONS))
def test_custom_format_is_read_through_pg_restore(
    pg_server: PostgresTestServer, expected: dict[str, int], tmp_path: Path, options: str
) -> None:
    """`pg_dump -Fc` (zlib, or -Z0 uncompressed): the archive's database name comes with it."""
    path = tmp_path / "app.dump"
    path.write_bytes(pg_dump(pg_server, "app", *CUSTOM_OPTIONS[options]))
    assert path.read_bytes().startswith(b"PGDMP")
    count = count_rows(path, WATCHED, "app")
    assert count.compression == "custom"
    _assert_counts(count, expected)
    assert count.complete is True and count.databases == ("app",)


def test_pg_dumpall_counts_only_the_configured_database(
    pg_server: PostgresTestServer, expected: dict[str, int], tmp_path: Path
) -> None:
    """Each `\\connect` switches the database: app's User is app's, other's is other's."""
    path = write(tmp_path / "cluster.sql.gz", pg_dumpall(pg_server))
    count = count_rows(path, WATCHED, "app")
    _assert_counts(count, expected)
    assert count.complete is True
    assert {"app", "other", "postgres", "template1"} <= set(count.databases)
    of_other = count_rows(path, ["User"], "other")
    assert of_other.problem is None and of_other.rows("User") == 3
    odd = count_rows(path, ["User"], ODD_DATABASE)
    assert odd.problem is None and odd.rows("User") == 2


@pytest.mark.parametrize(
    ("name", "options"),
    [("other.sql", ["--create"]), ("other.dump", ["-Fc"]), ("other.sql.zst", ["--create"])],
)
def test_a_dump_of_another_database_is_refused_by_name(
    pg_server: PostgresTestServer, tmp_path: Path, name: str, options: list[str]
) -> None:
    """`CREATE DATABASE other` and `\\connect other` (plain -C, or the archive's header)."""
    path = write(tmp_path / name, pg_dump(pg_server, "other", *options))
    count = count_rows(path, ["User"], "app")
    assert count.problem is not None and count.problem.kind is ProblemKind.OTHER_DATABASE
    assert count.problem.message == "a dump of another database: User is in `other`, not in `app`"
    assert count.rows("User") is None


def test_pg_dumpall_without_the_database_is_refused_naming_what_it_holds(
    pg_server: PostgresTestServer, tmp_path: Path
) -> None:
    path = write(tmp_path / "cluster.sql", pg_dumpall(pg_server))
    count = count_rows(path, ["Missing"], "shop")
    assert count.problem is not None and count.problem.kind is ProblemKind.OTHER_DATABASE
    assert count.problem.message.startswith("a dump of another database: it holds `template1`")
    assert "not `shop`" in count.problem.message


def test_a_plain_dump_without_a_database_name_counts_for_the_one_asked(
    pg_server: PostgresTestServer, tmp_path: Path
) -> None:
    """pg_dump without -C names no database (it restores into whichever psql connects to),
    as mariadb-dump --compact: its tables count for the database asked for."""
    path = write(tmp_path / "other.sql", pg_dump(pg_server, "other"))
    count = count_rows(path, ["User"], "app")
    assert count.problem is None and count.rows("User") == 3 and count.databases == ()


def test_names_are_schema_qualified_and_case_sensitive(
    pg_server: PostgresTestServer, expected: dict[str, int], tmp_path: Path
) -> None:
    path = write(tmp_path / "app.sql", pg_dump(pg_server, "app"))
    count = count_rows(path, ["User", "public.User", "user", "USER", "Order", "shop.order"], "app")
    assert count.rows("User") == count.rows("public.User") == expected["User"]
    assert count.rows("user") == expected["user"] != expected["User"]
    # Not in the dump: another case, or the right name in the wrong schema.
    assert count.rows("USER") is None and count.rows("Order") is None
    assert count.rows("shop.order") is None


def test_the_dialect_is_told_from_the_first_bytes(pg_server: PostgresTestServer) -> None:
    assert dialect(pg_dump(pg_server, "app")[:4096]) == "postgresql"
    assert dialect(pg_dumpall(pg_server)[:4096]) == "postgresql"
    assert dialect(b"-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n") == "mariadb"
    assert dialect(b"INSERT INTO `User` VALUES (1);\n") == "mariadb"


def test_the_custom_format_is_counted_in_the_bounded_child(
    pg_server: PostgresTestServer, expected: dict[str, int], tmp_path: Path
) -> None:
    """What the service runs: the worker, which runs pg_restore under its own limits."""
    path = tmp_path / "app.dump"
    path.write_bytes(pg_dump(pg_server, "app", "-Fc"))
    count = asyncio.run(count_in_child(path, ["User", "user"], "app"))
    assert count.problem is None
    assert (count.rows("User"), count.rows("user")) == (expected["User"], expected["user"])


def test_a_tar_archive_is_named_not_misread(pg_server: PostgresTestServer, tmp_path: Path) -> None:
    path = tmp_path / "app.dump"
    path.write_bytes(pg_dump(pg_server, "app", "-Ft"))
    count = count_rows(path, ["User"], "app")
    assert count.problem is not None and count.problem.kind is ProblemKind.NOT_A_DUMP
    assert count.problem.message == "a tar archive (pg_dump -Ft?), which is not supported"


def test_no_pg_restore_is_a_clear_warning(pg_server: PostgresTestServer, tmp_path: Path) -> None:
    path = tmp_path / "app.dump"
    path.write_bytes(pg_dump(pg_server, "app", "-Fc"))
    assert find_pg_restore(tmp_path, path="") is None
    count = count_rows(path, ["User"], "app", pg_restore=tmp_path / "bin" / "pg_restore")
    assert count.problem is not None and count.problem.kind is ProblemKind.UNREADABLE
    assert count.problem.message.startswith("cannot run ")
    assert count.problem.message.endswith("pg_restore: No such file or directory")


def test_the_incident_on_postgresql_names_the_restore_candidate(
    pg_server: PostgresTestServer, tmp_path: Path
) -> None:
    """Last night's archive held the 14 users; tonight's, of a fresh database, holds one."""
    now = time.time()
    good = pg_dump(pg_server, "app", "-Fc")
    fresh = PostgresTestServer()
    fresh.start()
    try:
        seed_app(fresh, users=1)
        fresh.psql('DELETE FROM "User" WHERE id > 1', database="app")
        bad = pg_dump(fresh, "app", "-Fc")
    finally:
        fresh.remove()
    (tmp_path / "app-1.dump").write_bytes(good)
    (tmp_path / "app-2.dump").write_bytes(bad)
    for name, age in (("app-1.dump", DAY), ("app-2.dump", 600)):
        write(tmp_path / name, (tmp_path / name).read_bytes(), now - age)
    high_water = live_counts(pg_server)["User"]
    # As `sidecar volumes` does: each dump counted in the bounded worker until judged.
    judgement = look_now(
        tmp_path, ["*.sql.gz", "*.dump"], {"User": high_water}, {"User": 0.5}, "app", Ledger(), now
    )
    verdict = judgement.rows[0].verdict
    assert verdict.status is Status.FAIL
    assert verdict.output == (
        f"the newest backup (app-2.dump) holds 1 User row; the database held {high_water}:"
        " rotation will drop the good ones; restore candidate: app-1.dump"
        f" ({high_water} User rows, 24h old)"
    )
    assert judgement.freshness.status is Status.PASS
    # Sizes compare within one kind: the archive against the archive before it.
    assert judgement.size.details["compared"] == 1


@pytest.mark.parametrize("options", ["copy", "inserts", "rows-per-insert", "column-inserts"])
@pytest.mark.parametrize("chunk", [1, 7, 100])
def test_where_a_buffer_ends_changes_no_count(
    pg_server: PostgresTestServer,
    expected: dict[str, int],
    tmp_path: Path,
    options: str,
    chunk: int,
) -> None:
    """Read a few bytes at a time: every statement, COPY line, `\\.` and dollar quote is cut
    by a buffer's end somewhere, and the counts are the same."""
    path = write(tmp_path / "app.sql", pg_dump(pg_server, "app", *PLAIN_OPTIONS[options]))
    _assert_counts(count_rows(path, WATCHED, "app", chunk=chunk), expected)
