"""Counting real dumps: `mariadb-dump` output in each shape and format, and bad files."""

import gzip
import json
import lzma
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from sidecar.backups.dump import DumpCount, ProblemKind, count_rows
from tests.backups.dumps import count, mariadb_dump, write
from tests.support.mariadb import MariaDBTestServer

SHAPES = {
    "extended inserts": [],
    "single-row inserts": ["--skip-extended-insert"],
    "complete inserts": ["--complete-insert"],
    "single-row complete inserts": ["--skip-extended-insert", "--complete-insert"],
    "hex blobs": ["--hex-blob"],
    "insert ignore": ["--insert-ignore"],
    "replace": ["--replace"],
    "many small statements": ["--net-buffer-length=4096"],
}
FORMATS = ["app.sql", "app.sql.gz", "app.sql.zst"]


@pytest.fixture(scope="module")
def app_dump(dump_server: MariaDBTestServer) -> bytes:
    """A plain `mariadb-dump app`."""
    return mariadb_dump(dump_server, "app")


def expected_rows(server: MariaDBTestServer) -> dict[str, int]:
    return {table: count(server, "app", table) for table in ("User", "Note")}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", FORMATS)
def test_counts_every_dump_shape_in_every_format_as_select_count_does(
    dump_server: MariaDBTestServer, backup_dir: Path, shape: str, name: str
) -> None:
    path = write(backup_dir / name, mariadb_dump(dump_server, *SHAPES[shape], "app"))
    result = count_rows(path, ["User", "Note"], "app")
    assert result.problem is None
    assert {t: result.rows(t) for t in ("User", "Note")} == expected_rows(dump_server)
    assert result.rows("User") == 14
    assert result.complete is True
    assert result.databases == ("app",)  # from the header: a one-database dump has no USE
    assert result.compression == {"sql": "plain", "gz": "gzip", "zst": "zstd"}[name.split(".")[-1]]


def test_a_compact_dump_without_database_names_counts_for_the_database_asked(
    dump_server: MariaDBTestServer, backup_dir: Path
) -> None:
    """`--compact` drops the header and footer: it restores into whichever database it is fed."""
    path = write(backup_dir / "app.sql", mariadb_dump(dump_server, "--compact", "app"))
    result = count_rows(path, ["User", "Note"], "app")
    assert result.problem is None
    assert result.rows("User") == 14 and result.rows("Note") == count(dump_server, "app", "Note")
    assert result.complete is None  # no header promised a completion line
    assert result.databases == ()


@pytest.mark.parametrize("chunk", [3, 61, 4093])
def test_where_the_chunks_break_the_dump_changes_no_count(
    dump_server: MariaDBTestServer, backup_dir: Path, app_dump: bytes, chunk: int
) -> None:
    path = write(backup_dir / "app.sql", app_dump)
    assert count_rows(path, ["User", "Note"], "app", chunk=chunk) == count_rows(
        path, ["User", "Note"], "app"
    )


def test_two_databases_with_a_table_of_the_same_name_are_counted_apart(
    dump_server: MariaDBTestServer, backup_dir: Path
) -> None:
    sql = mariadb_dump(dump_server, "--databases", "app", "other", "--skip-extended-insert")
    result = count_rows(write(backup_dir / "both.sql.zst", sql), ["User"], "app")
    assert result.problem is None
    assert result.databases == ("app", "other")
    assert {(c.database, c.table): c.rows for c in result.counts} == {
        ("app", "User"): 14,
        ("other", "User"): 3,
    }
    assert result.rows("User") == 14


def test_an_all_databases_dump_counts_the_tables_of_the_database_asked(
    dump_server: MariaDBTestServer, backup_dir: Path
) -> None:
    sql = mariadb_dump(dump_server, "--all-databases")
    result = count_rows(write(backup_dir / "all.sql.gz", sql), ["User", "Note"], "app")
    assert result.problem is None
    assert {"app", "other", "mysql"} <= set(result.databases)
    assert result.rows("User") == 14
    assert result.rows("Note") == count(dump_server, "app", "Note")


def test_a_dump_of_another_database_is_named_as_such(
    dump_server: MariaDBTestServer, backup_dir: Path
) -> None:
    result = count_rows(
        write(backup_dir / "x.sql", mariadb_dump(dump_server, "other")), ["User"], "app"
    )
    assert result.rows("User") is None
    assert result.problem is not None and result.problem.kind is ProblemKind.OTHER_DATABASE
    assert result.problem.message == "a dump of another database: User is in `other`, not in `app`"
    assert [(c.database, c.table, c.rows) for c in result.counts] == [("other", "User", 3)]


def test_a_table_missing_from_the_dump_has_no_count_and_no_problem(
    dump_server: MariaDBTestServer, backup_dir: Path
) -> None:
    """The dump is fine; that it lacks the table is for the judge to say."""
    sql = mariadb_dump(dump_server, "app", "Note")
    result = count_rows(write(backup_dir / "notes.sql", sql), ["User", "Note"], "app")
    assert result.problem is None
    assert result.rows("User") is None and result.rows("Note") == count(dump_server, "app", "Note")


def test_an_empty_table_counts_zero(dump_server: MariaDBTestServer, backup_dir: Path) -> None:
    dump_server.execute("CREATE TABLE IF NOT EXISTS Empty (id INT)", database="other")
    result = count_rows(
        write(backup_dir / "o.sql", mariadb_dump(dump_server, "other")), ["Empty"], "other"
    )
    assert result.problem is None and result.rows("Empty") == 0


# -- bad files ----------------------------------------------------------------------------
def problem_of(result: DumpCount) -> tuple[str, str]:
    assert result.problem is not None, result
    assert result.counts == (), "a bad dump must not hand out counts"
    return result.problem.kind, result.problem.message


@pytest.mark.parametrize("name", ["app.sql.gz", "app.sql.zst"])
def test_a_truncated_compressed_dump_is_reported_truncated(
    app_dump: bytes, backup_dir: Path, name: str
) -> None:
    path = write(backup_dir / name, app_dump)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    kind, message = problem_of(count_rows(path, ["User"], "app"))
    assert kind == "truncated"
    stream = "gzip" if name.endswith(".gz") else "zstd"
    assert message.startswith(f"the {stream} stream is truncated after ")
    assert message.endswith("bytes of SQL: the file was cut short")


def test_a_corrupt_gzip_dump_is_reported_corrupt(app_dump: bytes, backup_dir: Path) -> None:
    path = write(backup_dir / "app.sql.gz", app_dump)
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    path.write_bytes(bytes(data))
    kind, message = problem_of(count_rows(path, ["User"], "app"))
    assert kind == "truncated" and message.startswith("the gzip stream is corrupt (")


def test_a_plain_dump_cut_inside_a_statement_is_reported_cut_short(
    app_dump: bytes, backup_dir: Path
) -> None:
    cut = app_dump.index(b"INSERT INTO `User`") + 40
    path = write(backup_dir / "app.sql", app_dump[:cut])
    assert problem_of(count_rows(path, ["User"], "app")) == (
        "truncated",
        f"the dump ends in the middle of a statement (byte {cut:,}): it was cut short",
    )


def test_a_plain_dump_without_its_completion_line_is_reported_cut_short(
    app_dump: bytes, backup_dir: Path
) -> None:
    path = write(backup_dir / "app.sql", app_dump[: app_dump.index(b"-- Dump completed")])
    assert problem_of(count_rows(path, ["User"], "app")) == (
        "truncated",
        "no `-- Dump completed` line at the end: the dump was cut short",
    )


NO_NULS = random.Random(7).randbytes(4096).replace(b"\0", b"")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (NO_NULS, "not a SQL dump: it does not start with SQL or a dump header"),
        (
            b"-- MariaDB dump\n" + NO_NULS + b"\0",
            f"not a SQL dump: binary data (a NUL byte at byte {16 + len(NO_NULS):,})",
        ),
        (b"Dear diary,\nthe backup job ran again today.\n", None),
        (b"-- notes\n-- nothing here is SQL; really\n", None),
        (b"", "the file is empty"),
        (b"\n\n   \n", "the file holds only blank space"),
    ],
    ids=["random bytes", "a NUL byte", "a text file", "comments only", "empty", "blank"],
)
def test_a_file_that_is_not_a_dump_is_reported_as_such(
    backup_dir: Path, content: bytes, message: str | None
) -> None:
    kind, said = problem_of(count_rows(write(backup_dir / "x.sql", content), ["User"], "app"))
    assert kind == "not_a_dump"
    assert said == message or (message is None and said.startswith("not a SQL dump"))


def test_a_gzipped_text_file_is_not_a_dump(backup_dir: Path) -> None:
    path = backup_dir / "x.sql.gz"
    path.write_bytes(gzip.compress(b"hello world\n" * 100))
    assert problem_of(count_rows(path, ["User"], "app"))[0] == "not_a_dump"


def test_an_xz_dump_is_refused_by_name_of_its_compression(
    app_dump: bytes, backup_dir: Path
) -> None:
    path = backup_dir / "app.sql"  # named like plain SQL: the magic bytes decide
    path.write_bytes(lzma.compress(app_dump))
    assert problem_of(count_rows(path, ["User"], "app")) == (
        "not_a_dump",
        "compressed with xz, which is not supported",
    )


def test_a_directory_named_like_a_dump_is_unreadable(backup_dir: Path) -> None:
    (backup_dir / "x.sql").mkdir()
    assert problem_of(count_rows(backup_dir / "x.sql", ["User"], "app")) == (
        "unreadable",
        "it is a directory",
    )


def test_a_fifo_named_like_a_dump_is_unreadable_without_blocking(backup_dir: Path) -> None:
    fifo = backup_dir / "x.sql"
    os.mkfifo(fifo)
    # Opening a FIFO for reading blocks until a writer comes; in a child so a hang fails fast.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from sidecar.backups.dump import count_rows;"
            " print(count_rows(sys.argv[1], ['User'], 'app').problem.message)",
            str(fifo),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == "it is not a regular file"


def test_a_symlink_is_not_opened_by_the_reader(app_dump: bytes, backup_dir: Path) -> None:
    """The catalog resolves symlinks it trusts; a symlink reaching the reader is refused."""
    target = write(backup_dir / "real.sql", app_dump)
    (backup_dir / "link.sql").symlink_to(target)
    assert problem_of(count_rows(backup_dir / "link.sql", ["User"], "app")) == (
        "unreadable",
        "it is a symbolic link",
    )


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A directory an unprivileged user can enter (pytest's tmp_path is root's alone)."""
    directory = Path(tempfile.mkdtemp(prefix="sidecar-backups-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()


# Everything is imported before the privileges go: the interpreter lives under root's home.
AS_NOBODY = """
import json, os, sys
from sidecar.backups.dump import count_rows
{drop}
print(json.dumps(count_rows(sys.argv[1], ["User"], "app").to_json()))
"""


def test_a_file_without_read_permission_is_unreadable(
    app_dump: bytes, world_readable_dir: Path
) -> None:
    """chmod 000 stops everyone but root: the count runs as `nobody` when the tests are root."""
    path = write(world_readable_dir / "app.sql", app_dump)
    path.chmod(0o000)
    drop = "os.setgroups([]); os.setgid(65534); os.setuid(65534)" if os.geteuid() == 0 else ""
    out = subprocess.run(
        [sys.executable, "-c", AS_NOBODY.format(drop=drop), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert problem_of(DumpCount.from_json(json.loads(out))) == (
        "unreadable",
        "cannot open it: Permission denied",
    )


def test_the_compression_is_told_by_magic_bytes_not_by_name(
    app_dump: bytes, backup_dir: Path
) -> None:
    misnamed = backup_dir / "app.sql"
    misnamed.write_bytes(gzip.compress(app_dump))
    result = count_rows(misnamed, ["User"], "app")
    assert (result.compression, result.rows("User"), result.problem) == ("gzip", 14, None)


def test_concatenated_gzip_members_and_zstd_frames_are_read_whole(
    app_dump: bytes, backup_dir: Path
) -> None:
    """`cat part1.gz part2.gz` is a valid gzip file; zstd frames concatenate the same way."""
    cut = app_dump.index(b"INSERT INTO `Note`")
    first, second = app_dump[:cut], app_dump[cut:]
    (backup_dir / "a.sql.gz").write_bytes(gzip.compress(first) + gzip.compress(second))
    zstd = zstandard.ZstdCompressor()
    (backup_dir / "a.sql.zst").write_bytes(zstd.compress(first) + zstd.compress(second))
    whole = count_rows(write(backup_dir / "whole.sql", app_dump), ["User", "Note"], "app")
    for name in ("a.sql.gz", "a.sql.zst"):
        result = count_rows(backup_dir / name, ["User", "Note"], "app")
        assert (result.counts, result.problem) == (whole.counts, None), name
