"""Database images: where each keeps its data, and which of its directories it declares a VOLUME.

| image (any registry) | data directory                     | image VOLUME               | moved by
|----------------------|------------------------------------|----------------------------|---------
| `mariadb`, `mysql`   | `/var/lib/mysql`                   | `/var/lib/mysql`           | datadir
| `postgres` <= 17     | `/var/lib/postgresql/data`         | `/var/lib/postgresql/data` | PGDATA
| `postgres` >= 18     | `/var/lib/postgresql/MAJOR/docker` | `/var/lib/postgresql`      | PGDATA
| `bitnami/mariadb`    | `/bitnami/mariadb/data`            | none                       | -
| `bitnami/mysql`      | `/bitnami/mysql/data`              | none                       | -
| `bitnami/postgresql` | `/bitnami/postgresql/data`         | none                       | -

`--datadir=` is read from a mariadb/mysql `command:`, `PGDATA` from the service's
`environment:` (not from an `env_file:`). Bitnami's images are mounted at `/bitnami/NAME`.
The official images' Dockerfiles (docker-library) declare those VOLUMEs; PostgreSQL 18 moved
both (docker-library/docs PR #2582). The postgres major version comes from the tag's leading
number (`18`, `18.1-bookworm`, `18-alpine`); `latest`, no tag, a name (`alpine`) or a digest
alone leave it unknown, and then both layouts are considered, never one guessed.

The image is recognised by its repository with the registry (`docker.io/`, `localhost/`,
`quay.io:443/`) and `library/` removed: `bitnami/*` by the table, anything else by its last
path component (`mirror.example/library/postgres` is the official image's mirror). An image
the table does not know is judged by the known mount paths alone (`FALLBACK_MOUNTS`).
"""

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Engine:
    """A database engine, as preflight's messages name it."""

    name: str  # "PostgreSQL"
    store: str  # what it initialises on an empty volume: "cluster"


MARIADB = Engine("MariaDB", "datadir")
MYSQL = Engine("MySQL", "datadir")
POSTGRESQL = Engine("PostgreSQL", "cluster")


@dataclass(frozen=True)
class ImageRef:
    """An image reference taken apart."""

    text: str  # as written
    repository: str  # registry and `library/` removed, lower case: "postgres", "bitnami/mysql"
    tag: str  # "" when none
    digest: str  # "" when none

    @property
    def name(self) -> str:
        """The repository's last path component: `bitnami/postgresql` -> `postgresql`."""
        return self.repository.rsplit("/", 1)[-1]

    @property
    def major(self) -> int | None:
        """The major version the tag starts with (`18.1-bookworm` -> 18), None when unknown."""
        match = re.match(r"(\d{1,4})(?:$|[.\-_])", self.tag)
        return int(match.group(1)) if match else None

    def why_unknown(self) -> str:
        """Why the major version cannot be read from the reference."""
        if self.tag:
            return f"its tag {self.tag!r} names no version"
        if self.digest:
            return "it is pinned by digest only"
        return "it has no tag (latest)"


def parse_image(text: str) -> ImageRef:
    """`docker.io/library/postgres:18.1@sha256:...` -> repository postgres, tag 18.1, digest."""
    reference, _, digest = text.strip().partition("@")
    path, tag = reference, ""
    head, sep, tail = reference.rpartition(":")
    if sep and "/" not in tail:  # a colon after the last slash is the tag, not a port
        path, tag = head, tail
    parts = path.lower().split("/")
    # A first component with a dot or a port, or `localhost`, is a registry (as the engines
    # resolve short names).
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "library":
        parts = parts[1:]
    return ImageRef(text, "/".join(parts), tag, digest)


@dataclass(frozen=True)
class Layout:
    """Where one image keeps its data, as far as a compose file can tell."""

    engine: Engine
    data_dir: str
    declared: tuple[str, ...]  # the image's own VOLUME paths
    why: str  # where data_dir comes from, for messages: "PGDATA of postgres:18"
    # Paths the image's documentation tells users to mount: a volume there is the database's
    # even when the data directory misses it (the postgres:18 trap).
    mount_points: tuple[str, ...]
    assumed_major: int | None = None  # set when the tag did not say and this layout is a guess
    # The 18+ entrypoint exits when this is a mount point and PGDATA is its default
    # (docker-library/postgres `docker_setup_env`, "unused mount/volume").
    refuses_mount_at: str = ""

    @property
    def overridable(self) -> bool:
        """Whether `PGDATA` moves the data directory (the fix to offer)."""
        return self.engine is POSTGRESQL and not self.why.startswith("bitnami")


# The last major version whose official image keeps PGDATA at /var/lib/postgresql/data.
LAST_OLD_LAYOUT = 17
_PG_OLD = "/var/lib/postgresql/data"
_PG_PARENT = "/var/lib/postgresql"
_BITNAMI = {"bitnami/mariadb": MARIADB, "bitnami/mysql": MYSQL, "bitnami/postgresql": POSTGRESQL}
_MYSQL_FAMILY = {"mariadb": MARIADB, "mysql": MYSQL}
# Where a volume of an image this table does not know holds a database: every path above.
FALLBACK_MOUNTS: dict[str, Engine] = {
    "/var/lib/mysql": MARIADB,
    _PG_OLD: POSTGRESQL,
    _PG_PARENT: POSTGRESQL,
    "/bitnami/mariadb": MARIADB,
    "/bitnami/mysql": MYSQL,
    "/bitnami/postgresql": POSTGRESQL,
}


def layouts(
    image: str, environment: dict[str, str | None], command: tuple[str, ...]
) -> tuple[Layout, ...]:
    """The layouts a service of `image` may have: one when known, both postgres layouts when
    the major version is unknown, none for an image the table does not know."""
    ref = parse_image(image)
    if ref.repository in _BITNAMI:
        engine = _BITNAMI[ref.repository]
        base = "/" + ref.repository
        return (Layout(engine, f"{base}/data", (), f"bitnami's {ref.name}", (base,)),)
    if ref.name in _MYSQL_FAMILY:
        engine = _MYSQL_FAMILY[ref.name]
        datadir = _datadir(command)
        why = f"--datadir of {ref.name}" if datadir else f"{ref.name}'s default"
        target = datadir or "/var/lib/mysql"
        return (Layout(engine, target, ("/var/lib/mysql",), why, ("/var/lib/mysql",)),)
    if ref.name != "postgres":
        return ()
    pgdata = (environment.get("PGDATA") or "").rstrip("/")
    if ref.major is not None:
        return (_postgres(ref.major, pgdata, None),)
    # Unknown: the last old layout and the first new one stand for both families.
    return (
        _postgres(LAST_OLD_LAYOUT, pgdata, LAST_OLD_LAYOUT),
        _postgres(LAST_OLD_LAYOUT + 1, pgdata, LAST_OLD_LAYOUT + 1),
    )


def _postgres(major: int, pgdata: str, assumed: int | None) -> Layout:
    old = major <= LAST_OLD_LAYOUT
    declared = _PG_OLD if old else _PG_PARENT
    default = _PG_OLD if old else f"{_PG_PARENT}/{major}/docker"
    shown = f"postgres:{major}" if assumed is None else f"postgres {major}"
    why = "PGDATA in its environment" if pgdata else f"PGDATA of {shown}"
    refuses = "" if old or pgdata else _PG_OLD
    points = (_PG_OLD, _PG_PARENT)
    return Layout(POSTGRESQL, pgdata or default, (declared,), why, points, assumed, refuses)


def _datadir(command: tuple[str, ...]) -> str:
    """The `--datadir` a mariadb/mysql `command:` passes, or ""."""
    for index, word in enumerate(command):
        if word.startswith("--datadir="):
            return word.split("=", 1)[1].rstrip("/")
        if word == "--datadir" and index + 1 < len(command):
            return command[index + 1].rstrip("/")
    return ""


def at_or_above(target: str, path: str) -> bool:
    """Whether a mount at `target` holds `path`: the same directory or one of its parents."""
    target, path = target.rstrip("/") or "/", path.rstrip("/") or "/"
    return path == target or path.startswith(target.rstrip("/") + "/")
