"""Database engines, one package each, behind one seam (engines/base.py).

`connect()` is the only place that picks an engine: by the URL's scheme. Adding an engine is a
package beside `mariadb/` and `postgres/` (its `Pool`, `classify` and `Dialect`) and a line in
`_ENGINES`; see docs/extending.md.
"""

from sidecar.dburl import DatabaseURL
from sidecar.engines.base import Database, Dialect


def _engines() -> dict[str, type[Database]]:
    # Imported here: each engine's driver loads only when an engine is asked for.
    from sidecar.engines.mariadb.database import MariaDB
    from sidecar.engines.postgres.database import PostgresDatabase

    return {"mysql": MariaDB, "postgresql": PostgresDatabase}


def connect(url: DatabaseURL, timeout: float, read_only: bool = True) -> Database:
    """Connections (made on first use) to the database `url` names, each call bounded."""
    return _engines()[url.scheme](url, timeout, read_only)


def dialect_of(url: DatabaseURL) -> Dialect:
    """The SQL dialect and server knowledge of the engine `url` names."""
    return _engines()[url.scheme].dialect
