"""`sentinel`: a row planted once by `sidecar adopt`: a random id that a fresh datadir lacks."""

import secrets

from sidecar.engines.base import Database, DatabaseError, ErrorKind
from sidecar.identity.reading import Absence, Reading, absent
from sidecar.identity.source import Source

TABLE = "_sidecar_identity"


class SentinelSource(Source):
    """The planted id; `GONE` when the table is missing or empty (a fresh datadir)."""

    name = "sentinel"

    async def read(self, db: Database) -> Reading:
        """The planted id."""
        try:
            result = await db.query(f"SELECT id FROM {db.dialect.quote(TABLE)} ORDER BY id LIMIT 1")
        except DatabaseError as exc:
            if exc.kind is ErrorKind.MISSING_TABLE:
                return absent(self.name, Absence.GONE, f"sentinel table {TABLE} does not exist")
            if exc.kind is ErrorKind.PERMISSION:
                return absent(self.name, Absence.NOT_GRANTED, exc.reason)
            return absent(self.name, Absence.ERROR, exc.reason)
        if not result.rows:
            return absent(self.name, Absence.GONE, f"sentinel table {TABLE} is empty")
        return Reading(self.name, str(result.rows[0][0]))


async def plant(admin: Database) -> str:
    """Create the sentinel table and row if absent (needs CREATE and INSERT); return the id."""
    create, insert = admin.dialect.sentinel_statements(TABLE)
    await admin.execute(create)
    existing = await admin.query(f"SELECT id FROM {admin.dialect.quote(TABLE)} ORDER BY id LIMIT 1")
    if existing.rows:
        return str(existing.rows[0][0])
    token = secrets.token_hex(16)
    await admin.execute(insert, [token])
    return token
