"""`datadir`: when the datadir was initialised: `CREATE_TIME` of `mysql.gtid_slave_pos`.

Measured on MariaDB 10.11: that table is created by mariadb-install-db and survived
`mariadb-upgrade --force`, which recreated most other system tables. Reading it needs
`GRANT SELECT ON mysql.gtid_slave_pos`; without it information_schema simply shows no row.
"""

from datetime import UTC, datetime

from sidecar.engines.base import Database, DatabaseError
from sidecar.identity.reading import Absence, Reading, absent
from sidecar.identity.source import Source
from sidecar.state import IdentityValue

TABLE = ("mysql", "gtid_slave_pos")


def compact(seconds: float) -> str:
    """`20261125T102958Z`: the form kept in the fingerprint."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_compact(text: str) -> float:
    """Inverse of `compact()`."""
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()


class DatadirSource(Source):
    """The datadir's initialisation time as `compact()` text."""

    name = "datadir"
    strong = False  # the table file's ctime: a chown of the datadir changes it too

    async def read(self, db: Database) -> Reading:
        """Read the creation time of the table mariadb-install-db made."""
        try:
            # An exact lookup: its cost does not grow with the schemas beside it.
            entries = await db.dialect.lookup(db, [TABLE[1]], schema=TABLE[0])
        except DatabaseError as exc:
            return absent(self.name, Absence.ERROR, exc.reason)
        entry = entries.get(TABLE[1])
        if entry is None or entry.created is None:
            return absent(
                self.name, Absence.NOT_GRANTED, "SELECT on mysql.gtid_slave_pos not granted"
            )
        return Reading(self.name, compact(entry.created))

    def born(self, value: IdentityValue) -> tuple[float, str] | None:
        """The datadir's initialisation."""
        if not isinstance(value, str):
            return None
        try:
            return parse_compact(value), "datadir initialised"
        except ValueError:
            return None
