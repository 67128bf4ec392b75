"""The backup directory as the catalog sees it: order, patterns, hostile entries, settling."""

import os
from pathlib import Path

import pytest

from sidecar.backups.catalog import (
    BackupFile,
    compare_sizes,
    list_backups,
    matches,
    shown,
    still_being_written,
)
from sidecar.backups.dump import count_rows
from sidecar.backups.runner import count_in_child

SQL = (
    b"-- MariaDB dump\n-- Host: db    Database: app\n"
    b"INSERT INTO User VALUES (1),(2);\n-- Dump completed\n"
)


def touch(path: Path, mtime: float, data: bytes = SQL) -> Path:
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def test_dumps_are_listed_newest_first_by_modification_time(backup_dir: Path) -> None:
    touch(backup_dir / "b.sql", 1000)
    touch(backup_dir / "a.sql.gz", 3000)
    touch(backup_dir / "c.sql.zst", 2000)
    listing = list_backups(backup_dir)
    assert [f.name for f in listing.files] == ["a.sql.gz", "c.sql.zst", "b.sql"]
    assert listing.newest is not None and listing.newest.mtime == 3000
    assert listing.problem is None and listing.skipped == ()


@pytest.mark.parametrize(
    ("name", "listed"),
    [
        ("app.sql", True),
        ("app-2026-11-25.sql.gz", True),
        ("app.sql.zst", True),
        ("app.sql.bak", False),
        ("app.SQL", False),
        ("notes.txt", False),
        (".app.sql", False),  # hidden: a job's temporary file
        (".app.sql.gz.tmp", False),
    ],
)
def test_default_patterns_take_sql_gzip_and_zstd_dumps(name: str, listed: bool) -> None:
    assert matches(name, ("*.sql", "*.sql.gz", "*.sql.zst")) is listed


def test_a_pattern_starting_with_a_dot_may_match_hidden_files() -> None:
    assert matches(".nightly.dump", (".*.dump",)) and not matches(".nightly.dump", ("*.dump",))


def test_configured_patterns_replace_the_default(backup_dir: Path) -> None:
    touch(backup_dir / "db.dump", 1)
    touch(backup_dir / "db.sql", 2)
    assert [f.name for f in list_backups(backup_dir, ["*.dump"]).files] == ["db.dump"]


HOSTILE = ["with space.sql", "new\nline.sql", "-rf.sql", "--all.sql", "Grüße 😀.sql", "'; DROP.sql"]


def test_hostile_names_are_listed_and_shown_on_one_line(backup_dir: Path) -> None:
    for i, name in enumerate(HOSTILE):
        touch(backup_dir / name, 1000 + i)
    raw = os.fsencode(backup_dir) + b"/\xff\xfe.sql"  # not UTF-8
    with open(raw, "wb") as handle:
        handle.write(SQL)
    names = [f.name for f in list_backups(backup_dir).files]
    assert sorted(names) == sorted([*HOSTILE, os.fsdecode(b"\xff\xfe.sql")])
    assert all("\n" not in shown(name) for name in names)
    assert shown("new\nline.sql") == "new\\nline.sql"
    assert shown(os.fsdecode(b"\xff\xfe.sql")) == "\\udcff\\udcfe.sql"
    assert shown("Grüße 😀.sql") == "Grüße 😀.sql"


async def test_hostile_names_are_counted_like_any_other(backup_dir: Path) -> None:
    for i, name in enumerate([*HOSTILE, os.fsdecode(b"\xff\xfe.sql")]):
        touch(backup_dir / name, 1000 + i)
    for file in list_backups(backup_dir).files:
        count = await count_in_child(file.path, ["User"], "app")
        assert (count.rows("User"), count.problem) == (2, None), file.name


def test_directories_fifos_and_sockets_named_like_dumps_are_skipped_unopened(
    backup_dir: Path,
) -> None:
    (backup_dir / "dir.sql").mkdir()
    os.mkfifo(backup_dir / "fifo.sql")  # opening it would block until a writer came
    touch(backup_dir / "good.sql", 1)
    listing = list_backups(backup_dir)
    assert [f.name for f in listing.files] == ["good.sql"]
    assert [(s.name, s.reason) for s in listing.skipped] == [
        ("dir.sql", "not a regular file (a directory)"),
        ("fifo.sql", "not a regular file (a FIFO)"),
    ]


def test_a_symlink_inside_the_directory_is_followed_to_its_file(backup_dir: Path) -> None:
    real = touch(backup_dir / "real.sql", 5)
    (backup_dir / "latest.sql").symlink_to("real.sql")
    files = {f.name: f for f in list_backups(backup_dir).files}
    assert files["latest.sql"].path == real.resolve()
    assert files["latest.sql"].size == len(SQL)
    assert count_rows(files["latest.sql"].path, ["User"], "app").rows("User") == 2


def test_symlinks_out_of_the_directory_or_broken_are_skipped(
    backup_dir: Path, tmp_path: Path
) -> None:
    secret = touch(tmp_path / "elsewhere.sql", 1)
    (backup_dir / "escape.sql").symlink_to(secret)
    (backup_dir / "dotdot.sql").symlink_to("../elsewhere.sql")
    (backup_dir / "broken.sql").symlink_to("nothing.sql")
    listing = list_backups(backup_dir)
    assert listing.files == ()
    assert [(s.name, s.reason) for s in listing.skipped] == [
        ("broken.sql", "a broken symlink"),
        ("dotdot.sql", "a symlink pointing outside the backup directory"),
        ("escape.sql", "a symlink pointing outside the backup directory"),
    ]


def test_a_missing_directory_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    listing = list_backups(tmp_path / "absent")
    assert listing.files == ()
    assert listing.problem == "cannot list the backup directory: No such file or directory"


def test_a_file_growing_between_two_looks_is_still_being_written(backup_dir: Path) -> None:
    path = touch(backup_dir / "app.sql", 1000, SQL[:20])
    first = list_backups(backup_dir)
    with path.open("ab") as handle:  # the dump job writes on
        handle.write(SQL[20:])
    os.utime(path, (1000, 1000))  # even with the mtime unchanged, the size moved
    second = list_backups(backup_dir)
    assert still_being_written(second, first, now=5000, settle=60) == {"app.sql"}
    assert still_being_written(list_backups(backup_dir), second, now=5000, settle=60) == set()


def test_a_file_younger_than_the_settle_time_is_still_being_written(backup_dir: Path) -> None:
    touch(backup_dir / "app.sql", 1000)
    listing = list_backups(backup_dir)
    assert still_being_written(listing, None, now=1030, settle=60) == {"app.sql"}
    assert still_being_written(listing, listing, now=1061, settle=60) == set()


def test_a_file_first_seen_already_old_is_settled(backup_dir: Path) -> None:
    touch(backup_dir / "copied-in.sql", 1000)
    assert still_being_written(list_backups(backup_dir), None, now=90000, settle=60) == set()


def file(name: str, size: int, mtime: int) -> BackupFile:
    return BackupFile(name, Path(name), size, mtime * 10**9)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ([], None),
        ([file("a.sql", 10, 9)], None),
        ([file("c.sql", 50, 9), file("b.sql", 100, 8), file("a.sql", 120, 7)], (50, 110.0, 2)),
        # only dumps of the same compression are comparable
        ([file("c.sql.gz", 10, 9), file("b.sql", 100, 8), file("a.sql.gz", 12, 7)], (10, 12, 1)),
        # the window: the 7 most recent earlier dumps
        ([file("n.sql", 1, 99)] + [file(f"{i}.sql", i, i) for i in range(1, 20)], (1, 4, 7)),
    ],
    ids=["none", "one", "median", "same kind", "window"],
)
def test_the_newest_size_is_compared_with_the_median_of_earlier_ones(
    files: list[BackupFile], expected: tuple[int, float, int] | None
) -> None:
    comparison = compare_sizes(files)
    got = (
        None if comparison is None else (comparison.newest, comparison.median, comparison.compared)
    )
    assert got == expected


def test_the_drop_is_the_fraction_below_the_median() -> None:
    comparison = compare_sizes([file("b.sql", 25, 2), file("a.sql", 100, 1)])
    assert comparison is not None and comparison.drop() == 0.75
