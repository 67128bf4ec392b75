"""Immutable results of checks and cycles: what every consumer reads."""

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class Status(StrEnum):
    """A check's or the verdict's status, named as draft-inadarei-api-health-check names it."""

    PASS = "pass"  # noqa: S105 - a status, not a password
    WARN = "warn"
    FAIL = "fail"

    @property
    def severity(self) -> int:
        """0 pass, 1 warn, 2 fail: the monitoring-plugins exit code and the metric value."""
        return _SEVERITY[self]


_SEVERITY = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


class ExitCode(IntEnum):
    """Exit codes after the monitoring-plugins convention."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


def worst(statuses: "list[Status]") -> Status:
    """The most severe of `statuses` (pass when empty)."""
    return max(statuses, key=lambda s: s.severity, default=Status.PASS)


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: status, observed value and unit, what it was held against, why."""

    key: str  # `component:measurement`, e.g. `User:rowCount`
    status: Status
    observed_value: Any
    observed_unit: str
    time: float  # epoch seconds when observed
    output: str = ""  # one-line reason; empty only when passing
    expected: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # flat extras (counts kind, ages)
    duration: float = 0.0


@dataclass(frozen=True)
class Report:
    """The outcome of one evaluation cycle."""

    status: Status
    checks: tuple[CheckResult, ...]
    started: float
    finished: float
    output: str = ""  # set when the verdict is not from the checks (`starting`, stale)

    @classmethod
    def from_checks(cls, checks: list[CheckResult], started: float, finished: float) -> "Report":
        """Build the report whose verdict is the worst of its checks."""
        return cls(worst([c.status for c in checks]), tuple(checks), started, finished)

    def reasons(self) -> list[str]:
        """`key: reason` for every check that is not passing, in order."""
        lines = [self.output] if self.output else []
        lines += [f"{c.key}: {c.output}" for c in self.checks if c.status is not Status.PASS]
        return lines
