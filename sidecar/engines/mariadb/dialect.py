"""What is MariaDB's in the checks' SQL: backtick quoting, information_schema, the grants that
write, and the identity sources the server answers (the datadir's birth, table creation times).
"""

from typing import ClassVar

from sidecar import identifiers
from sidecar.engines.base import Catalogue, Database, Dialect
from sidecar.engines.mariadb import catalogue as mariadb_catalogue
from sidecar.identity.datadir import DatadirSource
from sidecar.identity.inode import InodeSource
from sidecar.identity.lineage import LineageSource
from sidecar.identity.schema import SchemaSource
from sidecar.identity.sentinel import SentinelSource
from sidecar.identity.source import Source
from sidecar.identity.volume import VolumeSource

# What lets an account change the app schema's data or structure.
WRITING = frozenset(
    {
        "ALL PRIVILEGES",
        "ALTER",
        "ALTER ROUTINE",
        "CREATE",
        "CREATE ROUTINE",
        "CREATE VIEW",
        "DELETE",
        "DELETE HISTORY",
        "DROP",
        "EVENT",
        "INDEX",
        "INSERT",
        "TRIGGER",
        "UPDATE",
    }
)

# The current account's privileges that reach the current database: global, on the schema, or
# on one of its tables. information_schema shows only the caller's own grants: no extra grant.
_PRIVILEGES = (
    "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES"
    " UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES"
    " WHERE TABLE_SCHEMA = DATABASE()"
    " UNION SELECT PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES"
    " WHERE TABLE_SCHEMA = DATABASE()"
)

_SIMILAR = (
    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
    " AND LOWER(TABLE_NAME) = LOWER(%s) AND TABLE_NAME <> %s ORDER BY TABLE_NAME LIMIT 3"
)


class MariaDBDialect(Dialect):
    """MariaDB 10.6+ (and MySQL where they agree)."""

    name = "MariaDB"
    estimate = "InnoDB estimate"
    scheme = "mysql"
    catalogue: ClassVar[Catalogue] = mariadb_catalogue

    def quote(self, name: str) -> str:
        """Backticks."""
        return identifiers.quote(name)

    async def similar_names(self, db: Database, name: str) -> tuple[str, ...]:
        """Names differing in case: two tables on Linux (lower_case_table_names=0)."""
        result = await db.query(_SIMILAR, [name, name])
        return tuple(str(row[0]) for row in result.rows)

    async def writing_privileges(self, db: Database) -> tuple[str, ...]:
        """The account's own grants on the database, globally or per table, that write."""
        result = await db.query(_PRIVILEGES)
        granted = {str(row[0]).upper() for row in result.rows}
        return tuple(sorted(granted & WRITING))

    def identity_sources(self) -> tuple[type[Source], ...]:
        """Strongest first: the sentinel, the lineage, the volume, its inode, the datadir's
        birth and the tables' creation times."""
        return (
            SentinelSource,
            LineageSource,
            VolumeSource,
            InodeSource,
            DatadirSource,
            SchemaSource,
        )

    def sentinel_statements(self, table: str) -> tuple[str, str]:
        """InnoDB table, CHAR(32) id."""
        quoted = self.quote(table)
        return (
            f"CREATE TABLE IF NOT EXISTS {quoted} ("
            " id CHAR(32) NOT NULL PRIMARY KEY,"
            " planted_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP"
            ") COMMENT='sidecar: identity of this datadir; do not copy between databases'",
            f"INSERT INTO {quoted} (id) VALUES (%s)",
        )


MARIADB = MariaDBDialect()
