"""The verdict served between cycles: `starting` before the first, `stale` when cycles stop."""

import asyncio

from sidecar.config import ResolvedConfig, load_settings
from sidecar.demo.throwaway import free_port
from sidecar.results import Report, Status
from sidecar.scheduler import Scheduler
from sidecar.service import build_evaluator


class Clock:
    """A clock the test moves by hand (the seam for time)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class HungEvaluator:
    """A fault injected on purpose: a cycle that never ends, as with a stuck driver."""

    async def run_cycle(self) -> Report:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def _config() -> ResolvedConfig:
    return load_settings(
        {"db_url": f"mysql://m@127.0.0.1:{free_port()}/app", "interval": "5s", "timeout": "2s"}
    )


def test_starting_until_the_first_cycle_then_stale_after_three_intervals() -> None:
    clock = Clock()
    scheduler = Scheduler(build_evaluator(_config()), 5.0, 2.0, clock=clock)
    first = scheduler.current()
    assert (first.status, first.output) == (Status.FAIL, "starting")
    scheduler.latest = Report(Status.PASS, (), clock.now, clock.now)
    clock.now += 3 * 5 + 2  # exactly the limit: still fresh
    assert scheduler.current().status is Status.PASS
    clock.now += 1
    stale = scheduler.current()
    assert stale.status is Status.FAIL
    assert stale.output == "stale: no check cycle completed for 18s"


async def test_a_hung_loop_turns_the_verdict_to_fail_while_livez_stays_up() -> None:
    clock = Clock()
    scheduler = Scheduler(HungEvaluator(), _config().settings.interval, 2.0, clock=clock)
    scheduler.latest = Report(Status.PASS, (), clock.now, clock.now)
    await scheduler.start()
    try:
        await asyncio.sleep(0.05)
        assert scheduler.loop_alive  # /livez: the process and its loop are alive ...
        clock.now += 60
        assert scheduler.current().status is Status.FAIL  # ... but no green light goes stale
    finally:
        await scheduler.stop()
    assert not scheduler.loop_alive
