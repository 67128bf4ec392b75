"""One evaluation cycle: every check concurrently, each within its budget, then memory saved."""

import asyncio
import copy
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from sidecar.checks import Check, CycleContext, build_checks
from sidecar.config import ResolvedConfig
from sidecar.database import Database
from sidecar.durations import format_duration
from sidecar.results import CheckResult, Report, Status
from sidecar.state import Memory, StateError, StateStore

log = logging.getLogger("sidecar.evaluator")

STATE_KEY = "sidecar:state"


class Evaluator:
    """Runs the configured checks against one database and keeps their memory."""

    def __init__(
        self,
        config: ResolvedConfig,
        db: Database | None = None,
        store: StateStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.db = db or Database(config.db, config.settings.timeout)
        self.store = store or StateStore(config.settings.state_dir)
        self.clock = clock
        self.checks: list[Check] = build_checks(config)
        self.state_problem: str | None = None  # a state file we must not overwrite
        self.observed = Memory()  # what the last cycle saw, learned even where it failed
        try:
            self.memory = self.store.load() or Memory()
        except StateError as exc:
            log.error("%s; memory is kept in-process only until this is fixed", exc)
            self.state_problem = str(exc)
            self.memory = Memory()

    async def run_cycle(self) -> Report:
        """Evaluate every check once and return the report."""
        started = self.clock()
        # Checks learn into a copy. It is kept only when nothing failed: a foreign or damaged
        # database must not teach us its marks (a fresh datadir's newer admin row would
        # otherwise make the real data look like it moved backwards once it returns).
        staged = copy.deepcopy(self.memory)
        ctx = CycleContext(self.db, staged, self.config, self.clock)
        results = list(await asyncio.gather(*(self._bounded(check, ctx) for check in self.checks)))
        self.observed = staged
        if all(result.status is not Status.FAIL for result in results):
            self.memory = staged
        state = self._save()
        if state is not None:
            results.append(state)
        return Report.from_checks(results, started, self.clock())

    async def _bounded(self, check: Check, ctx: CycleContext) -> CheckResult:
        budget = self.config.settings.timeout
        began = time.perf_counter()
        try:
            async with asyncio.timeout(budget):
                result = await check.run(ctx)
        except TimeoutError:
            result = ctx.result(
                check.key,
                Status.FAIL,
                None,
                check.unit,
                f"timed out after {format_duration(budget)}",
            )
        except Exception as exc:
            # A bug in a check must cost that check, not the loop: report it by name.
            log.exception("check %s crashed", check.key)
            result = ctx.result(
                check.key, Status.FAIL, None, check.unit, f"check crashed ({type(exc).__name__})"
            )
        return replace(result, duration=round(time.perf_counter() - began, 6))

    def _save(self) -> CheckResult | None:
        now = self.clock()
        if self.state_problem is not None:
            output = f"{self.state_problem} (fix it, move it aside, or run sidecar adopt)"
            return _state_result(Status.FAIL, output, now)
        try:
            self.store.save(self.memory)
        except StateError as exc:
            log.warning("%s", exc)
            return _state_result(Status.WARN, f"{exc}; memory kept in-process only", now)
        return None

    async def aclose(self) -> None:
        """Stop background work of the checks and close the connections."""
        await asyncio.gather(*(check.aclose() for check in self.checks))
        self.db.close()


def _state_result(status: Status, output: str, now: float) -> CheckResult:
    return CheckResult(STATE_KEY, status, None, "", now, output)
