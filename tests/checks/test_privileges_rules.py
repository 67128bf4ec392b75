"""`database:privileges` verdict rules (no server)."""

from sidecar.checks.base import JudgeContext, Problem
from sidecar.checks.privileges import Grants, PrivilegesCheck
from sidecar.engines.base import ErrorKind
from sidecar.results import Status
from sidecar.state import Memory

CTX = JudgeContext(Memory(), 0.0)


def test_privileges_warn_naming_what_the_account_could_write() -> None:
    check = PrivilegesCheck()
    assert check.judge(Grants(()), CTX).status is Status.PASS
    writing = check.judge(Grants(("DELETE", "INSERT")), CTX)
    assert writing.status is Status.WARN and "(DELETE, INSERT)" in writing.output


def test_unreadable_grants_warn_but_a_check_out_of_time_fails() -> None:
    check = PrivilegesCheck()
    denied = Problem(ErrorKind.PERMISSION, "permission denied")
    assert check.judge(denied, CTX).status is Status.WARN
    late = Problem(ErrorKind.TIMEOUT, "timed out after 2s", "budget")
    assert check.judge(late, CTX).status is Status.FAIL
