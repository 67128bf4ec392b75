"""`database:connection`: can we connect and run a query within the timeout."""

from sidecar.checks.base import CycleContext
from sidecar.database import DatabaseError
from sidecar.durations import format_duration
from sidecar.results import CheckResult, Status


class ConnectionCheck:
    """Round-trip of `SELECT 1`, connecting first when no idle connection is at hand."""

    key = "database:connection"
    unit = "ms"

    async def run(self, ctx: CycleContext) -> CheckResult:
        """Pass with the round-trip in ms, or fail with why the database did not answer."""
        expected = {"timeout": format_duration(ctx.db.timeout)}
        try:
            result = await ctx.db.query("SELECT 1")
        except DatabaseError as exc:
            return ctx.result(self.key, Status.FAIL, None, "ms", exc.reason, expected)
        return ctx.result(
            self.key, Status.PASS, round(result.seconds * 1000, 2), "ms", "", expected
        )

    async def aclose(self) -> None:
        """Nothing runs in the background."""
