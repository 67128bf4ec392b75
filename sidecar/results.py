"""Immutable results of checks and cycles: what every consumer reads.

A check hands out everything consumers need, typed: its status and reason, the value it
observed, its Prometheus samples (`Sample` of a `Family` the check declares), its Nagios
perfdata (`PerfDatum`) and its raw observation. `/health`, `/metrics`, `sidecar check`,
`snapshot` and `adopt` iterate these; none of them decodes a check's key.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Literal, TypeVar

# What may appear in a health+json document.
JSONScalar = str | int | float | bool | None
JSON = JSONScalar | list["JSON"] | dict[str, "JSON"]

T = TypeVar("T")


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
class Family:
    """A Prometheus metric family a check (or the service) exports; declared once, by its owner."""

    name: str
    help: str
    labels: tuple[str, ...] = ()
    kind: Literal["gauge", "counter"] = "gauge"


@dataclass(frozen=True)
class Sample:
    """One value of a family, with label values in the family's label order."""

    family: Family
    value: float
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class PerfDatum:
    """One Nagios performance datum: `'label'=value[unit];warn;crit`."""

    label: str
    value: float | int
    unit: str = ""
    warn: str = ""
    crit: str = ""

    def render(self) -> str:
        """The datum as monitoring-plugins print it."""
        label = re.sub(r"[^A-Za-z0-9_:.-]", "_", self.label)
        return f"'{label}'={self.value}{self.unit};{self.warn};{self.crit}"


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: status, observed value and unit, what it was held against, why."""

    key: str  # `component:measurement`, e.g. `User:rowCount`
    status: Status
    observed_value: int | float | str | None
    observed_unit: str
    time: float  # epoch seconds when observed
    output: str = ""  # one-line reason; empty only when passing
    expected: Mapping[str, JSON] = field(default_factory=dict)
    details: Mapping[str, JSON] = field(default_factory=dict)  # flat extras (count kind, ages)
    duration: float = 0.0
    labels: tuple[tuple[str, str], ...] = ()  # how metrics name this check
    samples: tuple[Sample, ...] = ()
    perfdata: tuple[PerfDatum, ...] = ()
    observation: object = None  # what the check saw (its own type), or a `Problem`
    # Whether this check failing fails the verdict (and /readyz). The backup checks do not: a
    # missed backup is worth a page, never a reason to take the database out of service.
    gates: bool = True


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
        """Build the report whose verdict is the worst of its checks (a check that does not gate
        the verdict counts at most as a warning)."""
        capped = [
            Status.WARN if c.status is Status.FAIL and not c.gates else c.status for c in checks
        ]
        return cls(worst(capped), tuple(checks), started, finished)

    def reasons(self) -> list[str]:
        """`key: reason` for every check that is not passing, in order; checks that failed
        for the same reason (a wrong password fails them all) share one line."""
        by_reason: dict[str, list[str]] = {}
        for check in self.checks:
            if check.status is not Status.PASS:
                by_reason.setdefault(check.output, []).append(check.key)
        lines = [self.output] if self.output else []
        lines += [f"{', '.join(keys)}: {reason}" for reason, keys in by_reason.items()]
        return lines

    def result(self, key: str) -> CheckResult | None:
        """The result of the check with `key` (a constant of that check), if it ran."""
        return next((c for c in self.checks if c.key == key), None)

    def observations(self, kind: type[T]) -> list[T]:
        """Every observation of type `kind` this cycle made, in check order."""
        return [c.observation for c in self.checks if isinstance(c.observation, kind)]
