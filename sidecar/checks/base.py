"""The contract every check keeps, and what a cycle hands it."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sidecar.config import ResolvedConfig
from sidecar.database import Database
from sidecar.results import CheckResult, Status
from sidecar.state import Memory


@dataclass
class CycleContext:
    """What one evaluation cycle shares with its checks."""

    db: Database
    memory: Memory  # mutated by checks only where they own the key (their table, identity)
    config: ResolvedConfig
    clock: Callable[[], float]  # wall clock, epoch seconds; a seam for tests

    def result(
        self,
        key: str,
        status: Status,
        value: Any,
        unit: str,
        output: str = "",
        expected: dict[str, Any] | None = None,
        **details: Any,
    ) -> CheckResult:
        """A result stamped with the current time."""
        return CheckResult(
            key=key,
            status=status,
            observed_value=value,
            observed_unit=unit,
            time=self.clock(),
            output=output,
            expected=expected or {},
            details={k: v for k, v in details.items() if v is not None},
        )


class Check(Protocol):
    """One data-level check. `run` must not raise for database trouble: it returns a result."""

    key: str
    unit: str  # of its observed value, also when the check could not run

    async def run(self, ctx: CycleContext) -> CheckResult:
        """Evaluate once against the database and memory in `ctx`."""
        ...

    async def aclose(self) -> None:
        """Stop any background work the check started."""
        ...
