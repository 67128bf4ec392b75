"""The history the service keeps: samples per watched table and per cycle, and the events.

In memory it is bounded (series.py: three tiers per series; at most `MAX_EVENTS` events). With
a state directory every change is journalled and compacted into a snapshot (files.py), so it
survives restarts. Whatever goes wrong with the files is an event and a log line, and the
history carries on in memory: it never touches the verdict.

Journal entries and their replay share one code path (`_apply`), so what a restart rebuilds is
what the running service had.
"""

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidecar.history import shapes
from sidecar.history.clock import ClockGuard
from sidecar.history.events import Event, Kind
from sidecar.history.files import MAX_SEQ, HistoryFiles
from sidecar.history.series import Column, Series
from sidecar.results import Status

log = logging.getLogger("sidecar.history")

# Per watched table. `min_allowed` is the fewest rows that pass (the floor, or the allowed drop
# below the high-water mark); `floor` is the configured floor alone.
TABLE_COLUMNS = (
    Column("rows_min", "min"),
    Column("rows", "max"),
    Column("high_water", "max"),
    Column("floor", "max"),
    Column("min_allowed", "max"),
    Column("newest_age", "max"),
)
# Per cycle: how long it took, and the verdict's severity (0 pass, 1 warn, 2 fail).
CYCLE_COLUMNS = (Column("duration", "max"), Column("verdict", "max"))
MAX_EVENTS = 2000
# What parsing a damaged entry may raise: `shapes` turns every wrong value into a ValueError;
# KeyError and TypeError are kept as a net (an entry is never worth a crash).
MALFORMED = (KeyError, TypeError, ValueError)
# The journal is folded into the snapshot after this many lines (about 5.7 h of 5 s cycles).
COMPACT_LINES = 4096
# Cycle samples reach the disk at least this often; events and marks at once.
SYNC_EVERY = 60.0


@dataclass(frozen=True)
class TableSample:
    """What one cycle saw of a table (None: not observed)."""

    rows: float | None = None
    high_water: float | None = None
    floor: float | None = None
    min_allowed: float | None = None
    newest_age: float | None = None

    def row(self) -> tuple[float, ...]:
        """The sample in TABLE_COLUMNS order, NaN for None."""
        values = (self.rows, self.rows, self.high_water, self.floor, self.min_allowed)
        return tuple(math.nan if v is None else float(v) for v in (*values, self.newest_age))

    def to_json(self) -> list[float | None]:
        """`[rows, high_water, floor, min_allowed, newest_age]`."""
        return [self.rows, self.high_water, self.floor, self.min_allowed, self.newest_age]


@dataclass(frozen=True)
class CycleSample:
    """One cycle: when it finished, how long it took, its verdict, and the tables."""

    time: float
    duration: float
    verdict: Status
    tables: Mapping[str, TableSample] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The journal's form."""
        return {
            "t": round(self.time, 3),
            "d": round(self.duration, 6),
            "v": str(self.verdict),
            "tables": {name: sample.to_json() for name, sample in self.tables.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> "CycleSample":
        """Parse the journal's form; a ValueError (`Malformed`) when it is not one."""
        data = shapes.obj(data, "a cycle")
        tables = {}
        for name, values in shapes.obj(shapes.get(data, "tables"), "tables").items():
            values = shapes.seq(values, f"table {name!r}")
            if len(values) != len(TABLE_COLUMNS) - 1:
                raise shapes.Malformed(f"table {name!r} must have {len(TABLE_COLUMNS) - 1} values")
            tables[shapes.text(name, "a table's name")] = TableSample(
                *(shapes.optional_number(v, f"a value of {name!r}") for v in values)
            )
        return cls(
            shapes.moment(shapes.get(data, "t"), "t"),
            shapes.number(shapes.get(data, "d"), "d"),
            Status(shapes.text(shapes.get(data, "v"), "v")),
            tables,
        )


@dataclass
class CheckMark:
    """A check's status, since when it has had it, and the gist of its reason."""

    status: Status
    since: float
    gist: str = ""


@dataclass
class Marks:
    """What the recorder compares each report with: the last of everything it told."""

    verdict: Status | None = None
    verdict_since: float | None = None
    checks: dict[str, CheckMark] = field(default_factory=dict)
    identity: dict[str, str | None] = field(
        default_factory=dict
    )  # source -> shown value; None: gone
    pin: str | None = None
    baseline_at: float | None = None  # when the remembered identity was recorded
    adopted_at: float | None = None  # the last `sidecar adopt` taken up

    def to_json(self) -> dict[str, Any]:
        """The journal's and snapshot's form."""
        return {
            "verdict": None if self.verdict is None else str(self.verdict),
            "verdict_since": self.verdict_since,
            "checks": {k: [str(m.status), m.since, m.gist] for k, m in self.checks.items()},
            "identity": self.identity,
            "pin": self.pin,
            "baseline_at": self.baseline_at,
            "adopted_at": self.adopted_at,
        }

    @classmethod
    def from_json(cls, data: Any) -> "Marks":
        """Parse `to_json`'s form; a ValueError (`Malformed`) when it is not one."""
        data = shapes.obj(data, "marks")
        verdict = shapes.optional_text(shapes.get(data, "verdict"), "verdict")
        checks = {}
        for key, mark in shapes.obj(shapes.get(data, "checks"), "checks").items():
            mark = shapes.seq(mark, f"check {key!r}")
            if len(mark) != 3:
                raise shapes.Malformed(f"check {key!r} must be [status, since, gist]")
            status, since, reason = mark
            checks[shapes.text(key, "a check's key")] = CheckMark(
                Status(shapes.text(status, "a check's status")),
                shapes.moment(since, "a check's since"),
                shapes.text(reason, "a check's gist"),
            )
        identity = {
            shapes.text(k, "an identity source"): shapes.optional_text(v, f"identity {k!r}")
            for k, v in shapes.obj(shapes.get(data, "identity"), "identity marks").items()
        }
        return cls(
            None if verdict is None else Status(verdict),
            shapes.optional_moment(shapes.get(data, "verdict_since"), "verdict_since"),
            checks,
            identity,
            shapes.optional_text(shapes.get(data, "pin"), "pin"),
            shapes.optional_moment(shapes.get(data, "baseline_at"), "baseline_at"),
            shapes.optional_moment(shapes.get(data, "adopted_at"), "adopted_at"),
        )


def newest(events: Iterable[Event], since: float | None, limit: int) -> list[Event]:
    """The events after `since` (epoch seconds), newest first, at most `limit`."""
    # Sorted, not just reversed: an adopt or a first sighting is told when it is noticed,
    # with the time it happened.
    found = [e for e in events if since is None or e.time > since]
    found.sort(key=lambda e: e.time, reverse=True)
    return found[:limit]


class History:
    """Samples, events and marks; journalled in `directory` when there is one."""

    def __init__(self, directory: Path | None, tables: Iterable[str]) -> None:
        self.files = HistoryFiles(directory) if directory is not None else None
        self.names = tuple(tables)
        self.revision = 0  # changes with every change: what a rendered page is cached against
        self.failing: str | None = None  # why the files cannot be written, while they cannot
        self._journal_lines = 0
        self._last_sync = -math.inf
        self._clear()

    def _clear(self) -> None:
        self.tables = {name: Series(TABLE_COLUMNS) for name in self.names}
        self.cycles = Series(CYCLE_COLUMNS)
        self.events: deque[Event] = deque(maxlen=MAX_EVENTS)
        self.marks = Marks()
        self.clock: ClockGuard[CycleSample] = ClockGuard()
        self._seq = 0

    # -- reading ---------------------------------------------------------------------------
    def load(self, repair: bool = True) -> list[str]:
        """Read what the files hold; return the problems found.

        With `repair` (the service) unreadable files are set aside and each problem becomes an
        event; without it (`sidecar events`) nothing on disk is touched.
        """
        if self.files is None:
            return []
        found = self.files.read()
        problems = list(found.problems)
        if found.snapshot is not None:
            try:
                self._restore(found.snapshot)
            except MALFORMED as exc:
                problems.append(
                    f"{self.files.snapshot_path.name} is corrupt ({type(exc).__name__}: {exc})"
                )
                found.corrupt.append(self.files.snapshot_path.name)
                self._clear()
        malformed: list[str] = []
        for entry in found.lines:
            try:
                self._apply(entry)
            except MALFORMED as exc:
                malformed.append(str(exc))
            self._seq = max(self._seq, int(entry["seq"]))
        if malformed:
            name = self.files.journal_path.name
            count = (
                "1 malformed entry"
                if len(malformed) == 1
                else f"{len(malformed)} malformed entries"
            )
            problems.append(f"{count} of {name} skipped (first: {malformed[0][:200]})")
            found.corrupt.append(name)
        self._journal_lines = found.journal_lines
        if repair and problems:
            for name in dict.fromkeys(found.corrupt):
                try:
                    aside = self.files.set_aside(name)
                except OSError as exc:
                    log.warning("cannot set %s aside: %s", name, exc.strerror)
                else:
                    problems = [f"{p}; set aside as {aside}" if name in p else p for p in problems]
            for problem in problems:
                log.warning("history: %s", problem)
                self._add_event(Event(time.time(), Kind.STATE, f"history: {problem}", Status.WARN))
            self._compact_now()
        self.revision += 1
        return problems

    def _restore(self, snapshot: dict[str, Any]) -> None:
        self._seq = shapes.whole(shapes.get(snapshot, "through"), "through", 0, MAX_SEQ)
        for name, data in shapes.obj(shapes.get(snapshot, "tables"), "tables").items():
            if name in self.tables:  # a table no longer watched is dropped
                self.tables[name].load_json(data)
        self.cycles.load_json(shapes.get(snapshot, "cycles"))
        self.events.extend(
            Event.from_json(e) for e in shapes.seq(shapes.get(snapshot, "events"), "events")
        )
        self.marks = Marks.from_json(shapes.get(snapshot, "marks"))
        # Snapshots written before the guard have no "clock": the newest bucket stands in.
        clock = shapes.obj(snapshot.get("clock", {}), "clock")
        held = clock.get("held")
        self.clock = ClockGuard(
            shapes.optional_moment(clock.get("last", self.cycles.newest), "the clock's last"),
            None if held is None else CycleSample.from_json(held),
        )

    def _take(self, cycle: CycleSample) -> str | None:
        """Add what the clock guard lets through of `cycle`; return what it has to tell."""
        decision = self.clock.offer(cycle)
        if decision.rewind is not None:
            for series in (self.cycles, *self.tables.values()):
                series.rewind(decision.rewind)
        for taken in decision.take:
            self.cycles.add(taken.time, (taken.duration, float(taken.verdict.severity)))
            for name, sample in taken.tables.items():
                if name in self.tables:
                    self.tables[name].add(taken.time, sample.row())
        return decision.note

    def _apply(self, entry: Mapping[str, Any]) -> None:
        # Replayed: what the guard had to tell is in the journal already, as an event.
        if "cycle" in entry:
            self._take(CycleSample.from_json(entry["cycle"]))
        if "event" in entry:
            self.events.append(Event.from_json(entry["event"]))
        if "marks" in entry:
            self.marks = Marks.from_json(entry["marks"])

    def recent(self, since: float | None = None, limit: int = 100) -> list[Event]:
        """Events after `since` (epoch seconds), newest first, at most `limit`."""
        return newest(self.events, since, limit)

    # -- recording -------------------------------------------------------------------------
    async def record(self, cycle: CycleSample | None, events: Sequence[Event], marks: bool) -> None:
        """Take one cycle's samples and events (and the marks, when they changed); journal them."""
        entries: list[dict[str, Any]] = []
        if cycle is not None:
            # Journalled as it came, whatever the guard decides, and decided on what the
            # journal holds (times to the millisecond): a replay decides the same.
            entries.append({"cycle": cycle.to_json()})
            cycle = CycleSample.from_json(entries[0]["cycle"])
            note = self._take(cycle)
            if note is not None:
                log.warning("history: %s", note)
                events = [*events, Event(cycle.time, Kind.STATE, f"history: {note}", Status.WARN)]
        entries += [{"event": event.to_json()} for event in events]
        if marks:
            entries.append({"marks": self.marks.to_json()})
        for entry in entries:
            self._seq += 1
            entry["seq"] = self._seq
            if "event" in entry:  # the cycle is taken above, the marks are this history's own
                self._apply(entry)
        self.revision += 1
        if self.files is None or not entries:
            return
        now = time.monotonic()
        sync = bool(events) or marks or now - self._last_sync >= SYNC_EVERY
        try:
            await asyncio.to_thread(self.files.append, entries, sync)
            self._journal_lines += len(entries)
            if sync:
                self._last_sync = now
            recovered = self.failing is not None
            if recovered:
                # Lines were lost while it failed (and one may be torn): the snapshot rewrites all.
                self.failing = None
                log.info("the history is written again")
                self._add_event(Event(time.time(), Kind.STATE, "the history is written again"))
            if recovered or self._journal_lines >= COMPACT_LINES:
                snapshot = self.snapshot()
                await asyncio.to_thread(self.files.compact, snapshot)
                self._journal_lines = 0
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        assert self.files is not None
        reason = f"cannot write the history in {self.files.directory}: {exc.strerror}"
        if self.failing is None:
            log.warning("%s; kept in memory only until it can", reason)
            self._add_event(
                Event(time.time(), Kind.STATE, f"{reason}; kept in memory only", Status.WARN)
            )
        self.failing = reason

    def _add_event(self, event: Event) -> None:
        """An event about the history itself: in memory now, on disk with the next compaction."""
        self.events.append(event)
        self.revision += 1

    def _compact_now(self) -> None:
        if self.files is None:
            return
        try:
            self.files.compact(self.snapshot())
            self._journal_lines = 0
        except OSError as exc:
            self._failed(exc)

    def snapshot(self) -> dict[str, Any]:
        """Everything, as the snapshot file holds it."""
        return {
            "through": self._seq,
            "tables": {name: series.to_json() for name, series in self.tables.items()},
            "cycles": self.cycles.to_json(),
            "events": [event.to_json() for event in self.events],
            "marks": self.marks.to_json(),
            "clock": {
                "last": self.clock.last,
                "held": None if self.clock.held is None else self.clock.held.to_json(),
            },
        }

    def close(self) -> None:
        """Make everything journalled durable."""
        if self.files is not None:
            try:
                self.files.sync()
            except OSError as exc:
                log.warning("cannot sync the history: %s", exc.strerror)

    @property
    def nbytes(self) -> int:
        """Bytes the series' arrays hold."""
        return self.cycles.nbytes + sum(series.nbytes for series in self.tables.values())
