"""The one place that wires the service: database, memory, checks, evaluator, loop, notifier.

`sidecar serve` (through the app's lifespan), `sidecar demo` and the one-shot commands all
build a `Service` and use it as an async context: leaving it stops the loop, delivers what the
notifier still holds, cancels background work and closes the connections.
"""

import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

from sidecar.alerts import Notifier
from sidecar.checks import build_checks
from sidecar.checks.volume_identity import VolumeIdentityCheck
from sidecar.config import ResolvedConfig
from sidecar.engines import connect
from sidecar.evaluator import Evaluator
from sidecar.history import History, Recorder
from sidecar.results import Report
from sidecar.scheduler import Scheduler
from sidecar.state import Memory, StateError, StateStore

log = logging.getLogger("sidecar.service")


def build_evaluator(
    config: ResolvedConfig,
    memory: Memory | None = None,
    clock: Callable[[], float] = time.time,
) -> Evaluator:
    """An evaluator for `config`: with `memory` it uses that and persists nothing; without, the
    memory comes from (and goes to) the state directory."""
    settings = config.settings
    store = StateStore(settings.state_dir if memory is None else None, set_aside=True)
    problem = None
    if memory is None:
        try:
            memory = store.load() or Memory()
        except StateError as exc:
            log.error("%s; memory is kept in-process only until this is fixed", exc)
            problem, memory = exc.line(), Memory()
    return Evaluator(
        build_checks(config),
        connect(config.db, settings.timeout),
        memory,
        store,
        settings.timeout,
        clock,
        problem,
    )


class Service:
    """Everything `config` asks for, built once; the loop runs only once `start()` is called."""

    def __init__(
        self,
        config: ResolvedConfig,
        memory: Memory | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        settings = config.settings
        self.config = config
        self.evaluator = build_evaluator(config, memory, clock)
        self.scheduler = Scheduler(self.evaluator, settings.interval, settings.timeout, clock)
        self.notifier = Notifier(settings.webhook_url, settings.push_url)
        # Filled only by the running service (`start`): one-shot commands leave it alone.
        self.history = History(settings.state_dir, [table.name for table in config.tables])

    async def start(self) -> None:
        """Load the history, start the notifier and the evaluation loop."""
        self.history.load()
        # The identity check's own sources: the history tells their values as the check read them.
        sources = [
            source
            for check in self.evaluator.checks
            if isinstance(check, VolumeIdentityCheck)
            for source in check.sources
        ]
        recorder = Recorder(self.history, sources, lambda: self.evaluator.memory)
        self.scheduler.listeners.append(recorder.on_report)
        await self.notifier.start()
        self.scheduler.listeners.append(self.notifier.on_report)
        await self.scheduler.start()

    async def evaluate_once(self) -> Report:
        """One cycle, outside the loop (the one-shot commands)."""
        return await self.scheduler.run_once()

    async def aclose(self) -> None:
        """Stop the loop, deliver what is queued, close the connections."""
        await self.scheduler.stop()
        await self.notifier.stop()
        await self.evaluator.aclose()
        self.history.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
