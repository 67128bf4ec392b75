"""`schema`: when each table of the app database was created: needs no grant beyond SELECT.

Weak alone: `CREATE_TIME` changes on every `ALTER TABLE` of that table (even an instant ADD
COLUMN). So it is compared as a set: the database is the same while at least one remembered
table keeps its creation time, and the remembered set rolls forward with each healthy cycle.
A datadir initialised anew and migrated anew has every table created afresh. Never pinned.
"""

import hashlib

from sidecar.database import Database, DatabaseError
from sidecar.identity.reading import Absence, Reading, absent
from sidecar.identity.sentinel import TABLE as SENTINEL_TABLE
from sidecar.identity.source import Source
from sidecar.plural import counted
from sidecar.state import IdentityValue
from sidecar.timestamps import epoch

_QUERY = (
    "SELECT TABLE_NAME, CREATE_TIME FROM information_schema.TABLES"
    " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND CREATE_TIME IS NOT NULL"
)

# Creation times are whole seconds from the same server: equal or not, no rounding slack.
TOLERANCE = 0.5


def survivors(remembered: dict[str, float], observed: dict[str, float]) -> list[str]:
    """Remembered tables that still exist with the same creation time."""
    return sorted(
        name
        for name, created in remembered.items()
        if name in observed and abs(observed[name] - created) <= TOLERANCE
    )


class SchemaSource(Source):
    """`{table: created epoch seconds}` for the tables the account can see."""

    name = "schema"
    pinnable = False
    rolls_forward = True
    strong = False

    async def read(self, db: Database) -> Reading:
        """Creation times of the app database's tables (the sentinel's aside)."""
        try:
            result = await db.query(_QUERY)
        except DatabaseError as exc:
            return absent(self.name, Absence.ERROR, exc.reason)
        tables = {
            str(name): epoch(created) for name, created in result.rows if name != SENTINEL_TABLE
        }
        if not tables:
            return absent(self.name, Absence.GONE, "the database has no tables")
        return Reading(self.name, tables)

    def difference(self, expected: IdentityValue, reading: Reading) -> str | None:
        """None while one remembered table kept its creation time."""
        remembered = expected if isinstance(expected, dict) else {}
        observed = reading.value if isinstance(reading.value, dict) else {}
        if not reading.present or not set(remembered) & set(observed):
            return f"none of the {counted(len(remembered), 'remembered table')} exists"
        if survivors(remembered, observed):
            return None
        common = sorted(set(remembered) & set(observed))
        return f"every remembered table was created anew ({', '.join(common[:3])})"

    def show(self, value: IdentityValue) -> str:
        """How many tables, and a digest of their names and creation times."""
        tables = value if isinstance(value, dict) else {}
        text = ",".join(f"{name}={created:.0f}" for name, created in sorted(tables.items()))
        # Not pluralised: the history compares this text across versions (an identity event).
        return f"{len(tables)} tables, digest {hashlib.sha256(text.encode()).hexdigest()[:8]}"

    def born(self, value: IdentityValue) -> tuple[float, str] | None:
        """The oldest table's creation."""
        if not isinstance(value, dict) or not value:
            return None
        return min(value.values()), "every table created"
