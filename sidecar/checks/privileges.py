"""`database:privileges`: the sidecar's account should be able to read, and nothing more.

A health checker that could write to the app's schema is a liability (a leaked monitoring
password becomes a way to change data), so an account with more than SELECT there makes this
check warn, naming the privileges. Which privileges write is the engine's to say
(engines/*/dialect.py `writing_privileges`): grants on MariaDB; table privileges, ownership,
CREATE, SUPERUSER and BYPASSRLS on PostgreSQL. Grants seldom change: they are read again every
few minutes, not every cycle.
"""

from dataclasses import dataclass

from sidecar.checks.base import JudgeContext, Judgement, ObserveContext, Problem, metric_labels
from sidecar.results import Status

KEY = "database:privileges"
UNIT = "privileges"

REFRESH = 300.0  # seconds between reads of the grants
_EXPECTED = {"writing": "none (SELECT on the app's tables is enough)"}


@dataclass(frozen=True)
class Grants:
    """The privileges of the sidecar's account that would let it write to the app database."""

    writing: tuple[str, ...]


class PrivilegesCheck:
    """Warns when the account can write to the app schema."""

    key = KEY
    unit = UNIT
    labels = metric_labels("privileges")

    def __init__(self) -> None:
        self._seen: tuple[float, Grants] | None = None  # (when read, what)

    async def observe(self, ctx: ObserveContext) -> Grants:
        """The writing privileges, read again at most every `REFRESH` seconds."""
        now = ctx.clock()
        if self._seen is None or now - self._seen[0] >= REFRESH:
            writing = await ctx.db.dialect.writing_privileges(ctx.db)
            self._seen = (now, Grants(writing))
        return self._seen[1]

    def judge(self, seen: Grants | Problem, ctx: JudgeContext) -> Judgement:
        """Pass when the account reads only; warn naming what else it may do."""
        if isinstance(seen, Problem):
            # Not being able to read the grants says nothing against the data: a warning,
            # unless the check itself ran out of time or broke.
            status = Status.WARN if seen.origin == "database" else Status.FAIL
            return Judgement(status, None, seen.reason)
        if seen.writing:
            named = ", ".join(seen.writing)
            output = (
                f"the sidecar's account can write to the app database ({named}): "
                "grant it SELECT only"
            )
            return Judgement(Status.WARN, named, output, _EXPECTED)
        return Judgement(Status.PASS, "read-only", "", _EXPECTED)

    async def aclose(self) -> None:
        """Nothing runs in the background."""
