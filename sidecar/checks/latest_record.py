"""`<table>:latestRecord`: the newest timestamp, its age, and whether it moved backwards.

`MAX(column)` reads one end of an index when the column leads one; without such an index it
scans the table, which the check says (once in the log, and in its details).

Deleting rows is not going back in time: when the newest record moves backwards while the
table's row count (this cycle's `rowCount` observation) went down by a few rows and the table
was not created anew, the newest rows were deleted (a user closed their account); the
remembered newest follows it back, and the check passes (warns when the newest record is now
more than a day older). An older dump (rows gone beyond that, the count not down at all, or
the table created anew) fails.

Many watched tables cost few statements: the newest records of tables whose column leads an
index are read together, many to a statement (checks/batch.py); a column that does not lead
one, and a table that failed last cycle, is read on its own so it slows or fails only itself.
"""

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sidecar.checks.base import JudgeContext, Judgement, ObserveContext, Problem, metric_labels
from sidecar.checks.batch import ATTRIBUTABLE, grouped
from sidecar.checks.continuity import RowCount, continuity
from sidecar.config import TableConfig
from sidecar.durations import approximate, format_duration
from sidecar.engines.base import Database, DatabaseError, Dialect, ErrorKind, groups
from sidecar.plural import counted
from sidecar.results import JSON, Family, PerfDatum, Sample, Status
from sidecar.state import SetNewest
from sidecar.timestamps import OutOfRange, iso, to_epoch

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
# At most this share of the table (and at least one row) deleted explains a newest record that
# moved backwards; beyond it, rows went missing the way an older backup loses them.
DELETED_SHARE = 0.05
# A newest record that deletions moved back by more than this is worth a word.
DELETED_BACK_NOTE = 86400.0


def newest_sql(dialect: Dialect, columns: Sequence[tuple[str, str]]) -> str:
    """One statement reading MAX(column) and whether rows exist, for each (table, column)."""
    parts = []
    for table, column in columns:
        t, c = dialect.quote(table), dialect.quote(column)
        parts += [f"(SELECT MAX({c}) FROM {t})", f"EXISTS(SELECT 1 FROM {t})"]
    return "SELECT " + ", ".join(parts)


async def newest_records(
    db: Database, columns: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[Any, Any] | DatabaseError]:
    """(newest raw value, has rows) of the (table, column) pairs asked for together."""

    async def ask(group: Sequence[tuple[str, str]]) -> list[tuple[Any, Any]]:
        row = (await db.query(newest_sql(db.dialect, group))).rows[0]
        return [(row[2 * i], row[2 * i + 1]) for i in range(len(group))]

    return await grouped(groups(sorted(columns)), ask)


async def indexed_columns(
    db: Database, columns: list[tuple[str, str]]
) -> dict[tuple[str, str], bool | DatabaseError]:
    """Whether each (table, column) asked for together leads an index."""
    leading = await db.dialect.leading_index(db, columns)
    return {pair: pair in leading for pair in columns}


@dataclass(frozen=True)
class LatestRecord:
    """The newest value of a table's timestamp column."""

    table: str
    newest: float | None  # epoch seconds; None when there is no (usable) value
    has_rows: bool
    is_time: bool  # False when the column holds something that is not a date or Unix time
    indexed: bool | None  # whether the column leads an index (None: not known yet)
    not_a_time: str = ""  # why the newest value is no time (a number out of range)


class LatestRecordCheck:
    """Newest record of one table: staleness, future dates, and backwards movement."""

    unit = UNIT

    def __init__(self, table: TableConfig) -> None:
        assert table.timestamp_column is not None
        self.table = table
        self.column = table.timestamp_column
        self.key = f"{table.name}:latestRecord"
        self.labels = metric_labels("latestRecord", table.name)
        self._pair = (table.name, self.column)
        self._indexed: bool | None = None
        self._alone = False  # read on its own: its last read failed

    async def observe(self, ctx: ObserveContext) -> LatestRecord:
        """Read MAX(column), and once whether an index serves it."""
        indexed = self._indexed
        if indexed is None:
            lookups = ctx.batch("latestRecord:indexed", partial(indexed_columns, ctx.db))
            indexed = await lookups.get(self._pair)
        try:
            if indexed and not self._alone:
                together = ctx.batch("latestRecord:newest", partial(newest_records, ctx.db))
                raw, has_rows = await together.get(self._pair)
            else:
                raw, has_rows = (await ctx.db.query(newest_sql(ctx.db.dialect, [self._pair]))).rows[
                    0
                ]
        except DatabaseError as exc:
            self._alone = exc.kind in ATTRIBUTABLE
            raise
        self._alone = False
        if self._indexed is None:
            # Kept once the column was read: a table missing now may get its index later.
            self._indexed = indexed
            if not self._indexed:
                log.warning(
                    "%s.%s leads no index: MAX() scans the whole table every cycle; "
                    "consider CREATE INDEX on it",
                    self.table.name,
                    self.column,
                )
        try:
            newest = to_epoch(raw) if raw is not None else None
        except OutOfRange as exc:
            return LatestRecord(
                self.table.name, None, bool(has_rows), False, self._indexed, str(exc)
            )
        is_time = raw is None or newest is not None
        return LatestRecord(self.table.name, newest, bool(has_rows), is_time, self._indexed)

    def judge(self, seen: LatestRecord | Problem, ctx: JudgeContext) -> Judgement:
        """Hold the newest record against max_age, the clock and the remembered newest."""
        name = self.table.name
        table = ctx.memory.tables.get(name)
        remembered = table.newest if table else None
        expected: dict[str, JSON] = {}
        if self.table.max_age is not None:
            expected["maxAge"] = format_duration(self.table.max_age)
        if remembered is not None:
            expected["notBefore"] = iso(remembered)
        if isinstance(seen, Problem):
            return Judgement(*self._problem(seen, remembered), expected)
        details: dict[str, JSON] = {} if seen.indexed is None else {"indexed": seen.indexed}
        if seen.not_a_time:
            return Judgement(Status.FAIL, None, f"newest record {seen.not_a_time}", expected)
        if not seen.is_time:
            output = f"column {self.column} does not hold dates or Unix times"
            return Judgement(Status.FAIL, None, output, expected)
        if seen.newest is None:
            status, output = self._no_value(seen.has_rows, remembered)
            return Judgement(status, None, output, expected, details)
        newest = seen.newest
        age = ctx.now - newest
        details["newestRecord"] = iso(newest)
        status, output = Status.PASS, ""
        if remembered is not None and newest < remembered - BACKWARDS_TOLERANCE:
            status, output = self._backwards(newest, remembered, ctx)
        elif age < -FUTURE_SKEW:
            status = Status.WARN
            output = f"newest record is {approximate(-age)} in the future ({iso(newest)})"
        elif self.table.max_age is not None and age > self.table.max_age:
            status = Status.WARN
            output = (
                f"newest record is {approximate(age)} old, "
                f"older than max_age {format_duration(self.table.max_age)}"
            )
        lessons: tuple[SetNewest, ...] = ()
        if status is not Status.FAIL and newest != remembered:
            # Forward as records arrive; backward only when deletions explained it.
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

    def _backwards(self, newest: float, remembered: float, ctx: JudgeContext) -> tuple[Status, str]:
        """Deleted newest rows pass (or warn); anything else that goes back in time fails."""
        moved = f"newest record moved backwards from {iso(remembered)} to {iso(newest)}"
        rows = next((r for r in ctx.seen(RowCount) if r.table == self.table.name), None)
        evidence = continuity(rows, ctx.memory.tables.get(self.table.name)) if rows else None
        if evidence is None or evidence.was is None:
            return Status.FAIL, f"{moved} (an older backup or another volume?)"
        if evidence.recreated:
            return Status.FAIL, f"{moved} and the table was created anew (an older backup?)"
        deleted = evidence.was - evidence.count
        limit = max(1, math.ceil(evidence.was * DELETED_SHARE))
        if deleted < 1:
            return Status.FAIL, f"{moved} while no rows were deleted (an older backup?)"
        if deleted > limit:
            return (
                Status.FAIL,
                f"{moved} and {counted(deleted, 'row')} {'is' if deleted == 1 else 'are'} gone "
                "(an older backup?)",
            )
        if rows is not None and rows.kind == "estimate":
            return Status.WARN, f"{moved}; the row count (an estimate) went down by about {deleted}"
        back = remembered - newest
        if back > DELETED_BACK_NOTE:
            return Status.WARN, (
                f"{moved} ({approximate(back)} back) after {counted(deleted, 'row')} "
                f"{'was' if deleted == 1 else 'were'} deleted: "
                "the newest rows deleted, or an older backup?"
            )
        return Status.PASS, ""

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
