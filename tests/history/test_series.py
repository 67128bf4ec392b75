"""The bounded tiers: a year of 5 s cycles costs what their capacity says, never more."""

import asyncio
import math
from collections.abc import Callable
from pathlib import Path

from sidecar.history.files import HistoryFiles
from sidecar.history.history import TABLE_COLUMNS, CycleSample, History, TableSample
from sidecar.history.series import DAY, TIERS, Column, Series, TierSpec, bound
from sidecar.results import Status

YEAR = 365 * DAY


def year_of_cycles(add: Callable[[float], object], start: float = 1_700_000_000.0) -> float:
    """Feed a year, at the finest rate each tier can tell apart: hourly until the last week,
    every minute until the last day, every 5 s in the last day; return the end time."""
    t, end = start, start + YEAR
    while t < end:
        left = end - t
        add(t)
        t += 3600 if left > 8 * DAY else 60 if left > DAY + 60 else 5
    return end


def test_a_simulated_year_fills_every_tier_to_its_capacity_and_no_further() -> None:
    series = Series(TABLE_COLUMNS)
    row = (14.0, 14.0, 14.0, 0.0, 7.0, 3.0)
    year_of_cycles(lambda t: series.add(t, row))
    for tier in series.tiers:
        assert tier.spec.capacity - 2 <= len(tier) <= tier.spec.capacity + tier.spec.slack
        newest = tier.buckets[-1] * tier.spec.resolution
        assert (
            tier.oldest is not None
            and newest - tier.oldest <= tier.spec.span + tier.spec.slack * tier.spec.resolution
        )
    assert series.nbytes <= bound(len(TABLE_COLUMNS))
    # The stated bound: 3 tiers x (capacity + slack) x 7 arrays of 8 bytes.
    assert bound(len(TABLE_COLUMNS)) < 2_200_000


def test_five_second_cycles_for_a_week_stay_within_the_same_bound() -> None:
    """The bound does not depend on how fast samples come: buckets merge them."""
    series = Series((Column("v", "max"),))
    t = 0.0
    while t < 8 * DAY:
        series.add(t, (t,))
        t += 1.0  # faster than the finest bucket
    assert len(series.tiers[0]) <= TIERS[0].capacity + TIERS[0].slack
    assert series.nbytes <= bound(1)


def test_buckets_keep_a_drop_inside_them() -> None:
    """An hour bucket keeps the lowest and the highest row count of its hour."""
    series = Series(TABLE_COLUMNS[:2])
    for i, rows in enumerate([14, 14, 1, 14]):
        series.add(3600 * 10 + i * 60, (float(rows), float(rows)))
    hour = series.tiers[-1]
    (point,) = list(hour.points())
    assert point.values == (1.0, 14.0)


def test_a_missing_value_never_hides_a_seen_one() -> None:
    series = Series((Column("low", "min"), Column("last", "last")))
    series.add(0.0, (5.0, 5.0))
    series.add(1.0, (math.nan, math.nan))  # not observed (the database was down)
    (point,) = list(series.tiers[0].points())
    assert point.values == (5.0, 5.0)


def test_a_window_is_drawn_from_the_finest_tier_that_keeps_it() -> None:
    series = Series((Column("v", "max"),))
    for i in range(2 * 17280):
        series.add(i * 5.0, (float(i),))
    now = 2 * 17280 * 5.0
    day = series.window(now - DAY, now, 300)
    assert len(day) <= 300 and day.resolution >= 5.0
    assert day.columns["v"][-1] == 2 * 17280 - 1  # the newest sample, merged by max
    assert series.window(now - 7 * DAY, now, 10_000).resolution == 60.0


def test_a_tier_round_trips_through_json() -> None:
    spec = TierSpec("t", 5.0, 60.0)
    series = Series((Column("a", "min"), Column("b", "max")), (spec,))
    for i in range(30):
        series.add(i * 5.0, (float(i), math.nan if i % 3 else float(i)))
    again = Series(series.columns, (spec,))
    again.load_json(series.to_json())

    def plain(s: Series) -> list[tuple[float, tuple[float | None, ...]]]:
        return [
            (p.time, tuple(None if math.isnan(v) else v for v in p.values))
            for p in s.tiers[0].points()
        ]

    assert plain(again) == plain(series)
    assert spec.capacity <= len(plain(series)) <= spec.capacity + spec.slack


def test_a_year_of_history_in_a_file_stays_small(tmp_path: Path) -> None:
    """A simulated year with values that move like real ones: bounded in memory, and its
    snapshot small on disk, loading back whole."""
    history = History(None, ["User"])  # in memory: the year is fed without the journal
    times: list[float] = []
    year_of_cycles(times.append)

    async def feed() -> None:
        for n, t in enumerate(times):
            rows = 1000 + n // 50  # the table grows
            table = TableSample(rows, rows, 0, math.ceil(rows / 2), 60.0 + n % 600)
            cycle = CycleSample(t, 0.002 + (n % 7) / 1000, Status.PASS, {"User": table})
            await history.record(cycle, [], False)

    asyncio.run(feed())
    assert history.nbytes <= bound(len(TABLE_COLUMNS)) + bound(2)
    size = HistoryFiles(tmp_path).compact(history.snapshot())
    assert 0 < size < 1_500_000
    reloaded = History(tmp_path, ["User"])
    assert reloaded.load() == []
    assert [len(t) for t in reloaded.tables["User"].tiers] == [
        len(t) for t in history.tables["User"].tiers
    ]
