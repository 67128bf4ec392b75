"""`cluster`: PostgreSQL's `system_identifier`, chosen by initdb: the strongest source we have.

A 64-bit number from `pg_control_system()`, different for every cluster, unchanged by restarts,
VACUUM FULL, a rewriting ALTER TABLE, CLUSTER or any other DDL, and shared by a streaming replica
with its primary (a failover keeps it: the data carried over). Any role may read it: no grant.
Its upper 32 bits are the second initdb ran (src/backend/access/transam/xlog.c: `tv_sec << 32`),
which names when the cluster was born.
"""

from sidecar.engines.base import Database, DatabaseError
from sidecar.identity.reading import Absence, Reading, absent
from sidecar.identity.source import Source
from sidecar.state import IdentityValue

_QUERY = "SELECT system_identifier::text FROM pg_catalog.pg_control_system()"


class ClusterSource(Source):
    """The cluster's system identifier, as decimal text."""

    name = "cluster"

    async def read(self, db: Database) -> Reading:
        """Read the control file's identifier through the server."""
        try:
            result = await db.query(_QUERY)
        except DatabaseError as exc:
            return absent(self.name, Absence.ERROR, exc.reason)
        return Reading(self.name, str(result.rows[0][0]))

    def born(self, value: IdentityValue) -> tuple[float, str] | None:
        """When initdb made the cluster."""
        if not isinstance(value, str) or not value.isdigit():
            return None
        return float(int(value) >> 32), "cluster initialised"
