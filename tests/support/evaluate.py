"""Running cycles in-process, for tests that look at one check's result in detail."""

from pathlib import Path
from typing import Any

from sidecar.config import load_settings
from sidecar.evaluator import Evaluator
from sidecar.results import CheckResult, Report
from sidecar.service import build_evaluator
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import MONITOR_PASSWORD, MONITOR_USER


def evaluator_for(
    server: MariaDBTestServer,
    state_dir: Path | None = None,
    user: str = MONITOR_USER,
    **settings: Any,
) -> Evaluator:
    """An evaluator watching app.User (unless overridden) as the monitor account."""
    password = MONITOR_PASSWORD if user == MONITOR_USER else ""
    values: dict[str, Any] = {
        "db_url": server.url(user, password),
        "table": "User",
        "timestamp_column": "createdAt",
        "interval": "2s",
        "timeout": "1s",
        "state_dir": str(state_dir) if state_dir else None,
    }
    values.update(settings)
    return build_evaluator(load_settings(values))


async def cycle(evaluator: Evaluator) -> Report:
    """One cycle (connections stay open for the next)."""
    return await evaluator.run_cycle()


async def once(server: MariaDBTestServer, **settings: Any) -> Report:
    """One cycle with a fresh evaluator, closed afterwards."""
    evaluator = evaluator_for(server, **settings)
    try:
        return await evaluator.run_cycle()
    finally:
        await evaluator.aclose()


def check(report: Report, key: str) -> CheckResult:
    """The result of `key` in `report`."""
    return next(c for c in report.checks if c.key == key)
