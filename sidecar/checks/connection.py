"""`database:connection`: can we connect and run a query within the timeout."""

from dataclasses import dataclass

from sidecar.checks.base import JudgeContext, Judgement, ObserveContext, Problem, metric_labels
from sidecar.durations import format_duration
from sidecar.results import PerfDatum, Status

KEY = "database:connection"
UNIT = "ms"


@dataclass(frozen=True)
class RoundTrip:
    """How long `SELECT 1` took, connecting first when no idle connection was at hand."""

    milliseconds: float


class ConnectionCheck:
    """Round-trip of `SELECT 1`."""

    key = KEY
    unit = UNIT
    labels = metric_labels("connection")

    def __init__(self, timeout: float) -> None:
        self.expected = {"timeout": format_duration(timeout)}

    async def observe(self, ctx: ObserveContext) -> RoundTrip:
        """Time one `SELECT 1`."""
        result = await ctx.db.query("SELECT 1")
        return RoundTrip(round(result.seconds * 1000, 2))

    def judge(self, seen: RoundTrip | Problem, ctx: JudgeContext) -> Judgement:
        """Pass with the round-trip in ms, or fail with why the database did not answer."""
        if isinstance(seen, Problem):
            return Judgement(Status.FAIL, None, seen.reason, self.expected)
        return Judgement(
            Status.PASS,
            seen.milliseconds,
            expected=self.expected,
            perfdata=(PerfDatum(KEY, seen.milliseconds, UNIT),),
        )

    async def aclose(self) -> None:
        """Nothing runs in the background."""
