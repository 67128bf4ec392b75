"""The ledger: each dump counted once, recounted when it changes, kept across restarts."""

import json
import os
import re
import time
from pathlib import Path

import pytest

from sidecar.backups.catalog import BackupFile
from sidecar.backups.dump import DumpCount, DumpProblem, ProblemKind, TableRows
from sidecar.backups.ledger import LEDGER_FILE, Entry, Ledger, LedgerError

FILE = BackupFile("app-2026-11-25.sql.gz", Path("/backups/app-2026-11-25.sql.gz"), 1234, 10**18)
COUNT = DumpCount(
    database="app",
    tables=("User", "Note"),
    counts=(TableRows("app", "User", 14), TableRows("other", "User", 3)),
    databases=("app", "other"),
    complete=True,
    compression="gzip",
    sql_bytes=99_000,
)


def failed(kind: ProblemKind) -> DumpCount:
    return DumpCount(database="app", tables=("User",), problem=DumpProblem(kind, "why"))


def test_a_recorded_count_is_found_for_the_same_file() -> None:
    ledger = Ledger().record(FILE, COUNT, now=100.0)
    assert ledger.lookup(FILE, ["User"], "app", now=200.0) == COUNT
    assert Ledger().lookup(FILE, ["User"], "app", now=200.0) is None


@pytest.mark.parametrize(
    "changed",
    [
        BackupFile(FILE.name, FILE.path, FILE.size + 1, FILE.mtime_ns),
        BackupFile(FILE.name, FILE.path, FILE.size, FILE.mtime_ns + 1),
        BackupFile("other.sql.gz", FILE.path, FILE.size, FILE.mtime_ns),
    ],
    ids=["size", "mtime", "name"],
)
def test_a_file_changed_in_place_is_counted_again(changed: BackupFile) -> None:
    assert Ledger().record(FILE, COUNT, 1.0).lookup(changed, ["User"], "app", 2.0) is None


def test_a_newly_watched_table_or_another_database_is_counted_again() -> None:
    ledger = Ledger().record(FILE, COUNT, 1.0)
    assert ledger.lookup(FILE, ["User", "Post"], "app", 2.0) is None
    assert ledger.lookup(FILE, ["User"], "shop", 2.0) is None
    assert ledger.lookup(FILE, ["Note"], "app", 2.0) == COUNT


@pytest.mark.parametrize("kind", [ProblemKind.UNREADABLE, ProblemKind.BUDGET])
def test_problems_of_the_moment_are_retried_after_a_while(kind: ProblemKind) -> None:
    ledger = Ledger().record(FILE, failed(kind), now=1000.0)
    assert ledger.lookup(FILE, ["User"], "app", now=1000.0 + 3599) is not None
    assert ledger.lookup(FILE, ["User"], "app", now=1000.0 + 3600) is None
    assert ledger.lookup(FILE, ["User"], "app", now=1010.0, retry_after=5) is None


@pytest.mark.parametrize(
    "kind", [ProblemKind.TRUNCATED, ProblemKind.NOT_A_DUMP, ProblemKind.OTHER_DATABASE]
)
def test_problems_of_the_file_stand_as_long_as_the_file(kind: ProblemKind) -> None:
    ledger = Ledger().record(FILE, failed(kind), now=0.0)
    assert ledger.lookup(FILE, ["User"], "app", now=10**9) == failed(kind)


def test_recording_a_name_again_replaces_its_entry_and_keep_forgets_vanished_files() -> None:
    newer = BackupFile(FILE.name, FILE.path, 99, FILE.mtime_ns + 5)
    gone = BackupFile("old.sql", Path("/backups/old.sql"), 1, 1)
    ledger = Ledger().record(gone, COUNT, 1.0).record(FILE, COUNT, 1.0).record(newer, COUNT, 2.0)
    assert [(e.name, e.size) for e in ledger.entries] == [("old.sql", 1), (FILE.name, 99)]
    assert [e.name for e in ledger.keep([newer]).entries] == [FILE.name]


def test_the_ledger_survives_a_restart_hostile_names_and_all(tmp_path: Path) -> None:
    names = ["new\nline.sql", "-rf.sql", "Grüße 😀.sql", os.fsdecode(b"\xff.sql")]
    ledger = Ledger()
    for i, name in enumerate(names):
        ledger = ledger.record(BackupFile(name, Path(name), i, i), COUNT, float(i))
    ledger = ledger.record(FILE, failed(ProblemKind.TRUNCATED), 9.5)
    ledger.save(tmp_path / LEDGER_FILE)
    assert Ledger.load(tmp_path / LEDGER_FILE) == Ledger(
        tuple(sorted(ledger.entries, key=lambda e: e.name))
    )


def test_no_ledger_file_is_an_empty_ledger(tmp_path: Path) -> None:
    assert Ledger.load(tmp_path / LEDGER_FILE) == Ledger()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is corrupt (not JSON: "),
        (json.dumps({"format": 99, "entries": []}), "unknown ledger format 99"),
        (json.dumps({"format": 1, "entries": [{"name": "x"}]}), "the backup ledger is malformed"),
        (
            json.dumps(
                {
                    "format": 1,
                    "entries": [
                        {**Ledger().record(FILE, COUNT, 1).to_json()["entries"][0], "size": "big"}
                    ],
                }
            ),
            "the backup ledger is malformed",
        ),
    ],
    ids=["not json", "format", "missing keys", "wrong type"],
)
def test_a_damaged_ledger_is_reported(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / LEDGER_FILE).write_text(content)
    with pytest.raises(LedgerError, match=re.escape(message)):
        Ledger.load(tmp_path / LEDGER_FILE)


def test_a_year_of_dumps_is_looked_up_by_index_not_by_scanning() -> None:
    """10,000 dumps, each looked up once: a scan per lookup made this 10^8 comparisons (13 s
    here); by name it is 10^4 (well under a second, however busy the machine)."""
    files = [
        BackupFile(f"app-{i:05d}.sql.gz", Path(f"/b/app-{i:05d}.sql.gz"), 1000 + i, i)
        for i in range(10_000)
    ]
    ledger = Ledger(tuple(Entry(f.name, f.size, f.mtime_ns, 1.0, COUNT) for f in files))
    began = time.process_time()
    found = [ledger.lookup(f, ["User"], "app", 2.0) for f in files]
    assert time.process_time() - began < 2.0
    assert found == [COUNT] * len(files)
