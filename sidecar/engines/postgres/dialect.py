"""What is PostgreSQL's in the checks' SQL: double-quoted names matched exactly, pg_class and
pg_index, the privileges that write (has_table_privilege and friends), and the identity sources
the server answers (the cluster's system identifier, table OIDs).
"""

from typing import ClassVar

from sidecar import identifiers
from sidecar.engines.base import Catalogue, Database, Dialect
from sidecar.engines.postgres import catalogue as postgres_catalogue
from sidecar.identity.cluster import ClusterSource
from sidecar.identity.controlfile import ControlFileSource
from sidecar.identity.inode import InodeSource
from sidecar.identity.lineage import LineageSource
from sidecar.identity.relations import RelationsSource
from sidecar.identity.sentinel import SentinelSource
from sidecar.identity.source import Source
from sidecar.identity.volume import VolumeSource

# Table privileges that change data, asked of every table of the current schema: the role's own
# grants, what it inherits from roles it is a member of (pg_write_all_data too) and ownership,
# all of which has_table_privilege answers. Then what goes beyond tables: creating objects in
# the schema or the database, being a superuser (who can do anything), bypassing row security
# (reads and writes past every policy), and membership in a role it does not inherit from but
# may SET ROLE to, when that role owns a table here.
_PRIVILEGES = (
    "SELECT"
    " COALESCE(bool_or(has_table_privilege(c.oid, 'INSERT')), false),"
    " COALESCE(bool_or(has_table_privilege(c.oid, 'UPDATE')), false),"
    " COALESCE(bool_or(has_table_privilege(c.oid, 'DELETE')), false),"
    " COALESCE(bool_or(has_table_privilege(c.oid, 'TRUNCATE')), false),"
    " COALESCE(bool_or(has_table_privilege(c.oid, 'TRIGGER')), false),"
    " COALESCE(bool_or(pg_has_role(c.relowner, 'MEMBER')), false),"
    " has_schema_privilege(current_schema(), 'CREATE'),"
    " has_database_privilege(current_database(), 'CREATE'),"
    " (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user),"
    " (SELECT rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user)"
    " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
)
_NAMES = (
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "TRIGGER",
    "OWNER (a member of a table's owner role)",
    "CREATE (on the schema)",
    "CREATE (on the database)",
    "SUPERUSER",
    "BYPASSRLS",
)

_SIMILAR = (
    "SELECT c.relname FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema() AND lower(c.relname) = lower($1) AND c.relname <> $1"
    " AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname LIMIT 3"
)


class PostgresDialect(Dialect):
    """PostgreSQL 13+."""

    name = "PostgreSQL"
    estimate = "planner estimate"
    scheme = "postgresql"
    catalogue: ClassVar[Catalogue] = postgres_catalogue

    def quote(self, name: str) -> str:
        """Double quotes: the name is matched exactly, case and all (`"User"` is not `user`)."""
        return identifiers.quote_double(name)

    async def similar_names(self, db: Database, name: str) -> tuple[str, ...]:
        """`user` where `"User"` exists: PostgreSQL folds unquoted names, we never do."""
        result = await db.query(_SIMILAR, [name])
        return tuple(str(row[0]) for row in result.rows)

    async def writing_privileges(self, db: Database) -> tuple[str, ...]:
        """What of `_NAMES` the role holds."""
        row = (await db.query(_PRIVILEGES)).rows[0]
        return tuple(sorted(name for name, held in zip(_NAMES, row, strict=True) if held))

    def identity_sources(self) -> tuple[type[Source], ...]:
        """Strongest first: the sentinel, the lineage, the cluster, the volume, its inode, the
        cluster on it (held against the server's) and the tables' OIDs."""
        return (
            SentinelSource,
            LineageSource,
            ClusterSource,
            VolumeSource,
            InodeSource,
            ControlFileSource,
            RelationsSource,
        )

    def sentinel_statements(self, table: str) -> tuple[str, str]:
        """A plain table; the id as text."""
        quoted = self.quote(table)
        return (
            f"CREATE TABLE IF NOT EXISTS {quoted} ("
            " id char(32) NOT NULL PRIMARY KEY,"
            " planted_at timestamptz NOT NULL DEFAULT now())",
            f"INSERT INTO {quoted} (id) VALUES ($1)",
        )


POSTGRES = PostgresDialect()
