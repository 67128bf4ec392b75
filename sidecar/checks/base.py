"""The contract every check keeps: observe (queries only), then judge (a pure function).

`observe` asks the database (or reads a file) and returns what it saw, or raises what stood in
its way: the engine's `DatabaseError`, or a `CheckError` for anything else (a backup directory
that cannot be listed). The evaluator makes either a `Problem` (`unobserved`). `judge` turns
that observation (or the `Problem` that stood in its way), the memory of earlier cycles and
the time into a `Judgement`: status, reason, expectation, metric samples, perfdata and the
lessons to remember. Judges touch nothing, so every verdict rule is tested without a server
(tests/checks/); the evaluator applies the lessons, and only from healthy cycles.
"""

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, cast

from sidecar.checks.batch import Coalescer
from sidecar.engines.base import Database, DatabaseError, ErrorKind
from sidecar.results import JSON, PerfDatum, Sample, Status
from sidecar.state import Lesson, Memory

Seen = TypeVar("Seen")
T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def metric_labels(check: str, table: str = "") -> tuple[tuple[str, str], ...]:
    """How a check's metrics are labelled: the measurement, and the table for table checks
    (empty otherwise: Prometheus drops empty labels), so the two never repeat each other."""
    return (("check", check), ("table", table))


Origin = Literal["database", "file", "budget", "crash"]


@dataclass(frozen=True)
class Problem:
    """Why a check has no observation: a database or file error, its budget ran out, or it
    crashed."""

    kind: ErrorKind
    reason: str  # safe to show: never a host, a user or a password
    origin: Origin = "database"


class CheckError(Exception):
    """A check could not observe, for a reason that is not the database's: `kind` for logic,
    `reason` (safe to show) for people, `origin` for where it came from."""

    def __init__(self, kind: ErrorKind, reason: str, origin: Origin = "file") -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.origin: Origin = origin


def unobserved(exc: CheckError | DatabaseError) -> Problem:
    """The one seam from "could not observe" to the judge: a database error is one such."""
    if isinstance(exc, CheckError):
        return Problem(exc.kind, exc.reason, exc.origin)
    return Problem(exc.kind, exc.reason, "database")


@dataclass(frozen=True)
class ObserveContext:
    """What one cycle lends its checks for observing."""

    db: Database
    memory: Memory  # what earlier cycles remembered; read it, never change it
    clock: Callable[[], float]  # wall clock, epoch seconds; a seam for tests
    # This cycle's coalescers by kind: a new context (cycle) starts with none.
    batches: dict[str, Coalescer[Any, Any]] = field(default_factory=dict)

    def batch(
        self, kind: str, run: Callable[[list[K]], Awaitable[Mapping[K, V | DatabaseError]]]
    ) -> Coalescer[K, V]:
        """This cycle's coalescer of `kind` (made with `run` on first use): the checks' requests
        of one kind made together are answered together (checks/batch.py)."""
        if kind not in self.batches:
            self.batches[kind] = Coalescer(run)
        return cast(Coalescer[K, V], self.batches[kind])


@dataclass(frozen=True)
class JudgeContext:
    """What a judge may consult beside its own observation: memory, time, and the cycle's
    other observations (a table's row count tells the newest record's judge whether rows were
    deleted, and the identity's judge whether data carried over)."""

    memory: Memory  # what earlier cycles remembered
    now: float  # epoch seconds
    observations: Sequence[object] = ()  # everything this cycle observed

    def seen(self, kind: type[T]) -> list[T]:
        """This cycle's observations of type `kind`."""
        return [o for o in self.observations if isinstance(o, kind)]


@dataclass(frozen=True)
class Judgement:
    """A check's verdict on one observation, with everything consumers and memory need."""

    status: Status
    value: int | float | str | None = None
    output: str = ""  # one-line reason; empty only when passing
    expected: Mapping[str, JSON] = field(default_factory=dict)
    details: Mapping[str, JSON] = field(default_factory=dict)
    samples: tuple[Sample, ...] = ()
    perfdata: tuple[PerfDatum, ...] = ()
    lessons: tuple[Lesson, ...] = ()
    gates: bool = True  # a failure fails the verdict; False: it counts as a warning there


class Check(Protocol[Seen]):
    """One data-level check. Its key, unit and metric labels are constants of the check."""

    @property
    def key(self) -> str:
        """`component:measurement`, as /health names it."""
        ...

    @property
    def unit(self) -> str:
        """The unit of its observed value, also when the check could not run."""
        ...

    @property
    def labels(self) -> tuple[tuple[str, str], ...]:
        """How its metrics are labelled."""
        ...

    async def observe(self, ctx: ObserveContext) -> Seen:
        """Query what the check needs; raise `DatabaseError` when the database says no,
        `CheckError` when anything else stands in the way."""
        ...

    def judge(self, seen: Seen | Problem, ctx: JudgeContext) -> Judgement:
        """Turn an observation (or the problem in its way) and memory into a verdict."""
        ...

    async def aclose(self) -> None:
        """Stop any background work the check started."""
        ...
