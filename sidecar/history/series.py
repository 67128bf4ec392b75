"""Samples kept at three resolutions, each for its own span, so memory and disk stay bounded.

Every sample goes into the current bucket of each tier: 5 s buckets for 24 hours, minute
buckets for 7 days, hour buckets for a year. A bucket keeps, per column, the smallest, the
largest or the last value the column asks for (a row count keeps both ends, so a drop inside an
hour bucket still shows). A tier never holds more than `capacity` buckets (its span over its
resolution) plus a trimming slack, whatever the cycle interval, so a year of 5 s cycles costs
what a day of them does: 17,281 + 10,081 + 8,761 buckets per series at most, before the slack.

Values are floats in `array('d')` columns (8 bytes each); NaN stands for "not observed".
"""

import bisect
import itertools
import math
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sidecar.history import shapes

Merge = Literal["min", "max", "last"]
NAN = math.nan


@dataclass(frozen=True)
class Column:
    """One value of a sample and how a bucket merges it."""

    name: str
    merge: Merge


@dataclass(frozen=True)
class TierSpec:
    """Buckets of `resolution` seconds, kept for `span` seconds."""

    name: str
    resolution: float
    span: float

    @property
    def capacity(self) -> int:
        """The most buckets the span holds."""
        return math.ceil(self.span / self.resolution) + 1

    @property
    def slack(self) -> int:
        """How far past its capacity a tier grows before old buckets are cut off in one go
        (cutting the front of an array moves the rest: once per slack, not every cycle)."""
        return max(1, self.capacity // 16)


DAY = 86400.0
TIERS = (
    TierSpec("24h", 5.0, DAY),
    TierSpec("7d", 60.0, 7 * DAY),
    TierSpec("365d", 3600.0, 365 * DAY),
)


def bound(columns: int, tiers: Sequence[TierSpec] = TIERS) -> int:
    """The most bytes one series' arrays may hold (bucket numbers and columns, with slack)."""
    return sum((t.capacity + t.slack) * (columns + 1) * 8 for t in tiers)


def _merge(how: Merge, old: float, new: float) -> float:
    if math.isnan(new):
        return old
    if math.isnan(old) or how == "last":
        return new
    return min(old, new) if how == "min" else max(old, new)


@dataclass(frozen=True)
class Point:
    """One bucket: its start (epoch seconds) and a value per column (NaN: none)."""

    time: float
    values: tuple[float, ...]


class Tier:
    """The buckets of one resolution."""

    def __init__(self, spec: TierSpec, columns: Sequence[Column]) -> None:
        self.spec = spec
        self.columns = tuple(columns)
        self.buckets = array("q")  # bucket number n starts at n * resolution
        self.values = [array("d") for _ in self.columns]

    def __len__(self) -> int:
        return len(self.buckets)

    def add(self, time: float, row: Sequence[float]) -> None:
        """Merge one sample into its bucket (a clock that went back merges into the newest)."""
        number = math.floor(time / self.spec.resolution)
        if self.buckets and number <= self.buckets[-1]:
            for column, values, value in zip(self.columns, self.values, row, strict=True):
                values[-1] = _merge(column.merge, values[-1], value)
            return
        self.buckets.append(number)
        for values, value in zip(self.values, row, strict=True):
            values.append(value)
        self._trim()

    def rewind(self, time: float) -> None:
        """Drop the buckets after the one `time` falls in (a clock that went back for good)."""
        cut = bisect.bisect_right(self.buckets, math.floor(time / self.spec.resolution))
        del self.buckets[cut:]
        for values in self.values:
            del values[cut:]

    def _trim(self) -> None:
        oldest = self.buckets[-1] - self.spec.capacity + 1
        if self.buckets[0] >= oldest - self.spec.slack and len(self.buckets) <= (
            self.spec.capacity + self.spec.slack
        ):
            return
        cut = bisect.bisect_left(self.buckets, oldest)
        del self.buckets[:cut]
        for values in self.values:
            del values[:cut]

    def points(self, since: float | None = None) -> Iterator[Point]:
        """The buckets that end after `since` (all without it), oldest first."""
        resolution = self.spec.resolution
        first = 0
        if since is not None and self.buckets:
            first = bisect.bisect_left(self.buckets, math.floor(since / resolution))
        for i in range(first, len(self.buckets)):
            yield Point(self.buckets[i] * resolution, tuple(v[i] for v in self.values))

    @property
    def oldest(self) -> float | None:
        """The start of the oldest bucket, if any."""
        return self.buckets[0] * self.spec.resolution if self.buckets else None

    def to_json(self) -> dict[str, Any]:
        """Bucket numbers as differences (mostly 1: they compress to nearly nothing)."""
        numbers = list(self.buckets)
        steps = [b - a for a, b in itertools.pairwise(numbers)]
        return {
            "first": numbers[0] if numbers else None,
            "steps": steps,
            "columns": {
                c.name: [_plain(v) for v in vals]
                for c, vals in zip(self.columns, self.values, strict=True)
            },
        }

    def load_json(self, data: Any) -> None:
        """Restore from `to_json`; ValueError (`Malformed`) when it does not fit these columns."""
        data = shapes.obj(data, "a tier")
        first = shapes.get(data, "first")
        steps = shapes.seq(shapes.get(data, "steps"), "steps")
        columns = shapes.obj(shapes.get(data, "columns"), "columns")
        if first is None:
            return
        last = math.floor(shapes.LATEST / self.spec.resolution)
        numbers = [shapes.whole(first, "first", 0, last)]
        for step in steps:
            numbers.append(numbers[-1] + shapes.whole(step, "a step", 1, last))
        if numbers[-1] > last:
            raise shapes.Malformed("bucket numbers run past the latest time")
        buckets = array("q", numbers)
        values = []
        for column in self.columns:
            raw = shapes.seq(shapes.get(columns, column.name), f"column {column.name}")
            if len(raw) != len(numbers):
                raise shapes.Malformed(f"column {column.name} does not match its buckets")
            what = f"a value of {column.name}"
            values.append(array("d", (NAN if v is None else shapes.number(v, what) for v in raw)))
        self.buckets, self.values = buckets, values
        if self.buckets:
            self._trim()


def _reduce(how: Merge, chunk: "array[float]") -> float:
    """`_merge` over a whole chunk."""
    if how == "last":
        return next((v for v in reversed(chunk) if not math.isnan(v)), NAN)
    if not math.isnan(math.fsum(chunk)):  # no NaN in it (the common case): min/max in C
        return min(chunk) if how == "min" else max(chunk)
    seen = [v for v in chunk if not math.isnan(v)]
    if not seen:
        return NAN
    return min(seen) if how == "min" else max(seen)


@dataclass(frozen=True)
class Window:
    """Points of a series: their times and, per column, their values (NaN: none)."""

    resolution: float  # seconds each point stands for
    times: list[float]
    columns: dict[str, list[float]]

    def __len__(self) -> int:
        return len(self.times)


def _plain(value: float) -> float | int | None:
    """A value as compact JSON: null for none, whole numbers without a fraction."""
    if math.isnan(value):
        return None
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return round(value, 3)


class Series:
    """Samples of the same columns at every tier's resolution."""

    def __init__(self, columns: Sequence[Column], tiers: Sequence[TierSpec] = TIERS) -> None:
        self.columns = tuple(columns)
        self.tiers = tuple(Tier(spec, self.columns) for spec in tiers)

    def add(self, time: float, row: Sequence[float]) -> None:
        """Add one sample to every tier."""
        for tier in self.tiers:
            tier.add(time, row)

    def copy(self) -> "Series":
        """A copy another thread may read while this one changes (the arrays are copied)."""
        twin = Series(self.columns, [tier.spec for tier in self.tiers])
        for mine, theirs in zip(self.tiers, twin.tiers, strict=True):
            theirs.buckets = array("q", mine.buckets)
            theirs.values = [array("d", values) for values in mine.values]
        return twin

    def rewind(self, time: float) -> None:
        """Drop every tier's buckets after `time`."""
        for tier in self.tiers:
            tier.rewind(time)

    def tier_for(self, span: float) -> Tier:
        """The finest tier that keeps `span` seconds (every tier gets every sample, so it holds
        all there is of that span); the coarsest for longer spans."""
        return next((t for t in self.tiers if span <= t.spec.span), self.tiers[-1])

    def window(
        self, since: float, until: float, most: int, pause: Callable[[], None] = lambda: None
    ) -> "Window":
        """At most `most` points from `since` on, from the finest tier that keeps the span;
        neighbouring buckets merged by the columns' rules (the reductions run in C: a day of
        5 s buckets becomes a chart's points in about a millisecond). `pause` is called
        between columns (a render in a thread lets the loop's thread run there)."""
        tier = self.tier_for(until - since)
        resolution = tier.spec.resolution
        first = bisect.bisect_left(tier.buckets, math.floor(since / resolution))
        count = len(tier.buckets) - first
        group = max(1, math.ceil(count / most))
        times = [tier.buckets[i] * resolution for i in range(first, len(tier.buckets), group)]
        columns: dict[str, list[float]] = {}
        for column, values in zip(self.columns, tier.values, strict=True):
            part = values[first:]
            if group == 1:
                columns[column.name] = part.tolist()
            else:
                columns[column.name] = [
                    _reduce(column.merge, part[i : i + group]) for i in range(0, count, group)
                ]
            pause()
        return Window(resolution * group, times, columns)

    @property
    def newest(self) -> float | None:
        """The start of the newest bucket (of the finest tier), if any."""
        tier = self.tiers[0]
        return tier.buckets[-1] * tier.spec.resolution if tier.buckets else None

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (what the bound counts)."""
        return sum(
            t.buckets.itemsize * len(t.buckets) + sum(v.itemsize * len(v) for v in t.values)
            for t in self.tiers
        )

    def to_json(self) -> dict[str, Any]:
        """Every tier, keyed by its name."""
        return {tier.spec.name: tier.to_json() for tier in self.tiers}

    def load_json(self, data: Any) -> None:
        """Restore the tiers present in `data`; ValueError when they do not fit."""
        data = shapes.obj(data, "a series")
        for tier in self.tiers:
            if tier.spec.name in data:
                tier.load_json(data[tier.spec.name])
