"""An operator's lineage query, e.g. the id of the first row of Prisma's `_prisma_migrations`.

Prisma gives each applied migration a random UUID, so the first one is unique to the database
that ran it: a datadir initialised again and migrated again gets a new one.
"""

import hashlib

from sidecar.database import Database, DatabaseError, ErrorKind
from sidecar.identity.reading import Absence, Reading, absent


async def read(db: Database, query: str | None) -> Reading:
    """A short hash of the query's single value; `GONE` when it finds nothing."""
    if query is None:
        return absent("lineage", Absence.NOT_CONFIGURED, "SIDECAR_IDENTITY_QUERY not set")
    try:
        result = await db.query(query)
    except DatabaseError as exc:
        if exc.kind is ErrorKind.MISSING_TABLE:
            return absent("lineage", Absence.GONE, "the lineage query's table does not exist")
        if exc.kind is ErrorKind.PERMISSION:
            return absent("lineage", Absence.NOT_GRANTED, exc.reason)
        return absent("lineage", Absence.ERROR, exc.reason)
    if not result.rows or result.rows[0][0] is None:
        return absent("lineage", Absence.GONE, "the lineage query returned no value")
    value = str(result.rows[0][0]).encode()
    # Hashed: the value may be anything the operator chose, and only equality matters.
    return Reading("lineage", hashlib.sha256(value).hexdigest()[:16])
