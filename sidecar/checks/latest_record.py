"""`<table>:latestRecord`: the newest timestamp, its age, and whether it moved backwards.

`MAX(column)` reads one end of an index when the column leads one; without such an index it
scans the table, which the check says (once in the log, and in its details).
"""

import logging
from typing import Any

from sidecar import identifiers
from sidecar.checks.base import CycleContext
from sidecar.config import TableConfig
from sidecar.database import DatabaseError, ErrorKind
from sidecar.durations import format_duration
from sidecar.results import CheckResult, Status
from sidecar.timestamps import iso, to_epoch

log = logging.getLogger("sidecar.checks.latest_record")

# Clocks of two hosts disagree a little; beyond this a newest record "from the future" is data.
FUTURE_SKEW = 300.0
# Timestamps are compared at millisecond precision (DATETIME(3), as Prisma writes them).
BACKWARDS_TOLERANCE = 0.001

_INDEXED = (
    "SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()"
    " AND TABLE_NAME = %s AND COLUMN_NAME = %s AND SEQ_IN_INDEX = 1 LIMIT 1"
)


class LatestRecordCheck:
    """Newest record of one table: staleness, future dates, and backwards movement."""

    def __init__(self, table: TableConfig) -> None:
        assert table.timestamp_column is not None
        self.table = table
        self.column = table.timestamp_column
        self.key = f"{table.name}:latestRecord"
        self.unit = "s"
        t, c = identifiers.quote(table.name), identifiers.quote(self.column)
        self._sql = f"SELECT (SELECT MAX({c}) FROM {t}), EXISTS(SELECT 1 FROM {t})"
        self._indexed: bool | None = None

    async def run(self, ctx: CycleContext) -> CheckResult:
        """Read MAX(column) and hold it against max_age, the clock and the remembered newest."""
        memory = ctx.memory.table(self.table.name)
        remembered = memory.newest
        expected: dict[str, Any] = {}
        if self.table.max_age is not None:
            expected["maxAge"] = format_duration(self.table.max_age)
        if remembered is not None:
            expected["notBefore"] = iso(remembered)
        try:
            result = await ctx.db.query(self._sql)
            await self._check_index(ctx)
        except DatabaseError as exc:
            return self._failure(ctx, exc, remembered, expected)
        newest_raw, has_rows = result.rows[0]
        details: dict[str, Any] = {"indexed": self._indexed}
        if newest_raw is None:
            return self._no_value(ctx, bool(has_rows), remembered, expected)
        newest = to_epoch(newest_raw)
        if newest is None:
            output = f"column {self.column} does not hold dates or Unix times"
            return ctx.result(self.key, Status.FAIL, None, "s", output, expected)
        now = ctx.clock()
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
        if status is not Status.FAIL:
            memory.newest = max(memory.newest or newest, newest)
        return ctx.result(self.key, status, round(age, 3), "s", output, expected, **details)

    def _no_value(
        self, ctx: CycleContext, has_rows: bool, remembered: float | None, expected: dict[str, Any]
    ) -> CheckResult:
        if has_rows:
            output = f"rows exist but every {self.column} is NULL"
            return ctx.result(
                self.key, Status.WARN, None, "s", output, expected, indexed=self._indexed
            )
        if remembered is not None or self.table.min_rows:
            seen = f"; newest remembered {iso(remembered)}" if remembered is not None else ""
            return ctx.result(
                self.key,
                Status.FAIL,
                None,
                "s",
                f"table is empty{seen}",
                expected,
                indexed=self._indexed,
            )
        output = "table is empty (no records remembered yet)"
        return ctx.result(self.key, Status.WARN, None, "s", output, expected, indexed=self._indexed)

    def _failure(
        self,
        ctx: CycleContext,
        exc: DatabaseError,
        remembered: float | None,
        expected: dict[str, Any],
    ) -> CheckResult:
        if exc.kind is ErrorKind.MISSING_COLUMN:
            output = f"column {self.column} does not exist"
            return ctx.result(self.key, Status.FAIL, None, "s", output, expected)
        if exc.kind is ErrorKind.MISSING_TABLE:
            if remembered is None and not self.table.min_rows:
                output = "table does not exist (no records remembered yet)"
                return ctx.result(self.key, Status.WARN, None, "s", output, expected)
            seen = f"; newest remembered {iso(remembered)}" if remembered is not None else ""
            return ctx.result(
                self.key, Status.FAIL, None, "s", f"table does not exist{seen}", expected
            )
        return ctx.result(self.key, Status.FAIL, None, "s", exc.reason, expected)

    async def _check_index(self, ctx: CycleContext) -> None:
        if self._indexed is not None:
            return
        result = await ctx.db.query(_INDEXED, [self.table.name, self.column])
        self._indexed = bool(result.rows)
        if not self._indexed:
            log.warning(
                "%s.%s leads no index: MAX() scans the whole table every cycle; "
                "consider CREATE INDEX on it",
                self.table.name,
                self.column,
            )

    async def aclose(self) -> None:
        """Nothing runs in the background."""
