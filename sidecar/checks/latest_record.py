"""`<table>:latestRecord`: the newest timestamp, its age, and whether it moved backwards.

`MAX(column)` reads one end of an index when the column leads one; without such an index it
scans the table, which the check says (once in the log, and in its details).
"""

import logging
from dataclasses import dataclass

from sidecar import identifiers
from sidecar.checks.base import Judgement, ObserveContext, Problem
from sidecar.config import TableConfig
from sidecar.database import ErrorKind
from sidecar.durations import format_duration
from sidecar.results import JSON, Family, PerfDatum, Sample, Status
from sidecar.state import Memory, SetNewest
from sidecar.timestamps import iso, to_epoch

log = logging.getLogger("sidecar.checks.latest_record")

UNIT = "s"
NEWEST = Family(
    "sidecar_table_latest_record_timestamp_seconds", "Unix time of the newest record", ("table",)
)
AGE = Family("sidecar_table_latest_record_age_seconds", "Age of the newest record", ("table",))

# Clocks of two hosts disagree a little; beyond this a newest record "from the future" is data.
FUTURE_SKEW = 300.0
# Timestamps are compared at millisecond precision (DATETIME(3), as Prisma writes them).
BACKWARDS_TOLERANCE = 0.001

_INDEXED = (
    "SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()"
    " AND TABLE_NAME = %s AND COLUMN_NAME = %s AND SEQ_IN_INDEX = 1 LIMIT 1"
)


@dataclass(frozen=True)
class LatestRecord:
    """The newest value of a table's timestamp column."""

    table: str
    newest: float | None  # epoch seconds; None when there is no (usable) value
    has_rows: bool
    is_time: bool  # False when the column holds something that is not a date or Unix time
    indexed: bool | None  # whether the column leads an index (None: not known yet)


class LatestRecordCheck:
    """Newest record of one table: staleness, future dates, and backwards movement."""

    unit = UNIT

    def __init__(self, table: TableConfig) -> None:
        assert table.timestamp_column is not None
        self.table = table
        self.column = table.timestamp_column
        self.key = f"{table.name}:latestRecord"
        self.labels = (("check", self.key),)
        t, c = identifiers.quote(table.name), identifiers.quote(self.column)
        self._sql = f"SELECT (SELECT MAX({c}) FROM {t}), EXISTS(SELECT 1 FROM {t})"
        self._indexed: bool | None = None

    async def observe(self, ctx: ObserveContext) -> LatestRecord:
        """Read MAX(column), and once whether an index serves it."""
        result = await ctx.db.query(self._sql)
        if self._indexed is None:
            found = await ctx.db.query(_INDEXED, [self.table.name, self.column])
            self._indexed = bool(found.rows)
            if not self._indexed:
                log.warning(
                    "%s.%s leads no index: MAX() scans the whole table every cycle; "
                    "consider CREATE INDEX on it",
                    self.table.name,
                    self.column,
                )
        raw, has_rows = result.rows[0]
        newest = to_epoch(raw) if raw is not None else None
        is_time = raw is None or newest is not None
        return LatestRecord(self.table.name, newest, bool(has_rows), is_time, self._indexed)

    def judge(self, seen: LatestRecord | Problem, memory: Memory, now: float) -> Judgement:
        """Hold the newest record against max_age, the clock and the remembered newest."""
        name = self.table.name
        remembered = memory.tables[name].newest if name in memory.tables else None
        expected: dict[str, JSON] = {}
        if self.table.max_age is not None:
            expected["maxAge"] = format_duration(self.table.max_age)
        if remembered is not None:
            expected["notBefore"] = iso(remembered)
        if isinstance(seen, Problem):
            return Judgement(*self._problem(seen, remembered), expected)
        details: dict[str, JSON] = {} if seen.indexed is None else {"indexed": seen.indexed}
        if not seen.is_time:
            output = f"column {self.column} does not hold dates or Unix times"
            return Judgement(Status.FAIL, None, output, expected)
        if seen.newest is None:
            status, output = self._no_value(seen.has_rows, remembered)
            return Judgement(status, None, output, expected, details)
        newest = seen.newest
        age = now - newest
        details["newestRecord"] = iso(newest)
        status, output = Status.PASS, ""
        if remembered is not None and newest < remembered - BACKWARDS_TOLERANCE:
            status = Status.FAIL
            output = (
                f"newest record moved backwards from {iso(remembered)} to {iso(newest)} "
                "(an older backup or another volume?)"
            )
        elif age < -FUTURE_SKEW:
            status = Status.WARN
            output = (
                f"newest record is {format_duration(round(-age))} in the future ({iso(newest)})"
            )
        elif self.table.max_age is not None and age > self.table.max_age:
            status = Status.WARN
            output = (
                f"newest record is {format_duration(round(age))} old, "
                f"older than max_age {format_duration(self.table.max_age)}"
            )
        lessons: tuple[SetNewest, ...] = ()
        if status is not Status.FAIL and (remembered is None or newest > remembered):
            lessons = (SetNewest(name, newest),)
        return Judgement(
            status,
            round(age, 3),
            output,
            expected,
            details,
            samples=(Sample(AGE, round(age, 3), (name,)), Sample(NEWEST, newest, (name,))),
            perfdata=(PerfDatum(self.key, round(age, 3), "s"),),
            lessons=lessons,
        )

    def _no_value(self, has_rows: bool, remembered: float | None) -> tuple[Status, str]:
        if has_rows:
            return Status.WARN, f"rows exist but every {self.column} is NULL"
        if remembered is not None or self.table.min_rows:
            seen = f"; newest remembered {iso(remembered)}" if remembered is not None else ""
            return Status.FAIL, f"table is empty{seen}"
        return Status.WARN, "table is empty (no records remembered yet)"

    def _problem(self, problem: Problem, remembered: float | None) -> tuple[Status, None, str]:
        if problem.kind is ErrorKind.MISSING_COLUMN:
            return Status.FAIL, None, f"column {self.column} does not exist"
        if problem.kind is ErrorKind.MISSING_TABLE:
            if remembered is None and not self.table.min_rows:
                return Status.WARN, None, "table does not exist (no records remembered yet)"
            seen = f"; newest remembered {iso(remembered)}" if remembered is not None else ""
            return Status.FAIL, None, f"table does not exist{seen}"
        return Status.FAIL, None, problem.reason

    async def aclose(self) -> None:
        """Nothing runs in the background."""
