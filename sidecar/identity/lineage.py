"""`lineage`: an operator's query, e.g. the id of the first row of Prisma's `_prisma_migrations`.

Prisma gives each applied migration a random UUID, so the first one is unique to the database
that ran it: a datadir initialised again and migrated again gets a new one.
"""

import hashlib
from typing import Self

from sidecar.engines.base import Database, DatabaseError, ErrorKind
from sidecar.identity.reading import Absence, Reading, absent
from sidecar.identity.settings import IdentitySettings
from sidecar.identity.source import Source


class LineageSource(Source):
    """A short hash of the lineage query's single value; `GONE` when it finds nothing."""

    name = "lineage"

    def __init__(self, query: str | None) -> None:
        self.query = query

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> Self:
        """Run the configured lineage query."""
        return cls(settings.query)

    def configured(self) -> bool:
        """Configured by `SIDECAR_IDENTITY_QUERY`."""
        return self.query is not None

    async def read(self, db: Database) -> Reading:
        """Hash of the query's value."""
        if self.query is None:
            return absent(self.name, Absence.NOT_CONFIGURED, "SIDECAR_IDENTITY_QUERY not set")
        try:
            result = await db.query(self.query)
        except DatabaseError as exc:
            if exc.kind is ErrorKind.MISSING_TABLE:
                return absent(self.name, Absence.GONE, "the lineage query's table does not exist")
            if exc.kind is ErrorKind.PERMISSION:
                return absent(self.name, Absence.NOT_GRANTED, exc.reason)
            return absent(self.name, Absence.ERROR, exc.reason)
        if not result.rows or result.rows[0][0] is None:
            return absent(self.name, Absence.GONE, "the lineage query returned no value")
        value = str(result.rows[0][0]).encode()
        # Hashed: the value may be anything the operator chose, and only equality matters.
        return Reading(self.name, hashlib.sha256(value).hexdigest()[:16])
