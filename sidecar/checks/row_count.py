"""`<table>:rowCount`: a floor, and a drop below the remembered high-water mark.

Its cost must not grow with the table. Below `exact_count_below` rows (by the server's own
estimate: InnoDB's on MariaDB, the planner's and the statistics system's on PostgreSQL) the
count is an exact `COUNT(*)`. Above it, the cycle reads the estimate from the catalogue (no
table access at all) and, only when the estimate comes near a line
(the floor, or the allowed drop below the high-water mark), confirms with a bounded probe
`SELECT COUNT(*) FROM (SELECT 1 FROM t LIMIT n)` whose cost is bounded by the line, not the
table. Exact counts of large tables run in the background at `exact_count_interval` and keep
the high-water mark honest. The result says which kind of number it is.

Nor with the number of watched tables: the estimates of every watched table come from one
catalogue lookup a cycle, and the exact counts of small tables are asked together, many to a
statement (checks/batch.py).
"""

import asyncio
import logging
import math
from collections.abc import Sequence
from functools import partial

from sidecar.checks.base import JudgeContext, Judgement, ObserveContext, Problem, metric_labels
from sidecar.checks.batch import by_weight, grouped
from sidecar.checks.continuity import CountKind, RowCount, continuity
from sidecar.config import TableConfig
from sidecar.engines.base import Database, DatabaseError, ErrorKind, TableEntry
from sidecar.plural import counted
from sidecar.results import JSON, Family, PerfDatum, Sample, Status
from sidecar.state import Lesson, Memory, SetHighWater, SetLastSeen
from sidecar.timestamps import iso

log = logging.getLogger("sidecar.checks.row_count")

UNIT = "rows"
ROWS = Family("sidecar_table_rows", "Rows in the table", ("table",))
ESTIMATED = Family(
    "sidecar_table_rows_estimated",
    "1 when sidecar_table_rows is the server's estimate, 0 when exact",
    ("table",),
)
HIGH_WATER = Family("sidecar_table_rows_high_water", "Remembered high-water row count", ("table",))
FLOOR = Family("sidecar_table_rows_floor", "The configured floor (min_rows)", ("table",))
MIN_ALLOWED = Family(
    "sidecar_table_rows_min_allowed",
    "The fewest rows that pass: the floor, or the allowed drop below the high-water mark",
    ("table",),
)

# Exact counts asked together share a statement: at most this many tables, holding at most
# this many rows by their estimates (the default `exact_count_below`), so one statement costs
# about what one exact count of a table at that line costs, and stays inside the budget.
_COUNT_TABLES = 100
_COUNT_ROWS = 200_000
# The background exact count may take far longer than a cycle's budget: cap it separately.
_EXACT_BUDGET_FACTOR = 30
# InnoDB's estimate comes from sampled pages (innodb_stats_persistent_sample_pages) and is
# recalculated after 10% of the rows change, so it is off by a few percent and follows real
# drops within seconds. Only an estimate within this factor of the line is worth a probe,
# whose cost grows with the line; above it the estimate alone says "well clear".
_PROBE_MARGIN = 1.25
# A table that stays near its line must not be counted in full every cycle: at most this often.
_URGENT_EVERY = 60.0


async def catalogue_entries(
    db: Database, names: list[str]
) -> dict[str, TableEntry | DatabaseError | None]:
    """The catalogue entries of the tables asked for together (None: not listed)."""
    found = await db.dialect.lookup(db, names)
    return {name: found.get(name) for name in names}


async def count_tables(
    db: Database, keys: list[tuple[str, int]]
) -> dict[tuple[str, int], int | DatabaseError]:
    """Exact counts of (table, estimated rows) asked together, many tables to a statement."""

    async def ask(group: Sequence[tuple[str, int]]) -> list[int]:
        counts = (f"(SELECT COUNT(*) FROM {db.dialect.quote(name)})" for name, _ in group)
        result = await db.query("SELECT " + ", ".join(counts))
        return [int(value) for value in result.rows[0]]

    groups = by_weight(sorted(keys), lambda key: key[1], _COUNT_TABLES, _COUNT_ROWS)
    return await grouped(groups, ask)


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
            remembered = f"; {counted(high_water, 'row')} remembered" if high_water else ""
            return Status.FAIL, f"table is empty (floor {table.min_rows}{remembered})"
        return Status.WARN, "table is empty (no floor set, no rows remembered yet)"
    if at_least is None and count < table.min_rows:
        return Status.FAIL, f"{counted(count, 'row')}, below the floor of {table.min_rows}"
    if high_water and at_least is None and count < line(table, high_water):
        drop = 1 - count / high_water
        return (
            Status.FAIL,
            f"{counted(count, 'row')}, down {drop:.0%} from the remembered {high_water} "
            f"(max_drop {table.max_drop:.0%})",
        )
    return Status.PASS, ""


def judge_missing(
    table: TableConfig, high_water: int | None, similar: Sequence[str] = ()
) -> tuple[Status, str]:
    """The verdict on a table that does not exist (`similar`: names differing only in case)."""
    meant = ""
    if similar:
        names = " or ".join(f'"{name}"' for name in similar)
        meant = f" (names are matched exactly, case and all: {names} exists)"
    if not (table.min_rows or high_water):
        return Status.WARN, f"table does not exist{meant} (no floor set, no rows remembered yet)"
    remembered = f"; {counted(high_water, 'row')} remembered" if high_water else ""
    return Status.FAIL, f"table does not exist{meant}{remembered}"


def judge_recreated(seen: RowCount, was: int | None) -> str:
    """The reason for a table created anew without the rows it held."""
    when = f" ({iso(seen.created)})" if seen.created is not None else ""
    return (
        f"table was created anew{when} and holds {counted(seen.count, 'row')} where {was} were: "
        "an older backup restored over the data, or a new database"
    )


class RowCountCheck:
    """Row count of one table against its floor and its high-water mark."""

    unit = UNIT

    def __init__(self, table: TableConfig) -> None:
        self.table = table
        self.key = f"{table.name}:rowCount"
        self.labels = metric_labels("rowCount", table.name)
        # The exact count running in the background, if any (benchmarks await it: bench/measure.py).
        self.background: asyncio.Task[None] | None = None
        self._last_exact: tuple[int, float] | None = None  # (count, when) from the background
        self._similar_names: tuple[str, ...] | None = None  # asked once the table went missing

    async def observe(self, ctx: ObserveContext) -> RowCount:
        """Count (or estimate and bound) the rows; a missing table is an observation too."""
        try:
            return await self._observe(ctx)
        except DatabaseError as exc:
            if exc.kind is ErrorKind.MISSING_TABLE:
                similar = await self._similar(ctx)
                return RowCount(self.table.name, 0, "exact", missing=True, similar=similar)
            raise

    async def _similar(self, ctx: ObserveContext) -> tuple[str, ...]:
        """Tables whose names differ from the watched one only in case: asked once while it is
        missing (the lookup lists the schema), and never standing in the way of the verdict."""
        if self._similar_names is None:
            try:
                self._similar_names = await ctx.db.dialect.similar_names(ctx.db, self.table.name)
            except DatabaseError:
                return ()
        return self._similar_names

    async def _observe(self, ctx: ObserveContext) -> RowCount:
        db, name = ctx.db, self.table.name
        self._similar_names = None  # there: ask again if it goes missing
        estimate, created, generation = await self._estimate(ctx)

        def observed(
            count: int,
            kind: CountKind,
            at_least: int | None = None,
            last_exact: tuple[int, float] | None = None,
        ) -> RowCount:
            return RowCount(
                name,
                count,
                kind,
                at_least,
                last_exact,
                created,
                generation,
                estimator=db.dialect.estimate,
            )

        if estimate is None or estimate < self.table.exact_count_below:
            counts = ctx.batch("rowCount:count", partial(count_tables, db))
            count = await counts.get((name, estimate or 0))
            return observed(count, "exact")
        last = self._last_exact
        mark = line(self.table, high_water_of(ctx.memory, name, last))
        near = bool(mark) and estimate < mark * _PROBE_MARGIN
        # A probe as large as the line would cost what a full count costs and could outlive
        # the cycle's budget: then count the table in the background now, and until that
        # count is in, judge on the estimate. A recent full count below the line settles it.
        probe_fits = near and mark <= self.table.exact_count_below
        self._schedule_exact(ctx, urgent=near and not probe_fits)
        if not near:
            return observed(estimate, "estimate", last_exact=last)
        if probe_fits:
            # `mark` is our own integer: a literal, so the statement is the same on every engine.
            probe = await db.query(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM {db.dialect.quote(name)}"
                f" LIMIT {int(mark)}) AS probe"
            )
            seen = int(probe.rows[0][0])
            if seen < mark:  # all of it fitted under the limit
                return observed(seen, "exact", last_exact=last)
            return observed(max(estimate, mark), "estimate", mark, last_exact=last)
        interval = self.table.exact_count_interval
        if last is not None and last[0] < mark and ctx.clock() - last[1] < interval:
            return observed(last[0], "exact", last_exact=last)
        return observed(estimate, "estimate", last_exact=last)

    def judge(self, seen: RowCount | Problem, ctx: JudgeContext) -> Judgement:
        """Hold the count against the floor, the remembered mark and the remembered count."""
        name = self.table.name
        remembered = ctx.memory.tables.get(name)
        stored = remembered.high_water if remembered else None
        if isinstance(seen, Problem):
            # Not counted: no row count, but the remembered mark and the lines stay exported.
            samples = self._samples(None, stored)
            return Judgement(
                Status.FAIL, None, seen.reason, self._expected(stored), samples=samples
            )
        if seen.missing:
            status, output = judge_missing(self.table, stored, seen.similar)
            samples = self._samples(seen, stored)  # a table that is gone holds 0 rows
            return Judgement(status, None, output, self._expected(stored), samples=samples)
        mark = high_water_of(ctx.memory, name, seen.last_exact)
        status, output = judge_count(self.table, seen.count, seen.at_least, mark)
        evidence = continuity(seen, remembered)
        if status is not Status.FAIL and evidence.lost:
            status, output = Status.FAIL, judge_recreated(seen, evidence.was)
        if status is Status.FAIL and seen.kind == "estimate":
            output = f"about {output} ({seen.estimator}; exact count under way)"
        lessons: tuple[Lesson, ...] = ()
        if status is not Status.FAIL:
            exact = seen.count if seen.kind == "exact" else None
            mark = max(mark or 0, exact or 0) or None
            lessons = (
                SetHighWater(name, mark),
                SetLastSeen(name, exact, seen.created, seen.generation),
            )
        details: dict[str, JSON] = {"countKind": seen.kind, "highWater": mark}
        if seen.at_least is not None:
            details["atLeast"] = seen.at_least
        if seen.last_exact is not None and seen.kind == "estimate":
            details["lastExactCount"] = seen.last_exact[0]
            details["lastExactAge"] = round(ctx.now - seen.last_exact[1])
        expected = self._expected(mark)
        floor = expected.get("atLeast", expected.get("minRows"))
        return Judgement(
            status,
            seen.count,
            output,
            expected,
            {k: v for k, v in details.items() if v is not None},
            samples=self._samples(seen, mark),
            perfdata=(PerfDatum(self.key, seen.count, crit=f"{floor}:" if floor else ""),),
            lessons=lessons,
        )

    async def _estimate(self, ctx: ObserveContext) -> tuple[int | None, float | None, str | None]:
        """The server's row estimate (None when it keeps no usable one), the creation time and
        the generation of the table."""
        entries = ctx.batch("rowCount:catalogue", partial(catalogue_entries, ctx.db))
        entry = await entries.get(self.table.name)
        if entry is None:
            # The catalogue hides tables we may not see; ask the table itself why.
            await ctx.db.query(f"SELECT 1 FROM {ctx.db.dialect.quote(self.table.name)} LIMIT 0")
            return None, None, None
        return entry.rows, entry.created, entry.generation

    def _samples(self, seen: RowCount | None, high_water: int | None) -> tuple[Sample, ...]:
        table = (self.table.name,)
        samples = []
        if seen is not None:
            samples.append(Sample(ROWS, seen.count, table))
            samples.append(Sample(ESTIMATED, int(seen.kind == "estimate"), table))
        if high_water:
            samples.append(Sample(HIGH_WATER, high_water, table))
        samples.append(Sample(FLOOR, self.table.min_rows, table))
        samples.append(Sample(MIN_ALLOWED, line(self.table, high_water), table))
        return tuple(samples)

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
        if due and (self.background is None or self.background.done()):
            self.background = asyncio.create_task(self._exact_count(ctx))

    async def _exact_count(self, ctx: ObserveContext) -> None:
        db = ctx.db
        budget = db.timeout * _EXACT_BUDGET_FACTOR
        try:
            # A budget beyond the session's: the engine lifts its server-side bound for this
            # one statement (engines/*/database.py `_fetch`).
            result = await db.query(
                f"SELECT COUNT(*) FROM {db.dialect.quote(self.table.name)}", timeout=budget
            )
        except DatabaseError as exc:
            log.warning("exact count of %s failed: %s", self.table.name, exc.reason)
            return
        self._last_exact = (int(result.rows[0][0]), ctx.clock())

    async def aclose(self) -> None:
        """Cancel a background exact count still running."""
        if self.background is not None and not self.background.done():
            self.background.cancel()
            await asyncio.gather(self.background, return_exceptions=True)
