"""Parsing of `SIDECAR_DB_URL`: `mysql://` or `mariadb://` (MariaDB), `postgresql://` or
`postgres://` (PostgreSQL, engines/postgres/url.py), `user[:password]@host[:port]/database`."""

from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs, unquote, urlsplit

from sidecar import identifiers

_SCHEMES = {"mysql", "mariadb"}


@dataclass(frozen=True)
class DatabaseURL:
    """Where and as whom to connect; the password is never part of repr()."""

    user: str
    host: str
    port: int
    database: str
    unix_socket: str | None = None  # MariaDB: the socket file; PostgreSQL: its directory
    password: str | None = field(default=None, repr=False)
    scheme: str = "mysql"  # which engine: mysql (MariaDB) or postgresql
    sslmode: str | None = None  # PostgreSQL's libpq sslmode

    def redacted(self) -> str:
        """The URL without its password, for dumps and displays."""
        query = []
        if self.unix_socket:
            query.append(
                f"{'host' if self.scheme == 'postgresql' else 'unix_socket'}=" + self.unix_socket
            )
        if self.sslmode:
            query.append(f"sslmode={self.sslmode}")
        tail = "?" + "&".join(query) if query else ""
        return f"{self.scheme}://{self.user}@{self.host}:{self.port}/{self.database}{tail}"

    def with_password(self, password: str | None) -> "DatabaseURL":
        """Return a copy carrying `password` (from the URL, env or a secret file)."""
        return replace(self, password=password)


def parse_db_url(url: str) -> DatabaseURL:
    """Parse a database URL of either engine; raise ValueError (never echoing the password)."""
    scheme = url.strip().partition(":")[0].lower()
    if scheme in ("postgresql", "postgres"):
        from sidecar.engines.postgres.url import parse_postgres_url  # it builds on this module

        return parse_postgres_url(url)
    return _parse_mysql_url(url)


def _parse_mysql_url(url: str) -> DatabaseURL:
    try:
        parts = urlsplit(url.strip())
        port = parts.port or 3306
    except ValueError:
        raise ValueError(
            "is not a valid URL (mysql://user[:password]@host[:port]/database)"
        ) from None
    if parts.scheme not in _SCHEMES:
        raise ValueError(
            "must start with mysql://, mariadb://, postgresql:// or postgres://"
            " (mysql://user[:password]@host[:port]/database)"
        )
    if not parts.username:
        raise ValueError("names no user (mysql://user[:password]@host[:port]/database)")
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ValueError("names no database (mysql://user[:password]@host[:port]/database)")
    try:
        identifiers.validate(database)
    except ValueError:
        raise ValueError("database name is not a plain identifier") from None
    query = parse_qs(parts.query)
    unknown = set(query) - {"unix_socket"}
    if unknown:
        raise ValueError(f"has unsupported parameter(s): {', '.join(sorted(unknown))}")
    socket = query.get("unix_socket", [None])[0]
    host = parts.hostname or ("localhost" if socket else "")
    if not host:
        raise ValueError("names no host (mysql://user[:password]@host[:port]/database)")
    password = unquote(parts.password) if parts.password is not None else None
    return DatabaseURL(unquote(parts.username), host, port, database, socket, password)
