"""`<table>:rowCount`: a floor, and a drop below the remembered high-water mark.

Its cost must not grow with the table. Below `exact_count_below` rows (by InnoDB's own
estimate) the count is an exact `COUNT(*)`. Above it, the cycle reads the estimate from
information_schema (no table access at all) and, only when the estimate comes near a line
(the floor, or the allowed drop below the high-water mark), confirms with a bounded probe
`SELECT COUNT(*) FROM (SELECT 1 FROM t LIMIT n)` whose cost is bounded by the line, not the
table. Exact counts of large tables run in the background at `exact_count_interval` and keep
the high-water mark honest. The result says which kind of number it is.
"""

import asyncio
import logging
import math

from sidecar import identifiers
from sidecar.checks.base import CycleContext
from sidecar.config import TableConfig
from sidecar.database import Database, DatabaseError, ErrorKind
from sidecar.results import CheckResult, Status

log = logging.getLogger("sidecar.checks.row_count")

_ESTIMATE = (
    "SELECT TABLE_ROWS, ENGINE FROM information_schema.TABLES"
    " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s"
)
# The background exact count may take far longer than a cycle's budget: cap it separately.
_EXACT_BUDGET_FACTOR = 30
# InnoDB's estimate comes from sampled pages (innodb_stats_persistent_sample_pages) and is
# recalculated after 10% of the rows change, so it is off by a few percent and follows real
# drops within seconds. Only an estimate within this factor of the line is worth a probe,
# whose cost grows with the line; above it the estimate alone says "well clear".
_PROBE_MARGIN = 1.25
# A table that stays near its line must not be counted in full every cycle: at most this often.
_URGENT_EVERY = 60.0


class RowCountCheck:
    """Row count of one table against its floor and its high-water mark."""

    def __init__(self, table: TableConfig) -> None:
        self.table = table
        self.key = f"{table.name}:rowCount"
        self.unit = "rows"
        self._quoted = identifiers.quote(table.name)
        self._background: asyncio.Task[None] | None = None
        self._last_exact: tuple[int, float] | None = None  # (count, when) from the background

    async def run(self, ctx: CycleContext) -> CheckResult:
        """Count (or estimate and bound) the rows, then hold them against floor and memory."""
        memory = ctx.memory.table(self.table.name)
        try:
            count, kind, at_least = await self._count(ctx)
        except DatabaseError as exc:
            return self._failure(ctx, exc, memory.high_water)
        expected = self._expected(memory.high_water)
        status, output = self._judge(count, at_least, memory.high_water)
        if status is Status.FAIL and kind == "estimate":
            output = f"about {output} (InnoDB estimate; exact count under way)"
        if status is not Status.FAIL and kind == "exact":
            memory.high_water = max(memory.high_water or 0, count) or None
        details = {"countKind": kind, "highWater": memory.high_water}
        if at_least is not None:
            details["atLeast"] = at_least
        if self._last_exact is not None and kind == "estimate":
            details["lastExactCount"] = self._last_exact[0]
            details["lastExactAge"] = round(ctx.clock() - self._last_exact[1])
        return ctx.result(self.key, status, count, "rows", output, expected, **details)

    async def _count(self, ctx: CycleContext) -> tuple[int, str, int | None]:
        db = ctx.db
        estimate = await self._estimate(db)
        if estimate is None or estimate < self.table.exact_count_below:
            result = await db.query(f"SELECT COUNT(*) FROM {self._quoted}")
            return int(result.rows[0][0]), "exact", None
        self._schedule_exact(ctx)
        if self._last_exact is not None:
            # Between exact counts the high-water mark follows the latest one.
            memory = ctx.memory.table(self.table.name)
            memory.high_water = max(memory.high_water or 0, self._last_exact[0])
        line = self._line(ctx.memory.table(self.table.name).high_water)
        if not line or estimate >= line * _PROBE_MARGIN:
            return estimate, "estimate", None
        if line <= self.table.exact_count_below:
            probe = await db.query(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM {self._quoted} LIMIT %s) AS probe", [line]
            )
            seen = int(probe.rows[0][0])
            if seen < line:
                return seen, "exact", None  # the whole table fitted under the limit
            return max(estimate, line), "estimate", line
        # A probe this large would cost what a full count costs and could outlive the cycle's
        # budget: count the table in the background now, and until that count is in, judge
        # on the estimate. A recent full count below the line settles it.
        self._schedule_exact(ctx, urgent=True)
        recent = self._last_exact
        interval = ctx.config.settings.exact_count_interval
        if recent is not None and recent[0] < line and ctx.clock() - recent[1] < interval:
            return recent[0], "exact", None
        return estimate, "estimate", None

    async def _estimate(self, db: Database) -> int | None:
        result = await db.query(_ESTIMATE, [self.table.name])
        if not result.rows:
            # information_schema hides tables we may not see; ask the table itself why.
            await db.query(f"SELECT 1 FROM {self._quoted} LIMIT 0")
            return None
        rows, engine = result.rows[0]
        # Only InnoDB estimates are kept fresh; other engines (Aria, MyISAM) count exactly.
        if rows is None or str(engine).lower() != "innodb":
            return None
        return int(rows)

    def _line(self, high_water: int | None) -> int:
        """The smallest count that passes: the floor, or the allowed drop below high water."""
        drop_line = 0
        if high_water:
            drop_line = math.ceil(high_water * (1 - self.table.max_drop))
        return max(self.table.min_rows, drop_line)

    def _judge(
        self, count: int, at_least: int | None, high_water: int | None
    ) -> tuple[Status, str]:
        if count == 0:
            if self.table.min_rows or high_water:
                remembered = f"; {high_water} rows remembered" if high_water else ""
                return Status.FAIL, f"table is empty (floor {self.table.min_rows}{remembered})"
            return Status.WARN, "table is empty (no floor set, no rows remembered yet)"
        if at_least is None and count < self.table.min_rows:
            return Status.FAIL, f"{count} rows, below the floor of {self.table.min_rows}"
        if high_water and at_least is None and count < self._line(high_water):
            drop = 1 - count / high_water
            return (
                Status.FAIL,
                f"{count} rows, down {drop:.0%} from the remembered {high_water} "
                f"(max_drop {self.table.max_drop:.0%})",
            )
        return Status.PASS, ""

    def _expected(self, high_water: int | None) -> dict[str, object]:
        expected: dict[str, object] = {"minRows": self.table.min_rows}
        if high_water:
            expected["maxDrop"] = self.table.max_drop
            expected["atLeast"] = self._line(high_water)
        return expected

    def _failure(
        self, ctx: CycleContext, exc: DatabaseError, high_water: int | None
    ) -> CheckResult:
        expected = self._expected(high_water)
        if exc.kind is ErrorKind.MISSING_TABLE:
            if not (self.table.min_rows or high_water):
                return ctx.result(
                    self.key,
                    Status.WARN,
                    None,
                    "rows",
                    "table does not exist (no floor set, no rows remembered yet)",
                    expected,
                )
            remembered = f"; {high_water} rows remembered" if high_water else ""
            output = f"table does not exist{remembered}"
            return ctx.result(self.key, Status.FAIL, None, "rows", output, expected)
        return ctx.result(self.key, Status.FAIL, None, "rows", exc.reason, expected)

    def _schedule_exact(self, ctx: CycleContext, urgent: bool = False) -> None:
        last = self._last_exact
        interval = ctx.config.settings.exact_count_interval
        if urgent:
            interval = min(interval, _URGENT_EVERY)
        due = last is None or ctx.clock() - last[1] >= interval
        if due and (self._background is None or self._background.done()):
            self._background = asyncio.create_task(self._exact_count(ctx.db, ctx))

    async def _exact_count(self, db: Database, ctx: CycleContext) -> None:
        budget = db.timeout * _EXACT_BUDGET_FACTOR
        try:
            # SET STATEMENT lifts the session's max_statement_time for this one query only.
            result = await db.query(
                f"SET STATEMENT max_statement_time={budget:.0f} FOR "
                f"SELECT COUNT(*) FROM {self._quoted}",
                timeout=budget,
            )
        except DatabaseError as exc:
            log.warning("exact count of %s failed: %s", self.table.name, exc.reason)
            return
        self._last_exact = (int(result.rows[0][0]), ctx.clock())

    async def aclose(self) -> None:
        """Cancel a background exact count still running."""
        if self._background is not None and not self._background.done():
            self._background.cancel()
            await asyncio.gather(self._background, return_exceptions=True)
