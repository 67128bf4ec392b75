"""The background loop: a cycle every `interval`, the latest report kept for every reader.

Readers (HTTP handlers, the metrics collector) only ever read `current()`: they never touch
the database. Until the first cycle completes the verdict is `fail` with reason `starting`;
when no cycle has completed for several intervals the verdict turns `fail` as stale, so a
hung loop or a stuck driver can never leave a green light on.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from sidecar.durations import approximate
from sidecar.results import Report, Status

log = logging.getLogger("sidecar.scheduler")

Listener = Callable[[Report], Awaitable[None]]

# A report older than this many intervals (plus one timeout) is stale.
STALE_INTERVALS = 3


class Cycle(Protocol):
    """What the loop runs: one evaluation cycle (the evaluator, or a fault injected in tests)."""

    async def run_cycle(self) -> Report:
        """Evaluate once."""
        ...


class Scheduler:
    """Owns the evaluation loop task and the latest report."""

    def __init__(
        self,
        evaluator: Cycle,
        interval: float,
        timeout: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.evaluator = evaluator
        self.clock = clock
        self.interval = interval
        self.stale_after = STALE_INTERVALS * interval + timeout
        self.started = clock()
        self.latest: Report | None = None
        self.cycles = 0
        self.cycle_errors = 0
        self.last_cycle_seconds = 0.0
        self.listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None

    def current(self) -> Report:
        """The verdict to serve now: the latest report, or a failing stand-in."""
        now = self.clock()
        if self.latest is None:
            return Report(Status.FAIL, (), self.started, now, "starting")
        age = now - self.latest.finished
        if age > self.stale_after:
            output = f"stale: no check cycle completed for {approximate(age)}"
            return Report(
                Status.FAIL, self.latest.checks, self.latest.started, self.latest.finished, output
            )
        return self.latest

    @property
    def loop_alive(self) -> bool:
        """Whether the loop task is running (what /livez reports)."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the loop in the background."""
        self._task = asyncio.create_task(self._run(), name="sidecar-evaluation-loop")

    async def run_once(self) -> Report:
        """Run one cycle, publish it, tell listeners."""
        began = time.perf_counter()
        report = await self.evaluator.run_cycle()
        self.latest = report
        self.cycles += 1
        self.last_cycle_seconds = time.perf_counter() - began
        for listener in self.listeners:
            try:
                await listener(report)
            except Exception:
                log.exception("report listener failed")
        return report

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        previous: Status | None = None
        while True:
            began = loop.time()
            try:
                report = await self.run_once()
            except Exception:
                # The loop must outlive any one bad cycle; staleness reports it if it repeats.
                self.cycle_errors += 1
                log.exception("evaluation cycle failed")
            else:
                if report.status is not previous:
                    log.info("verdict %s%s", report.status, _why(report))
                    previous = report.status
            await asyncio.sleep(max(0.0, self.interval - (loop.time() - began)))

    async def stop(self) -> None:
        """Cancel the loop and wait for it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _why(report: Report) -> str:
    reasons = report.reasons()
    return f": {'; '.join(reasons)}" if reasons else ""
