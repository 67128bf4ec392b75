"""The evaluator: a check that raises costs that check, never the cycle; and a whole cycle
sends the server reads only.

The faulty checks here are faults injected on purpose at the check seam; every other check
runs against a real MariaDB server and must report as if nothing had happened.
"""

import logging

import pytest

from sidecar.checks.base import JudgeContext, Judgement, ObserveContext, Problem, metric_labels
from sidecar.checks.connection import ConnectionCheck
from sidecar.config import load_settings
from sidecar.engines import connect
from sidecar.evaluator import Evaluator
from sidecar.results import Status
from sidecar.state import Memory, StateStore
from tests.support.evaluate import once
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import MONITOR_PASSWORD, MONITOR_USER


class FaultyCheck:
    """Raises in `observe` or in `judge`, as a buggy check would."""

    unit = ""

    def __init__(self, where: str) -> None:
        self.where = where
        self.key = f"fault:{where}"
        self.labels = metric_labels(f"fault_{where}")
        self.judged: list[object] = []

    async def observe(self, ctx: ObserveContext) -> int:
        """Raise here when told to; otherwise see 1."""
        if self.where == "observe":
            raise ZeroDivisionError("a bug while observing")
        return 1

    def judge(self, seen: int | Problem, ctx: JudgeContext) -> Judgement:
        """Raise here when told to; fail on a problem, as every check does; else pass."""
        self.judged.append(seen)
        if self.where == "judge":
            raise KeyError("a bug while judging")
        if isinstance(seen, Problem):
            return Judgement(Status.FAIL, None, seen.reason)
        return Judgement(Status.PASS, seen)

    async def aclose(self) -> None:
        """Nothing runs in the background."""


@pytest.mark.parametrize("where", ["observe", "judge"])
async def test_a_check_that_crashes_fails_alone_and_the_cycle_goes_on(
    seeded: MariaDBTestServer, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = load_settings({"db_url": seeded.url(MONITOR_USER, MONITOR_PASSWORD)}).db
    faulty, healthy = FaultyCheck(where), ConnectionCheck(1.0)
    evaluator = Evaluator([faulty, healthy], connect(url, 1.0), Memory(), StateStore(None), 1.0)
    try:
        with caplog.at_level(logging.ERROR, logger="sidecar.evaluator"):
            first = await evaluator.run_cycle()
            second = await evaluator.run_cycle()
    finally:
        await evaluator.aclose()
    for report in (first, second):
        by_key = {result.key: result for result in report.checks}
        crashed = by_key[faulty.key]
        assert crashed.status is Status.FAIL
        expected = "ZeroDivisionError" if where == "observe" else "KeyError"
        assert crashed.output == f"check crashed ({expected})"
        # the other check ran and judged as if nothing had happened
        assert by_key["database:connection"].status is Status.PASS
        assert report.status is Status.FAIL
    if where == "observe":
        # judge still ran, and was handed the crash as a Problem, not the exception
        assert all(isinstance(seen, Problem) for seen in faulty.judged)
    # the crash is logged by the check's name, with its traceback, once per cycle
    crashes = [r for r in caplog.records if faulty.key in r.getMessage()]
    assert len(crashes) == 2
    assert all(r.exc_info is not None for r in crashes)


async def test_the_sidecar_sends_nothing_but_reads(seeded: MariaDBTestServer) -> None:
    seeded.execute("SET GLOBAL log_output = 'TABLE'", "SET GLOBAL general_log = 1")
    try:
        await once(seeded, data_dir=str(seeded.datadir))
    finally:
        seeded.execute("SET GLOBAL general_log = 0")
    sent = seeded.execute(
        f"SELECT argument FROM mysql.general_log WHERE user_host LIKE '{MONITOR_USER}%'"
        " AND command_type = 'Query'"
    )
    statements = [row[0].decode() if isinstance(row[0], bytes) else row[0] for row in sent]
    assert statements, "the general log recorded nothing"
    # aiomysql sends a COMMIT after the session set-up; it writes nothing.
    allowed = ("SELECT", "SET SESSION", "SET STATEMENT", "COMMIT")
    for statement in statements:
        assert statement.lstrip().upper().startswith(allowed), statement
