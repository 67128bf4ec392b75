"""The backup directory looked at once a cycle: what `list_backups` would say, for a bounded cost.

A small `hot` and `sweep` stand in for a year of dumps: with 40 files and 2 + 4 stat'ed a
look, the sweep path is the one a directory of 10,000 takes.
"""

import math
import os
import time
from pathlib import Path

import pytest

from sidecar.backups import lister as lister_module
from sidecar.backups.catalog import list_backups
from sidecar.backups.lister import Lister, Look

SQL = b"-- MariaDB dump\nINSERT INTO User VALUES (1),(2);\n-- Dump completed\n"
NOW = time.time()
SETTLE = 120.0


def dumps(directory: Path, count: int) -> list[Path]:
    """`count` dumps an hour apart, the newest an hour old; the directory's own mtime set
    back, as a year-old directory's is (a change within RACY of a scan forces a rescan)."""
    paths = []
    for index in range(count):
        path = directory / f"app-{index:03d}.sql"
        path.write_bytes(SQL)
        os.utime(path, (NOW - 3600 * (index + 1),) * 2)
        paths.append(path)
    settle_directory(directory)
    return paths


def settle_directory(directory: Path) -> None:
    os.utime(directory, (NOW - 600, NOW - 600))


def names(look: Look) -> list[str]:
    return [f.name for f in look.listing.files]


@pytest.mark.parametrize("bulk", [10, 512])  # sorted anew, or each change bisected in
def test_a_look_says_what_list_backups_says_newest_first(
    backup_dir: Path, bulk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lister_module, "BULK", bulk)
    paths = dumps(backup_dir, 40)
    (backup_dir / "dir.sql").mkdir()
    (backup_dir / "link.sql").symlink_to(backup_dir / "app-005.sql")
    (backup_dir / "notes.txt").write_text("not a dump")
    lister = Lister(backup_dir, ("*.sql",), hot=2, sweep=4)
    for turn in range(3):
        if turn == 2:  # changes in between: one rewritten, one gone, one new
            paths[1].write_bytes(SQL * 2)  # among the newest: stat'ed every look
            paths[7].unlink()
            (backup_dir / "app-new.sql").write_bytes(SQL)
        look = lister.look(NOW, SETTLE)
        listed = list_backups(backup_dir, ("*.sql",))
        assert look.listing.files == listed.files
        assert look.listing.skipped == listed.skipped
        assert look.writing == (frozenset() if turn < 2 else {paths[1].name, "app-new.sql"})


def test_an_unchanged_directory_costs_a_bounded_number_of_stats(backup_dir: Path) -> None:
    dumps(backup_dir, 400)
    lister = Lister(backup_dir, ("*.sql",), hot=8, sweep=16)
    first = lister.look(NOW, SETTLE)
    assert first.stated == 400 and first.changed
    for _ in range(5):
        again = lister.look(NOW, SETTLE)
        assert again.stated <= 8 + 16
        assert not again.changed and again.listing is first.listing


def test_a_new_dump_is_listed_at_the_next_look(backup_dir: Path) -> None:
    dumps(backup_dir, 40)
    lister = Lister(backup_dir, ("*.sql",), hot=2, sweep=4)
    lister.look(NOW, SETTLE)
    (backup_dir / "app-new.sql").write_bytes(SQL)  # the directory's mtime moves: names reread
    look = lister.look(time.time(), SETTLE)
    assert names(look)[0] == "app-new.sql" and look.changed
    assert look.writing == {"app-new.sql"}  # too young to be finished
    (backup_dir / "app-new.sql").unlink()
    assert "app-new.sql" not in names(lister.look(time.time(), SETTLE))


def test_an_old_dump_rewritten_in_place_is_seen_within_a_round_of_the_sweep(
    backup_dir: Path,
) -> None:
    paths = dumps(backup_dir, 40)
    lister = Lister(backup_dir, ("*.sql",), hot=2, sweep=4)
    lister.look(NOW, SETTLE)
    old = paths[30]
    old.write_bytes(SQL + b"-- more\n")  # same name, new content: the directory's mtime holds
    os.utime(old, (NOW - 3600 * 31,) * 2)
    settle_directory(backup_dir)
    for _ in range(math.ceil(40 / 4) + 1):  # a round of the sweep, and the rescan after it
        look = lister.look(NOW, SETTLE)
        if old.name in look.writing:
            break
    else:
        raise AssertionError("the rewritten dump was never seen")
    assert next(f.size for f in look.listing.files if f.name == old.name) == len(SQL) + 8
    assert look.listing.files == list_backups(backup_dir, ("*.sql",)).files


def test_a_dump_the_verdict_stands_on_is_stated_every_look(backup_dir: Path) -> None:
    paths = dumps(backup_dir, 40)
    lister = Lister(backup_dir, ("*.sql",), hot=2, sweep=4)
    lister.look(NOW, SETTLE)
    candidate = paths[35]  # an old restore candidate: its change matters at once
    candidate.write_bytes(b"")
    settle_directory(backup_dir)
    look = lister.look(NOW, SETTLE, hot={candidate.name})
    assert candidate.name in look.writing
    assert next(f.size for f in look.listing.files if f.name == candidate.name) == 0


def test_a_missing_directory_is_a_problem(tmp_path: Path) -> None:
    look = Lister(tmp_path / "absent", ("*.sql",)).look(NOW, SETTLE)
    assert look.listing.files == ()
    assert look.listing.problem == "cannot list the backup directory: No such file or directory"
