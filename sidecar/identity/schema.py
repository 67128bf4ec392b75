"""When each table of the app database was created: the source that needs no extra grant.

Weak alone: `CREATE_TIME` changes on every `ALTER TABLE` of that table (even an instant ADD
COLUMN). So it is compared as a set: the database is the same while at least one remembered
table keeps its creation time, and the remembered set rolls forward with each healthy cycle.
A datadir initialised anew and migrated anew has every table created afresh.
"""

from sidecar.database import Database, DatabaseError
from sidecar.identity.reading import Absence, Reading, absent
from sidecar.identity.sentinel import TABLE as SENTINEL_TABLE
from sidecar.timestamps import epoch

_QUERY = (
    "SELECT TABLE_NAME, CREATE_TIME FROM information_schema.TABLES"
    " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND CREATE_TIME IS NOT NULL"
)

# Creation times are whole seconds from the same server: equal or not, no rounding slack.
TOLERANCE = 0.5


async def read(db: Database) -> Reading:
    """`{table: created epoch seconds}` for the tables the account can see."""
    try:
        result = await db.query(_QUERY)
    except DatabaseError as exc:
        return absent("schema", Absence.ERROR, exc.reason)
    tables = {str(name): epoch(created) for name, created in result.rows if name != SENTINEL_TABLE}
    if not tables:
        return absent("schema", Absence.GONE, "the database has no tables")
    return Reading("schema", tables)


def survivors(remembered: dict[str, float], observed: dict[str, float]) -> list[str]:
    """Remembered tables that still exist with the same creation time."""
    return sorted(
        name
        for name, created in remembered.items()
        if name in observed and abs(observed[name] - created) <= TOLERANCE
    )
