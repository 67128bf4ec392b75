"""A sentinel row planted once by `sidecar adopt`: a random id that a fresh datadir lacks."""

import secrets

from sidecar import identifiers
from sidecar.database import Database, DatabaseError, ErrorKind
from sidecar.identity.reading import Absence, Reading, absent

TABLE = "_sidecar_identity"


async def read(db: Database) -> Reading:
    """The planted id; `GONE` when the table is missing or empty (a fresh datadir)."""
    try:
        result = await db.query(f"SELECT id FROM {identifiers.quote(TABLE)} ORDER BY id LIMIT 1")
    except DatabaseError as exc:
        if exc.kind is ErrorKind.MISSING_TABLE:
            return absent("sentinel", Absence.GONE, f"sentinel table {TABLE} does not exist")
        if exc.kind is ErrorKind.PERMISSION:
            return absent("sentinel", Absence.NOT_GRANTED, exc.reason)
        return absent("sentinel", Absence.ERROR, exc.reason)
    if not result.rows:
        return absent("sentinel", Absence.GONE, f"sentinel table {TABLE} is empty")
    return Reading("sentinel", str(result.rows[0][0]))


async def plant(admin: Database) -> str:
    """Create the sentinel table and row if absent (needs CREATE and INSERT); return the id."""
    table = identifiers.quote(TABLE)
    await admin.execute(
        f"CREATE TABLE IF NOT EXISTS {table} ("
        " id CHAR(32) NOT NULL PRIMARY KEY,"
        " planted_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP"
        ") COMMENT='sidecar: identity of this datadir; do not copy between databases'"
    )
    existing = await admin.query(f"SELECT id FROM {table} ORDER BY id LIMIT 1")
    if existing.rows:
        return str(existing.rows[0][0])
    token = secrets.token_hex(16)
    await admin.execute(f"INSERT INTO {table} (id) VALUES (%s)", [token])
    return token
