"""`postgresql://user[:password]@host[:port]/database`, in libpq's URI form.

Accepted query parameters are the two an operator of a compose stack needs: `host=` naming a
socket directory (`?host=/run/postgresql`, libpq's way of connecting over a Unix socket) and
`sslmode=`. Everything else libpq knows is refused by name rather than silently ignored.
"""

from typing import Literal, get_args
from urllib.parse import parse_qs, unquote, urlsplit

from sidecar import identifiers
from sidecar.dburl import DatabaseURL

SCHEMES = ("postgresql", "postgres")
DEFAULT_PORT = 5432
SSLMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
SSLMODES: dict[str, SSLMode] = {mode: mode for mode in get_args(SSLMode)}  # typed by name
_FORM = "(postgresql://user[:password]@host[:port]/database)"


def parse_postgres_url(url: str) -> DatabaseURL:
    """Parse a postgresql:// or postgres:// URL; raise ValueError (never echoing the password)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"is not a valid URL {_FORM}") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(f"must start with postgresql:// or postgres:// {_FORM}")
    if not parts.username:
        raise ValueError(f"names no user {_FORM}")
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ValueError(f"names no database {_FORM}")
    try:
        identifiers.validate(database)
    except ValueError:
        raise ValueError("database name is not a plain identifier") from None
    try:
        query = parse_qs(parts.query, strict_parsing=bool(parts.query), max_num_fields=8)
    except ValueError:
        raise ValueError("has a malformed query string") from None
    unknown = set(query) - {"host", "sslmode"}
    if unknown:
        raise ValueError(f"has unsupported parameter(s): {', '.join(sorted(unknown))}")
    if any(len(values) > 1 for values in query.values()):
        raise ValueError("names a parameter twice")
    socket_dir = query.get("host", [None])[0]
    if socket_dir is not None and not socket_dir.startswith("/"):
        raise ValueError("host= must be a socket directory (an absolute path)")
    sslmode = query.get("sslmode", [None])[0]
    if sslmode is not None and sslmode not in SSLMODES:
        raise ValueError(f"sslmode must be one of {', '.join(SSLMODES)}")
    host = parts.hostname or ("localhost" if socket_dir else "")
    if not host:
        raise ValueError(f"names no host {_FORM}")
    password = unquote(parts.password) if parts.password is not None else None
    return DatabaseURL(
        unquote(parts.username),
        host,
        port,
        database,
        socket_dir,
        password,
        scheme="postgresql",
        sslmode=sslmode,
    )
