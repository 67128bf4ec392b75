"""History survives a clock jump (issue 20, row 11): a sample far from the last one, ahead or
back, never rebuckets the past, and a restart replays the same decision from the journal.

The clock is injected: each test says which times the cycles finish at."""

import asyncio
from collections.abc import Iterable
from pathlib import Path

from sidecar.durations import approximate
from sidecar.history import Event, History, Kind
from sidecar.history.clock import JUMP
from sidecar.history.history import COMPACT_LINES, CycleSample, TableSample
from sidecar.history.series import DAY
from sidecar.results import Status

T0 = 1_790_000_000.0  # November 2026
YEAR = 365 * DAY


class Clock:
    """An injected wall clock: real 5 s steps, and whatever jump a test sets it to."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def tick(self, seconds: float = 5.0) -> float:
        self.now += seconds
        return self.now


def sample(time: float, rows: int = 14) -> CycleSample:
    return CycleSample(time, 0.003, Status.PASS, {"User": TableSample(rows, 14, 0, 7, 60)})


def record(history: History, times: Iterable[float]) -> None:
    async def run() -> None:
        for time in times:
            await history.record(sample(time), [], False)

    asyncio.run(run())


def buckets(history: History) -> list[list[float]]:
    """Every tier's bucket starts, of the table and of the cycles alike."""
    found = []
    for series in (history.tables["User"], history.cycles):
        for tier in series.tiers:
            found.append([p.time for p in tier.points()])
    return found


def notes(history: History) -> list[Event]:
    return [e for e in history.recent(limit=10_000) if e.kind is Kind.STATE]


def reloaded(directory: Path) -> History:
    again = History(directory, ["User"])
    assert again.load() == []
    return again


def test_one_sample_ten_years_ahead_is_set_aside_and_the_tiers_keep_their_past(
    tmp_path: Path,
) -> None:
    clock = Clock()
    history = History(tmp_path, ["User"])
    history.load()
    before = [clock.tick() for _ in range(120)]  # ten minutes of real time
    record(history, before)
    record(history, [clock.now + 10 * YEAR])  # one sample from a clock ten years ahead
    after = [clock.tick() for _ in range(12)]
    record(history, after)
    real = before + after
    table_5s, table_1m, table_1h, *_ = buckets(history)
    # The 5 s tier still has a bucket per real sample: nothing collapsed into one bucket.
    assert table_5s == [5 * (t // 5) for t in real]
    assert table_1m == sorted({60 * (t // 60) for t in real})
    assert table_1h == sorted({3600 * (t // 3600) for t in real})
    assert all(max(tier) <= clock.now for tier in buckets(history))
    (note,) = notes(history)
    assert note.status is Status.WARN
    assert f"the clock jumped {approximate(10 * YEAR)} ahead for one sample" in note.message
    assert note.time == after[0]  # told when real time came back, at real time
    history.close()
    # The journal holds the sample as it came: the restart decides the same, and says nothing new.
    again = reloaded(tmp_path)
    assert buckets(again) == buckets(history)
    assert [e.message for e in notes(again)] == [note.message]


def test_the_decision_survives_compaction_and_a_restart_while_the_sample_is_held(
    tmp_path: Path,
) -> None:
    clock = Clock()
    history = History(tmp_path, ["User"])
    history.load()
    record(history, [clock.tick() for _ in range(COMPACT_LINES - 1)])
    record(history, [clock.now + 10 * YEAR])  # held, and folded into the snapshot
    history.close()
    assert (tmp_path / "history.log").read_bytes() == b""  # compacted just now
    again = reloaded(tmp_path)
    assert again.clock.held is not None
    record(again, [clock.tick()])  # after the restart, real time again
    assert all(max(tier) <= clock.now for tier in buckets(again))
    assert len(buckets(again)[0]) == COMPACT_LINES
    assert f"the clock jumped {approximate(10 * YEAR)} ahead" in notes(again)[0].message


def test_a_sidecar_stopped_for_three_days_goes_on_where_the_clock_is(tmp_path: Path) -> None:
    """A long gap that the next sample confirms is real time: taken, and nothing told."""
    clock = Clock()
    history = History(tmp_path, ["User"])
    history.load()
    before = [clock.tick() for _ in range(10)]
    record(history, before)
    history.close()
    again = reloaded(tmp_path)
    clock.tick(3 * DAY)
    later = [clock.now, clock.tick(), clock.tick()]
    record(again, later)
    assert buckets(again)[0] == later  # the 24h tier keeps the last day: only the new ones
    assert buckets(again)[1] == sorted({60 * (t // 60) for t in before + later})  # 7d: both
    assert notes(again) == []


def test_a_clock_set_back_for_good_drops_what_is_now_in_the_future(tmp_path: Path) -> None:
    clock = Clock()
    history = History(tmp_path, ["User"])
    history.load()
    record(history, [clock.tick() for _ in range(20)])
    last = clock.now
    clock.now -= DAY  # the clock was a day ahead, and is put right
    after = [clock.tick() for _ in range(12)]
    record(history, after)
    # Every real sample after the step has a bucket of its own: none merged into the future.
    assert buckets(history)[0] == [5 * (t // 5) for t in after]
    (note,) = notes(history)
    assert f"the clock went back {approximate(last - after[0])}: " in note.message
    assert "dropped" in note.message
    history.close()
    assert buckets(reloaded(tmp_path)) == buckets(history)


def test_one_sample_a_day_back_is_set_aside(tmp_path: Path) -> None:
    clock = Clock()
    history = History(tmp_path, ["User"])
    history.load()
    before = [clock.tick() for _ in range(10)]
    record(history, [*before, clock.now - DAY])
    after = [clock.tick() for _ in range(3)]
    record(history, after)
    assert buckets(history)[0] == before + after
    assert f"the clock jumped {approximate(DAY)} back for one sample" in notes(history)[0].message


def test_a_short_step_back_merges_into_the_newest_bucket_without_a_word(tmp_path: Path) -> None:
    clock = Clock()
    history = History(tmp_path, ["User"])
    history.load()
    before = [clock.tick() for _ in range(10)]
    record(history, [*before, clock.now - JUMP / 2])
    assert buckets(history)[0] == before
    assert notes(history) == []


def test_a_snapshot_from_before_the_guard_loads_with_its_newest_bucket_as_the_last_time(
    tmp_path: Path,
) -> None:
    clock = Clock()
    history = History(tmp_path, ["User"])
    history.load()
    record(history, [clock.tick() for _ in range(10)])
    snapshot = history.snapshot()
    del snapshot["clock"]  # as main wrote it before the guard
    history.files.compact(snapshot)  # type: ignore[union-attr]
    again = reloaded(tmp_path)
    assert again.clock.last == 5 * (clock.now // 5) and again.clock.held is None
    record(again, [clock.now + 10 * YEAR, clock.tick()])
    assert all(max(tier) <= clock.now for tier in buckets(again))
