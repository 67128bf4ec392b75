"""One evaluation cycle: every check observes concurrently within its budget, then each judges,
then what the healthy cycle learned is remembered and saved."""

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from sidecar.checks import Check
from sidecar.checks.base import (
    CheckError,
    JudgeContext,
    Judgement,
    ObserveContext,
    Problem,
    metric_labels,
    unobserved,
)
from sidecar.durations import format_duration
from sidecar.engines.base import Database, DatabaseError, ErrorKind
from sidecar.results import CheckResult, Report, Status
from sidecar.state import Memory, StateError, StateStore

log = logging.getLogger("sidecar.evaluator")

STATE_KEY = "sidecar:state"


class Evaluator:
    """Runs the checks against one database and keeps their memory."""

    def __init__(
        self,
        checks: Sequence[Check[Any]],
        db: Database,
        memory: Memory,
        store: StateStore,
        budget: float,
        clock: Callable[[], float] = time.time,
        state_problem: str | None = None,
    ) -> None:
        self.checks = list(checks)
        self.db = db
        self.memory = memory
        self.store = store
        self.budget = budget  # seconds each check may take
        self.clock = clock
        # A state file we must not overwrite: the reason and the remedy (StateError.line).
        self.state_problem = state_problem
        self.observed = memory  # what the last cycle saw, learned even where it failed

    async def run_cycle(self) -> Report:
        """Evaluate every check once and return the report."""
        started = self.clock()
        self._reload()
        ctx = ObserveContext(self.db, self.memory, self.clock)
        seen = await asyncio.gather(*(self._observe(check, ctx) for check in self.checks))
        now = self.clock()
        judging = JudgeContext(self.memory, now, [observation for observation, _ in seen])
        results: list[CheckResult] = []
        # Lessons are applied to a copy, kept only when nothing failed: a foreign or damaged
        # database must not teach us its marks (a fresh datadir's newer admin row would
        # otherwise make the real data look like it moved backwards once it returns).
        staged = copy.deepcopy(self.memory)
        for check, (observation, duration) in zip(self.checks, seen, strict=True):
            judgement = self._judge(check, observation, judging)
            for lesson in judgement.lessons:
                lesson.apply(staged)
            results.append(_result(check, judgement, observation, now, duration))
        self.observed = staged
        if all(result.status is not Status.FAIL for result in results):
            self.memory = staged
        state = self._save(now)
        if state is not None:
            results.append(state)
        return Report.from_checks(results, started, self.clock())

    async def _observe(self, check: Check[Any], ctx: ObserveContext) -> tuple[object, float]:
        began = time.perf_counter()
        observation: object
        try:
            async with asyncio.timeout(self.budget):
                observation = await check.observe(ctx)
        except (CheckError, DatabaseError) as exc:
            observation = unobserved(exc)
        except TimeoutError:
            reason = f"timed out after {format_duration(self.budget)}"
            observation = Problem(ErrorKind.TIMEOUT, reason, "budget")
        except Exception as exc:
            # A bug in a check must cost that check, not the loop: report it by name.
            log.exception("check %s crashed", check.key)
            observation = Problem(ErrorKind.OTHER, f"check crashed ({type(exc).__name__})", "crash")
        return observation, round(time.perf_counter() - began, 6)

    def _judge(self, check: Check[Any], observation: object, ctx: JudgeContext) -> Judgement:
        try:
            return check.judge(observation, ctx)
        except Exception as exc:
            log.exception("check %s crashed while judging", check.key)
            return Judgement(Status.FAIL, None, f"check crashed ({type(exc).__name__})")

    def _reload(self) -> None:
        """Take up memory someone else wrote (`sidecar adopt`): it is newer than ours."""
        try:
            fresh = self.store.reload_if_changed()
        except StateError as exc:
            if self.state_problem is None:
                log.error("%s; memory is kept in-process only until this is fixed", exc)
            self.state_problem = exc.line()
            return
        if fresh is not None:
            log.info("the state file was replaced (sidecar adopt?): using its memory")
            self.memory = self.observed = fresh
            self.state_problem = None

    def _save(self, now: float) -> CheckResult | None:
        if self.state_problem is not None:
            return _state_result(Status.FAIL, self.state_problem, now)
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


def _result(
    check: Check[Any], judgement: Judgement, observation: object, now: float, duration: float
) -> CheckResult:
    return CheckResult(
        key=check.key,
        status=judgement.status,
        observed_value=judgement.value,
        observed_unit=check.unit,
        time=now,
        output=judgement.output,
        expected=judgement.expected,
        details=judgement.details,
        duration=duration,
        labels=check.labels,
        samples=judgement.samples,
        perfdata=judgement.perfdata,
        observation=observation,
        gates=judgement.gates,
    )


def _state_result(status: Status, output: str, now: float) -> CheckResult:
    labels = metric_labels("state")
    return CheckResult(STATE_KEY, status, None, "", now, output, labels=labels)
