"""`schema` on PostgreSQL: the OIDs of the watched tables and a few beside them.

PostgreSQL keeps no creation time. A table's OID plays its part: given when the table is
created and kept by everything that keeps the table (measured on PostgreSQL 15:
tests/engines/test_postgres_identity_facts.py: VACUUM FULL, a rewriting ALTER COLUMN ... TYPE,
CLUSTER, REINDEX, ADD COLUMN and a restart keep it; DROP and CREATE, or a restore through
pg_restore --clean, give a new one). Its relfilenode is not used: VACUUM FULL changes it.
Compared as a set and rolled forward like the creation times on MariaDB (schema.py).

What it reads per cycle is what schema.py reads: the watched tables and at most BESIDE others,
by exact name (one `pg_class` lookup, engines/postgres/catalogue.py), the others chosen every
LIST_EVERY seconds as the oldest relations of the schema (by OID, which the catalogue can read
without a walk through the schema). At 15,000 tables as at one (bench/pg_schema.py).
"""

from sidecar.durations import format_duration
from sidecar.engines.base import TableEntry
from sidecar.identity.schema import BESIDE, LIST_EVERY, SchemaSource
from sidecar.state import IdentityValue


class RelationsSource(SchemaSource):
    """`{table: OID}` for the watched tables and a bounded set beside them."""

    def mark(self, entry: TableEntry) -> float | None:
        """The table's OID (exact as a float: OIDs are 32 bits)."""
        return float(entry.generation) if entry.generation is not None else None

    def born(self, value: IdentityValue) -> tuple[float, str] | None:
        """OIDs tell no time."""
        return None

    def scope(self) -> str:
        """Which tables the reading holds: the watched ones, or a bounded sample."""
        if self.tables:
            return super().scope()
        return f"a sample: the {BESIDE} oldest (by OID), listed every {format_duration(LIST_EVERY)}"
