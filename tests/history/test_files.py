"""The history on disk: it survives restarts and crashes, and a damaged file is set aside,
reported as an event, and never stops the history (or the verdict) from carrying on."""

import asyncio
import gzip
import signal
import subprocess
import sys
import time
from pathlib import Path

from sidecar.history import Event, History, Kind
from sidecar.history.files import JOURNAL, SNAPSHOT, HistoryFiles, decode, encode
from sidecar.history.history import COMPACT_LINES, CycleSample, TableSample
from sidecar.results import Status

T0 = 1_800_000_000.0


def cycle(n: int, rows: int = 14) -> CycleSample:
    return CycleSample(T0 + 5 * n, 0.003, Status.PASS, {"User": TableSample(rows, 14, 0, 7, 60)})


def record(history: History, *cycles: CycleSample, events: tuple[Event, ...] = ()) -> None:
    async def run() -> None:
        for i, c in enumerate(cycles):
            await history.record(c, events if i == 0 else (), False)

    asyncio.run(run())


def test_samples_and_events_survive_a_restart(tmp_path: Path) -> None:
    history = History(tmp_path, ["User"])
    history.load()
    failed = Event(T0 + 5, Kind.VERDICT, "verdict fail (was pass): rows gone", Status.FAIL)
    record(history, cycle(0), cycle(1, rows=1), events=(failed,))
    history.close()
    again = History(tmp_path, ["User"])
    assert again.load() == []
    assert again.recent() == [failed]
    points = list(again.tables["User"].tiers[0].points())
    assert [p.values[0] for p in points] == [14.0, 1.0]


def test_a_torn_last_line_is_dropped_without_a_word(tmp_path: Path) -> None:
    history = History(tmp_path, ["User"])
    record(history, cycle(0), cycle(1))
    history.close()
    with open(tmp_path / JOURNAL, "ab") as journal:
        journal.write(encode({"seq": 99, "cycle": {}})[:20])  # a crash mid-write
    again = History(tmp_path, ["User"])
    assert again.load() == []
    assert len(list(again.tables["User"].tiers[0].points())) == 2


def test_a_damaged_journal_line_is_reported_and_the_rest_kept(tmp_path: Path) -> None:
    history = History(tmp_path, ["User"])
    record(history, cycle(0), cycle(1), cycle(2))
    history.close()
    lines = (tmp_path / JOURNAL).read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"d"', b'"D"')  # the checksum no longer matches
    (tmp_path / JOURNAL).write_bytes(b"".join(lines))
    again = History(tmp_path, ["User"])
    problems = again.load()
    assert problems == [f"1 damaged lines of {JOURNAL} skipped; set aside as {JOURNAL}.corrupt"]
    assert (tmp_path / f"{JOURNAL}.corrupt").exists()
    assert len(list(again.tables["User"].tiers[0].points())) == 2
    (warning,) = again.recent()
    assert warning.kind is Kind.STATE and warning.status is Status.WARN
    assert "damaged lines" in warning.message
    # What was kept is in a fresh snapshot: a restart reads it without a problem.
    assert History(tmp_path, ["User"]).load() == []


def test_a_corrupt_snapshot_is_set_aside_and_the_history_starts_anew(tmp_path: Path) -> None:
    (tmp_path / SNAPSHOT).write_bytes(gzip.compress(b"{not json"))
    history = History(tmp_path, ["User"])
    (problem,) = history.load()
    assert problem.startswith(f"{SNAPSHOT} is corrupt") and problem.endswith(".corrupt")
    assert (tmp_path / f"{SNAPSHOT}.corrupt").read_bytes()  # kept for a look, never deleted
    record(history, cycle(0))
    assert history.recent()[0].kind is Kind.STATE
    history.close()
    assert History(tmp_path, ["User"]).load() == []


def test_a_full_disk_keeps_the_history_in_memory_and_says_so(tmp_path: Path) -> None:
    """/dev/full is a disk that is always full: every write fails with ENOSPC."""
    history = History(tmp_path, ["User"])
    (tmp_path / JOURNAL).symlink_to("/dev/full")
    record(history, cycle(0), cycle(1))
    assert history.failing is not None and "No space left" in history.failing
    (warning,) = history.recent()
    assert warning.kind is Kind.STATE and "kept in memory only" in warning.message
    (tmp_path / JOURNAL).unlink()
    record(history, cycle(2))  # the disk has room again: everything is written at once
    assert history.failing is None
    assert history.recent()[0].message == "the history is written again"
    history.close()
    again = History(tmp_path, ["User"])
    assert again.load() == []
    assert len(list(again.tables["User"].tiers[0].points())) == 3


def test_the_journal_is_folded_into_the_snapshot_and_stays_short(tmp_path: Path) -> None:
    history = History(tmp_path, ["User"])
    record(history, *(cycle(n) for n in range(COMPACT_LINES + 10)))
    history.close()
    lines = (tmp_path / JOURNAL).read_bytes().count(b"\n")
    assert lines < COMPACT_LINES
    again = History(tmp_path, ["User"])
    assert again.load() == []
    assert len(list(again.tables["User"].tiers[0].points())) == COMPACT_LINES + 10


def test_a_line_is_its_checksum_and_its_entry() -> None:
    line = encode({"seq": 1, "event": {"kind": "start"}})
    assert decode(line.rstrip(b"\n")) == {"seq": 1, "event": {"kind": "start"}}
    assert decode(line.replace(b"start", b"stArt").rstrip(b"\n")) is None
    assert decode(b"zz {}") is None


WRITER = """
import asyncio, itertools, sys
from pathlib import Path
from sidecar.history import Event, History, Kind
from sidecar.history.history import CycleSample, TableSample
from sidecar.results import Status

async def main():
    history = History(Path(sys.argv[1]), ["User"])
    history.load()
    for n in itertools.count(1):
        table = TableSample(n, n, 0, 1, 1.0)
        event = Event(float(n), Kind.CHECK, f"event {sys.argv[2]} {n}", Status.WARN)
        await history.record(CycleSample(float(n), 0.001, Status.PASS, {"User": table}),
                             [event] if n % 10 == 0 else [], False)

asyncio.run(main())
"""


def test_kill_9_at_any_moment_leaves_a_history_that_loads(tmp_path: Path) -> None:
    for attempt in range(8):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(attempt)])
        time.sleep(0.4 + attempt * 0.15)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        history = History(tmp_path, ["User"])
        assert history.load(repair=False) == []  # a torn tail is no problem
        events = history.recent(limit=5000)
        # Every event that reached the disk is whole, and none is missing between two others.
        for run in range(attempt + 1):
            numbers = sorted(
                int(e.message.split()[2]) for e in events if e.message.split()[1] == str(run)
            )
            if numbers:  # (the oldest may have given way to the newest MAX_EVENTS)
                assert numbers == list(range(numbers[0], numbers[-1] + 1, 10))
    leftovers = {p.name for p in tmp_path.iterdir()} - {SNAPSHOT, JOURNAL}
    assert all(name.startswith(".history-") for name in leftovers)


def test_reading_never_touches_the_files(tmp_path: Path) -> None:
    """`sidecar events` reads while the service writes: it must not set anything aside."""
    (tmp_path / SNAPSHOT).write_bytes(b"garbage")
    history = History(tmp_path, [])
    (problem,) = history.load(repair=False)
    assert "corrupt" in problem
    assert (tmp_path / SNAPSHOT).read_bytes() == b"garbage"
    assert HistoryFiles(tmp_path).read().corrupt == [SNAPSHOT]
