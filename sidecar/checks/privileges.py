"""`database:privileges`: the sidecar's account should be able to read, and nothing more.

A health checker that could write to the app's schema is a liability (a leaked monitoring
password becomes a way to change data), so an account with more than SELECT there makes this
check warn, naming the privileges. Grants seldom change: they are read again every few minutes,
not every cycle.
"""

from sidecar.checks.base import CycleContext
from sidecar.database import DatabaseError
from sidecar.results import CheckResult, Status

# What lets an account change the app schema's data or structure.
WRITING = frozenset(
    {
        "ALL PRIVILEGES",
        "ALTER",
        "ALTER ROUTINE",
        "CREATE",
        "CREATE ROUTINE",
        "CREATE VIEW",
        "DELETE",
        "DELETE HISTORY",
        "DROP",
        "EVENT",
        "INDEX",
        "INSERT",
        "TRIGGER",
        "UPDATE",
    }
)

# The current account's privileges that reach the current database: global, on the schema, or
# on one of its tables. information_schema shows only the caller's own grants: no extra grant.
_PRIVILEGES = (
    "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES"
    " UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES"
    " WHERE TABLE_SCHEMA = DATABASE()"
    " UNION SELECT PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES"
    " WHERE TABLE_SCHEMA = DATABASE()"
)
REFRESH = 300.0  # seconds between reads of the grants


class PrivilegesCheck:
    """Warns when the account can write to the app schema."""

    key = "database:privileges"
    unit = "privileges"

    def __init__(self) -> None:
        self._seen: tuple[float, list[str]] | None = None  # (when, writing privileges)

    async def run(self, ctx: CycleContext) -> CheckResult:
        """Pass when the account reads only; warn naming what else it may do."""
        now = ctx.clock()
        if self._seen is None or now - self._seen[0] >= REFRESH:
            try:
                result = await ctx.db.query(_PRIVILEGES)
            except DatabaseError as exc:
                return ctx.result(self.key, Status.WARN, None, self.unit, exc.reason)
            granted = {str(row[0]).upper() for row in result.rows}
            self._seen = (now, sorted(granted & WRITING))
        writing = self._seen[1]
        expected = {"writing": "none (GRANT SELECT ON <app database>.* is enough)"}
        if writing:
            output = (
                f"the sidecar's account can write to the app database ({', '.join(writing)}): "
                "grant it SELECT only"
            )
            return ctx.result(
                self.key, Status.WARN, ", ".join(writing), self.unit, output, expected
            )
        return ctx.result(self.key, Status.PASS, "read-only", self.unit, "", expected)

    async def aclose(self) -> None:
        """Nothing runs in the background."""
