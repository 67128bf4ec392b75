"""`database:connection` verdict rules (no server)."""

from sidecar.checks.base import JudgeContext, Problem
from sidecar.checks.connection import ConnectionCheck, RoundTrip
from sidecar.engines.base import ErrorKind
from sidecar.results import Status
from sidecar.state import Memory

CTX = JudgeContext(Memory(), 0.0)


def test_connection_passes_with_its_round_trip_and_fails_with_the_reason() -> None:
    check = ConnectionCheck(2.0)
    passed = check.judge(RoundTrip(1.25), CTX)
    assert (passed.status, passed.value, passed.expected) == (
        Status.PASS,
        1.25,
        {"timeout": "2s"},
    )
    assert [d.render() for d in passed.perfdata] == ["'database:connection'=1.25ms;;"]
    failed = check.judge(Problem(ErrorKind.CONNECT, "cannot connect to the database"), CTX)
    assert (failed.status, failed.output) == (Status.FAIL, "cannot connect to the database")
