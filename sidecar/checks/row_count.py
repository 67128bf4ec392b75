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
from dataclasses import dataclass
from typing import Literal

from sidecar import identifiers
from sidecar.checks.base import Judgement, ObserveContext, Problem
from sidecar.config import TableConfig
from sidecar.database import Database, DatabaseError, ErrorKind
from sidecar.results import JSON, Family, PerfDatum, Sample, Status
from sidecar.state import Memory, SetHighWater

log = logging.getLogger("sidecar.checks.row_count")

UNIT = "rows"
ROWS = Family("sidecar_table_rows", "Rows in the table", ("table",))
ESTIMATED = Family(
    "sidecar_table_rows_estimated",
    "1 when sidecar_table_rows is InnoDB's estimate, 0 when exact",
    ("table",),
)
HIGH_WATER = Family("sidecar_table_rows_high_water", "Remembered high-water row count", ("table",))

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


@dataclass(frozen=True)
class RowCount:
    """How many rows a table holds, and what kind of number that is."""

    table: str
    count: int
    kind: Literal["exact", "estimate"]
    at_least: int | None = None  # a probe bounded by the line found at least this many
    # The latest background full count (count, when), on the large-table path only.
    last_exact: tuple[int, float] | None = None


def line(table: TableConfig, high_water: int | None) -> int:
    """The smallest count that passes: the floor, or the allowed drop below high water."""
    drop_line = 0
    if high_water:
        drop_line = math.ceil(high_water * (1 - table.max_drop))
    return max(table.min_rows, drop_line)


def high_water_of(memory: Memory, table: str, last_exact: tuple[int, float] | None) -> int | None:
    """The remembered mark, raised by a background full count (between counts it follows it)."""
    remembered = memory.tables.get(table)
    mark = remembered.high_water if remembered else None
    if last_exact is not None:
        mark = max(mark or 0, last_exact[0]) or None
    return mark


def judge_count(
    table: TableConfig, count: int, at_least: int | None, high_water: int | None
) -> tuple[Status, str]:
    """The verdict rules on a count: empty, below the floor, dropped below the mark."""
    if count == 0:
        if table.min_rows or high_water:
            remembered = f"; {high_water} rows remembered" if high_water else ""
            return Status.FAIL, f"table is empty (floor {table.min_rows}{remembered})"
        return Status.WARN, "table is empty (no floor set, no rows remembered yet)"
    if at_least is None and count < table.min_rows:
        return Status.FAIL, f"{count} rows, below the floor of {table.min_rows}"
    if high_water and at_least is None and count < line(table, high_water):
        drop = 1 - count / high_water
        return (
            Status.FAIL,
            f"{count} rows, down {drop:.0%} from the remembered {high_water} "
            f"(max_drop {table.max_drop:.0%})",
        )
    return Status.PASS, ""


def judge_problem(
    table: TableConfig, problem: Problem, high_water: int | None
) -> tuple[Status, str]:
    """The verdict when the table could not be counted."""
    if problem.kind is ErrorKind.MISSING_TABLE:
        if not (table.min_rows or high_water):
            return Status.WARN, "table does not exist (no floor set, no rows remembered yet)"
        remembered = f"; {high_water} rows remembered" if high_water else ""
        return Status.FAIL, f"table does not exist{remembered}"
    return Status.FAIL, problem.reason


class RowCountCheck:
    """Row count of one table against its floor and its high-water mark."""

    unit = UNIT

    def __init__(self, table: TableConfig) -> None:
        self.table = table
        self.key = f"{table.name}:rowCount"
        self.labels = (("check", self.key),)
        self._quoted = identifiers.quote(table.name)
        self._background: asyncio.Task[None] | None = None
        self._last_exact: tuple[int, float] | None = None  # (count, when) from the background

    async def observe(self, ctx: ObserveContext) -> RowCount:
        """Count (or estimate and bound) the rows."""
        db, name = ctx.db, self.table.name
        estimate = await self._estimate(db)
        if estimate is None or estimate < self.table.exact_count_below:
            result = await db.query(f"SELECT COUNT(*) FROM {self._quoted}")
            return RowCount(name, int(result.rows[0][0]), "exact")
        last = self._last_exact
        mark = line(self.table, high_water_of(ctx.memory, name, last))
        near = bool(mark) and estimate < mark * _PROBE_MARGIN
        # A probe as large as the line would cost what a full count costs and could outlive
        # the cycle's budget: then count the table in the background now, and until that
        # count is in, judge on the estimate. A recent full count below the line settles it.
        probe_fits = near and mark <= self.table.exact_count_below
        self._schedule_exact(ctx, urgent=near and not probe_fits)
        if not near:
            return RowCount(name, estimate, "estimate", last_exact=last)
        if probe_fits:
            probe = await db.query(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM {self._quoted} LIMIT %s) AS probe", [mark]
            )
            seen = int(probe.rows[0][0])
            if seen < mark:
                return RowCount(name, seen, "exact", last_exact=last)  # all of it fitted
            return RowCount(name, max(estimate, mark), "estimate", mark, last)
        interval = self.table.exact_count_interval
        if last is not None and last[0] < mark and ctx.clock() - last[1] < interval:
            return RowCount(name, last[0], "exact", last_exact=last)
        return RowCount(name, estimate, "estimate", last_exact=last)

    def judge(self, seen: RowCount | Problem, memory: Memory, now: float) -> Judgement:
        """Hold the count against the floor and the remembered mark; raise the mark when healthy."""
        name = self.table.name
        stored = memory.tables[name].high_water if name in memory.tables else None
        if isinstance(seen, Problem):
            status, output = judge_problem(self.table, seen, stored)
            return Judgement(status, None, output, self._expected(stored))
        mark = high_water_of(memory, name, seen.last_exact)
        status, output = judge_count(self.table, seen.count, seen.at_least, mark)
        if status is Status.FAIL and seen.kind == "estimate":
            output = f"about {output} (InnoDB estimate; exact count under way)"
        if status is not Status.FAIL and seen.kind == "exact":
            mark = max(mark or 0, seen.count) or None
        details: dict[str, JSON] = {"countKind": seen.kind, "highWater": mark}
        if seen.at_least is not None:
            details["atLeast"] = seen.at_least
        if seen.last_exact is not None and seen.kind == "estimate":
            details["lastExactCount"] = seen.last_exact[0]
            details["lastExactAge"] = round(now - seen.last_exact[1])
        expected = self._expected(mark)
        floor = expected.get("atLeast", expected.get("minRows"))
        samples = [
            Sample(ROWS, seen.count, (name,)),
            Sample(ESTIMATED, int(seen.kind == "estimate"), (name,)),
        ]
        if mark:
            samples.append(Sample(HIGH_WATER, mark, (name,)))
        return Judgement(
            status,
            seen.count,
            output,
            expected,
            {k: v for k, v in details.items() if v is not None},
            samples=tuple(samples),
            perfdata=(PerfDatum(self.key, seen.count, crit=f"{floor}:" if floor else ""),),
            lessons=(SetHighWater(name, mark),) if mark != stored else (),
        )

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

    def _expected(self, high_water: int | None) -> dict[str, JSON]:
        expected: dict[str, JSON] = {"minRows": self.table.min_rows}
        if high_water:
            expected["maxDrop"] = self.table.max_drop
            expected["atLeast"] = line(self.table, high_water)
        return expected

    def _schedule_exact(self, ctx: ObserveContext, urgent: bool) -> None:
        last = self._last_exact
        interval = self.table.exact_count_interval
        if urgent:
            interval = min(interval, _URGENT_EVERY)
        due = last is None or ctx.clock() - last[1] >= interval
        if due and (self._background is None or self._background.done()):
            self._background = asyncio.create_task(self._exact_count(ctx))

    async def _exact_count(self, ctx: ObserveContext) -> None:
        db = ctx.db
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
