"""`backup:freshness`, `backup:size` and `<table>:backupRows`: do the backups still hold our data?

In the incident the nightly dump saved the day; the next one, taken of the fresh database,
would have held one admin user, and rotation would have dropped the good ones one by one.
These checks read the backup directory (`SIDECAR_BACKUP_DIR`, mounted read-only): the newest
dump's age, its size against the ones before it, and the rows of each watched table in it,
against the live high-water mark. A failing dump names the restore candidate: the newest older
dump that still holds the remembered rows.

They fail in `/health`, in the metrics and in the alerts, but never the verdict: a bad backup
turns `/readyz` at most to warn (still 200). Taking the database out of the load balancer for
a missed dump would be wrong, and gating the app on its first backup would deadlock a first
deployment (no dump yet, and the first one taken before the app's migrations).

The three checks share one `BackupWatch`: it looks at the directory once a cycle (at a cost
that does not grow with the old dumps: sidecar/backups/lister.py), and counts dumps in the
background, one at a time, each in a niced child process within a budget
(sidecar/backups/runner.py), so a cycle never waits for a dump to be read.
What each file held is kept in `backups.json` beside the state, so each dump is read once.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sidecar.backups.catalog import BackupFile
from sidecar.backups.dump import DumpCount
from sidecar.backups.judge import BackupVerdicts, Verdict, judge_newest_first
from sidecar.backups.ledger import LEDGER_FILE, Ledger, LedgerError
from sidecar.backups.lister import Lister, Look
from sidecar.backups.survey import SETTLE, NewestFirst, count_files
from sidecar.checks.base import (
    Check,
    CheckError,
    JudgeContext,
    Judgement,
    ObserveContext,
    Problem,
    metric_labels,
)
from sidecar.config import BackupSettings, TableConfig
from sidecar.engines.base import ErrorKind
from sidecar.results import JSON, Family, PerfDatum, Sample, Status
from sidecar.state import Memory

log = logging.getLogger("sidecar.checks.backups")

FRESHNESS_KEY = "backup:freshness"
SIZE_KEY = "backup:size"
AGE = Family("sidecar_backup_age_seconds", "Age of the newest backup")
SIZE = Family("sidecar_backup_size_bytes", "Size of the newest backup")
ROWS = Family("sidecar_backup_rows", "Rows of the table in the newest counted backup", ("table",))


@dataclass(frozen=True)
class BackupSurvey:
    """The backup directory as looked at this cycle, the dumps with what is known of them."""

    dumps: NewestFirst  # the settled dumps, newest first (made Backups as they are read)
    skipped: int  # entries named like dumps that are not regular files (directories, FIFOs)
    listed_at: float | None = None  # epoch seconds: what the ages are judged against


class BackupWatch:
    """Looks at the backup directory once a cycle and counts dumps in the background.

    A cycle's cost does not grow with the dumps that did not change (sidecar/backups/lister.py
    reads what may have; survey.NewestFirst looks up only the dumps the verdict reads): at a
    year of dumps, as at a week of them.
    """

    def __init__(
        self, settings: BackupSettings, tables: Sequence[TableConfig], database: str
    ) -> None:
        self.settings = settings
        self.tables = tuple(t.name for t in tables)
        self.max_drop = {t.name: t.max_drop for t in tables}
        self.database = database
        self._ledger_path = settings.state_dir / LEDGER_FILE if settings.state_dir else None
        self._ledger = self._load_ledger()
        self._lister = Lister(settings.directory, settings.patterns)
        self._consulted: frozenset[str] = frozenset()  # what the last verdict read: kept fresh
        self._surveyed: tuple[ObserveContext, asyncio.Task[BackupSurvey]] | None = None
        self._counting: asyncio.Task[None] | None = None
        self._judged: tuple[BackupSurvey, Any, BackupVerdicts] | None = None

    def _load_ledger(self) -> Ledger:
        if self._ledger_path is None:
            return Ledger()
        try:
            return Ledger.load(self._ledger_path)
        except LedgerError as exc:
            # The ledger is a cache: counting the dumps again costs time, never a verdict.
            log.warning("%s; the backups will be counted again", exc)
            return Ledger()

    async def survey(self, ctx: ObserveContext) -> BackupSurvey:
        """This cycle's survey: looked at once, whichever of the backup checks asks first."""
        if self._surveyed is None or self._surveyed[0] is not ctx:
            self._surveyed = (ctx, asyncio.ensure_future(self._list(ctx)))
        return await asyncio.shield(self._surveyed[1])

    async def _list(self, ctx: ObserveContext) -> BackupSurvey:
        # In a thread: the look stats a bounded number of dumps, but a stat on a slow or
        # network filesystem is what the probes must never wait behind.
        now = ctx.clock()
        marks = self._marks(ctx.memory)
        look, survey = await asyncio.to_thread(self._look, self._ledger, now, marks)
        if look.listing.problem is not None:
            raise CheckError(ErrorKind.OTHER, look.listing.problem.removeprefix(_UNLISTED))
        if look.changed:
            self._ledger = self._ledger.keep(look.listing.files)
        # What to count next depends on the remembered marks: a failing dump sends us looking
        # for an older one that still holds them.
        wanted = self.verdicts(survey, ctx.memory, now)
        if wanted.to_count and (self._counting is None or self._counting.done()):
            self._counting = asyncio.create_task(self._count(wanted.to_count, ctx))
        return survey

    def _look(
        self, ledger: Ledger, now: float, marks: dict[str, int | None]
    ) -> tuple[Look, BackupSurvey]:
        look = self._lister.look(now, SETTLE, self._consulted)

        def count(file: BackupFile) -> DumpCount | None:
            return ledger.lookup(file, self.tables, self.database, now)

        dumps = NewestFirst(look.listing.files, look.writing, count)
        survey = BackupSurvey(dumps, len(look.listing.skipped), now)
        self._judged = (survey, tuple(marks.items()), self._judge(survey, marks))
        return look, survey

    async def _count(self, files: Sequence[Any], ctx: ObserveContext) -> None:
        self._ledger = await count_files(
            files, self.tables, self.database, self._ledger, clock=ctx.clock
        )
        if self._ledger_path is not None:
            try:
                await asyncio.to_thread(self._ledger.save, self._ledger_path)
            except OSError as exc:
                log.warning("cannot save %s: %s", self._ledger_path, exc.strerror)

    def verdicts(self, survey: BackupSurvey, memory: Memory, now: float) -> BackupVerdicts:
        """The backup verdicts for this survey against the remembered marks.

        Judged as of the listing (`survey.listed_at`; `now` only when there is none): every
        backup check of a cycle asks the same question, answered once, in the look's thread,
        unless the marks moved since.
        """
        marks = self._marks(memory)
        if self._judged is not None:
            seen, seen_marks, judged = self._judged
            if seen is survey and seen_marks == tuple(marks.items()):
                return judged
        judgement = self._judge(survey, marks, now)
        self._judged = (survey, tuple(marks.items()), judgement)
        return judgement

    def _marks(self, memory: Memory) -> dict[str, int | None]:
        return {
            name: (memory.tables[name].high_water if name in memory.tables else None)
            for name in self.tables
        }

    def _judge(
        self, survey: BackupSurvey, marks: dict[str, int | None], now: float | None = None
    ) -> BackupVerdicts:
        at = survey.listed_at if survey.listed_at is not None else now
        assert at is not None
        dumps = survey.dumps
        verdicts = judge_newest_first(
            dumps, dumps.writing, marks, self.max_drop, at, self.settings.max_age
        )
        # Next look stats what this verdict stood on, however old: the judged dump, the
        # restore candidate, what is being counted.
        self._consulted = frozenset(
            [b.file.name for b in (verdicts.judged, verdicts.restore_candidate) if b]
            + [f.name for f in verdicts.to_count]
        )
        return verdicts

    async def aclose(self) -> None:
        """Stop a count still running (its child process goes with it)."""
        for task in (self._counting, self._surveyed[1] if self._surveyed else None):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


_UNLISTED = "cannot list the backup directory: "


def _judgement(verdict: Verdict, samples: tuple[Sample, ...], perf: PerfDatum | None) -> Judgement:
    details = {k: v for k, v in verdict.details.items() if v is not None}
    expected: dict[str, JSON] = {}
    for key in ("maxAge", "maxDrop", "highWater"):
        if key in details:
            expected[key] = details.pop(key)
    return Judgement(
        verdict.status,
        verdict.observed,
        verdict.output,
        expected,
        details,
        samples=samples,
        perfdata=(perf,) if perf is not None else (),
        gates=False,
    )


def _unlisted(problem: Problem) -> Judgement:
    # The directory could not be listed: the checks cannot say the backups are fine.
    reason = f"{_UNLISTED}{problem.reason}"
    return Judgement(Status.FAIL, None, reason, gates=False)


class _BackupCheck:
    """What the three backup checks share: the watch, and the survey as observation."""

    unit = ""

    def __init__(self, watch: BackupWatch) -> None:
        self.watch = watch

    async def observe(self, ctx: ObserveContext) -> BackupSurvey:
        """The directory as looked at this cycle (once for all three checks)."""
        try:
            return await self.watch.survey(ctx)
        except OSError as exc:
            raise CheckError(ErrorKind.OTHER, exc.strerror or type(exc).__name__) from exc

    async def aclose(self) -> None:
        """Stop the background count (the watch is shared; closing twice is harmless)."""
        await self.watch.aclose()


class _DirectoryCheck(_BackupCheck):
    """A verdict on the directory's newest dump, with one metric of its own."""

    key: str
    family: Family
    perf_unit: str

    def verdict(self, judged: BackupVerdicts) -> Verdict:
        """This check's verdict of the judgement."""
        raise NotImplementedError

    def judge(self, seen: BackupSurvey | Problem, ctx: JudgeContext) -> Judgement:
        """Judge the newest dump."""
        if isinstance(seen, Problem):
            return _unlisted(seen)
        verdict = self.verdict(self.watch.verdicts(seen, ctx.memory, ctx.now))
        if verdict.observed is None:
            return _judgement(verdict, (), None)
        samples = (Sample(self.family, verdict.observed),)
        return _judgement(verdict, samples, PerfDatum(self.key, verdict.observed, self.perf_unit))


class BackupFreshnessCheck(_DirectoryCheck):
    """The newest dump's age: warn past max_age, fail past twice it or with none at all."""

    key = FRESHNESS_KEY
    unit = "s"
    labels = metric_labels("backupFreshness")
    family, perf_unit = AGE, "s"

    def verdict(self, judged: BackupVerdicts) -> Verdict:
        """The freshness verdict."""
        return judged.freshness


class BackupSizeCheck(_DirectoryCheck):
    """The newest dump's size against the median of the ones before it."""

    key = SIZE_KEY
    unit = "bytes"
    labels = metric_labels("backupSize")
    family, perf_unit = SIZE, "B"

    def verdict(self, judged: BackupVerdicts) -> Verdict:
        """The size verdict."""
        return judged.size


class BackupRowsCheck(_BackupCheck):
    """The rows of one watched table in the newest counted dump, against the high-water mark."""

    unit = "rows"

    def __init__(self, watch: BackupWatch, table: str) -> None:
        super().__init__(watch)
        self.table = table
        self.key = f"{table}:backupRows"
        self.labels = metric_labels("backupRows", table)

    def judge(self, seen: BackupSurvey | Problem, ctx: JudgeContext) -> Judgement:
        """Judge the table's rows in the newest counted dump; name the restore candidate."""
        if isinstance(seen, Problem):
            return _unlisted(seen)
        judged = self.watch.verdicts(seen, ctx.memory, ctx.now)
        verdict = next(v.verdict for v in judged.rows if v.table == self.table)
        rows = verdict.observed
        samples = (Sample(ROWS, rows, (self.table,)),) if rows is not None else ()
        perf = PerfDatum(self.key, rows) if rows is not None else None
        return _judgement(verdict, samples, perf)


def backup_checks(
    settings: BackupSettings, tables: Sequence[TableConfig], database: str
) -> list[Check[Any]]:
    """The backup checks for `settings`: freshness, size, and the rows of each watched table."""
    watch = BackupWatch(settings, tables, database)
    checks: list[Check[Any]] = [BackupFreshnessCheck(watch), BackupSizeCheck(watch)]
    checks += [BackupRowsCheck(watch, t.name) for t in tables]
    return checks
