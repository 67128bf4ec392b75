"""The image table and the data-directory rules: which volume holds the database, and when the
data directory lands on an anonymous volume the image declares (the postgres:18 trap)."""

from pathlib import Path

import pytest

from sidecar.preflight.compose_file import Mount, Service
from sidecar.preflight.datadir import database_engine, misplaced
from sidecar.preflight.images import MARIADB, MYSQL, POSTGRESQL, layouts, parse_image
from sidecar.preflight.stack import load_stack
from sidecar.preflight.tools import Tool
from tests.preflight.stacks import invocation, postgres_stack, write_project

PG = "/var/lib/postgresql"
PG_DATA = "/var/lib/postgresql/data"


@pytest.mark.parametrize(
    ("image", "repository", "tag", "major"),
    [
        ("postgres:18", "postgres", "18", 18),
        ("postgres:18.1-bookworm", "postgres", "18.1-bookworm", 18),
        ("postgres:18-alpine", "postgres", "18-alpine", 18),
        ("docker.io/library/postgres:16.4", "postgres", "16.4", 16),
        ("localhost/postgres:9.6", "postgres", "9.6", 9),
        ("localhost:5000/library/postgres:17", "postgres", "17", 17),
        ("postgres:latest", "postgres", "latest", None),
        ("postgres", "postgres", "", None),
        ("postgres:alpine", "postgres", "alpine", None),
        ("postgres@sha256:" + "a" * 64, "postgres", "", None),
        ("postgres:18@sha256:" + "a" * 64, "postgres", "18", 18),
        ("docker.io/bitnami/postgresql:16", "bitnami/postgresql", "16", 16),
        ("quay.io:443/Team/MariaDB:11", "team/mariadb", "11", 11),
        ("", "", "", None),
    ],
)
def test_image_references(image: str, repository: str, tag: str, major: int | None) -> None:
    ref = parse_image(image)
    assert (ref.repository, ref.tag, ref.major) == (repository, tag, major)


def test_an_unknown_version_says_why() -> None:
    assert parse_image("postgres:latest").why_unknown() == "its tag 'latest' names no version"
    assert parse_image("postgres").why_unknown() == "it has no tag (latest)"
    digest = "postgres@sha256:" + "0" * 64
    assert parse_image(digest).why_unknown() == "it is pinned by digest only"


@pytest.mark.parametrize(
    ("image", "environment", "command", "expected"),
    [
        ("mariadb:11", {}, (), [(MARIADB, "/var/lib/mysql", ("/var/lib/mysql",))]),
        ("mysql:8", {}, ("--datadir=/data/",), [(MYSQL, "/data", ("/var/lib/mysql",))]),
        ("mariadb:11", {}, ("mariadbd", "--datadir", "/d"), [(MARIADB, "/d", ("/var/lib/mysql",))]),
        ("postgres:16", {}, (), [(POSTGRESQL, PG_DATA, (PG_DATA,))]),
        ("postgres:18", {}, (), [(POSTGRESQL, f"{PG}/18/docker", (PG,))]),
        ("postgres:19-trixie", {}, (), [(POSTGRESQL, f"{PG}/19/docker", (PG,))]),
        ("postgres:18", {"PGDATA": "/pg/"}, (), [(POSTGRESQL, "/pg", (PG,))]),
        (
            "postgres:latest",
            {},
            (),
            [(POSTGRESQL, PG_DATA, (PG_DATA,)), (POSTGRESQL, f"{PG}/18/docker", (PG,))],
        ),
        ("bitnami/postgresql:16", {"PGDATA": "/x"}, (), [(POSTGRESQL, "/bitnami/postgresql/data", ())]),  # noqa: E501 (a table row)
        ("bitnami/mariadb:11", {}, (), [(MARIADB, "/bitnami/mariadb/data", ())]),
        ("bitnami/mysql:8", {}, (), [(MYSQL, "/bitnami/mysql/data", ())]),
        ("nginx:1", {"PGDATA": "/x"}, (), []),
    ],
)  # fmt: skip
def test_the_table(
    image: str,
    environment: dict[str, str | None],
    command: tuple[str, ...],
    expected: list[tuple[object, str, tuple[str, ...]]],
) -> None:
    found = layouts(image, environment, command)
    assert [(f.engine, f.data_dir, f.declared) for f in found] == expected


def service(image: str, *targets: str, pgdata: str = "", command: tuple[str, ...] = ()) -> Service:
    mounts = tuple(Mount("db", "volume", f"v{i}", t, False) for i, t in enumerate(targets))
    environment: dict[str, str | None] = {"PGDATA": pgdata} if pgdata else {}
    return Service("db", image, environment, mounts, {}, command)


@pytest.mark.parametrize(
    ("image", "target", "pgdata", "engine"),
    [
        ("postgres:16", "/var/lib/postgresql/data", "", POSTGRESQL),
        ("postgres:18", "/var/lib/postgresql", "", POSTGRESQL),
        ("postgres:18", "/backups", "", POSTGRESQL),  # a database image's volume: a config may
        ("bitnami/mysql:8", "/bitnami/mysql", "", MYSQL),
        # Images the table does not know: the known paths, or PGDATA.
        ("ghcr.io/acme/pg:3", "/var/lib/postgresql/data", "", POSTGRESQL),
        ("postgis/postgis:16-3.4", "/pgdata", "/pgdata/cluster", POSTGRESQL),
        ("percona:8", "/var/lib/mysql", "", MARIADB),
        ("percona:8", "/srv", "", None),
        ("nginx:1", "/usr/share/nginx/html", "", None),
    ],
)
def test_database_volumes_by_engine(image: str, target: str, pgdata: str, engine: object) -> None:
    db = service(image, target, pgdata=pgdata)
    assert database_engine(db, db.mounts[0]) is engine


def traps(image: str, *targets: str, pgdata: str = "") -> list[tuple[str, str, tuple[str, ...]]]:
    """(named mount, anonymous VOLUME the data lands on, the fixes offered) per layout."""
    found = misplaced(service(image, *targets, pgdata=pgdata))
    return [(t.mount.target, t.anonymous_at, t.fixes) for t in found]


MOUNT_PARENT = 'mount it at /var/lib/postgresql: "- v0:/var/lib/postgresql"'
MOUNT_DATA = 'mount it at /var/lib/postgresql/data: "- v0:/var/lib/postgresql/data"'
SET_PGDATA = 'add "PGDATA: /var/lib/postgresql/data" to db\'s environment'


def test_postgres_18_at_the_old_path_lands_on_the_image_volume() -> None:
    for image in ("postgres:18", "postgres:18.1-bookworm", "docker.io/library/postgres:18-alpine"):
        assert traps(image, "/var/lib/postgresql/data") == [
            ("/var/lib/postgresql/data", "/var/lib/postgresql", (MOUNT_PARENT, SET_PGDATA))
        ]


def test_postgres_18_is_fine_at_the_parent_or_with_pgdata_at_the_mount() -> None:
    assert traps("postgres:18", "/var/lib/postgresql") == []
    assert traps("postgres:18", "/var/lib/postgresql/data", pgdata="/var/lib/postgresql/data") == []
    # The common PGDATA below the mount (`.../data/pgdata`) is on the mount too.
    assert (
        traps("postgres:18", "/var/lib/postgresql/data", pgdata="/var/lib/postgresql/data/pg") == []
    )


def test_the_mirror_postgres_17_at_the_parent_lands_on_the_image_volume() -> None:
    """The brief's question: is a <= 17 image with the volume at /var/lib/postgresql fine? No.

    PGDATA /var/lib/postgresql/data is under the mount, but the image's own VOLUME at that very
    path is deeper, so the engine gives it an anonymous volume (test_postgres_engine.py shows
    podman doing it). PGDATA at the mount is no fix: the VOLUME's mountpoint would sit inside
    the data directory, which initdb refuses when it is not empty.
    """
    assert traps("postgres:16", "/var/lib/postgresql") == [
        ("/var/lib/postgresql", "/var/lib/postgresql/data", (MOUNT_DATA,))
    ]
    assert traps("postgres:16", "/var/lib/postgresql/data") == []
    # Both mounted: each image VOLUME has its own named volume.
    assert traps("postgres:16", "/var/lib/postgresql", "/var/lib/postgresql/data") == []


def test_an_unknown_version_considers_both_layouts_and_offers_only_what_fixes_both() -> None:
    (trap,) = traps("postgres:latest", "/var/lib/postgresql/data")
    assert trap == ("/var/lib/postgresql/data", "/var/lib/postgresql", (SET_PGDATA,))
    (trap,) = traps("postgres", "/var/lib/postgresql")
    assert trap == ("/var/lib/postgresql", "/var/lib/postgresql/data", ())  # no line fixes both
    assert (
        traps("postgres:latest", "/var/lib/postgresql/data", pgdata="/var/lib/postgresql/data")
        == []
    )


def test_mariadb_and_bitnami() -> None:
    assert traps("mariadb:11", "/var/lib/mysql") == []
    (trap,) = traps("mariadb:11", "/var/lib")  # above the image's VOLUME: the same trap
    assert trap[1] == "/var/lib/mysql"
    assert traps("bitnami/postgresql:16", "/bitnami/postgresql") == []


def test_a_datadir_in_the_command_moves_the_data(tmp_path: Path) -> None:
    text = (
        "services:\n  db:\n    image: mariadb:11\n    command: mariadbd --datadir=/data\n"
        "    volumes: [d:/data]\nvolumes:\n  d:\n"
    )
    directory = write_project(tmp_path, "p", {"compose.yaml": text})
    stack = load_stack(Tool.COMPOSE, invocation(directory))
    (volume,) = stack.volumes
    assert (volume.engine, volume.data_target) == (MARIADB, "/data")
    assert stack.model.services["db"].command == ("mariadbd", "--datadir=/data")


def test_a_postgres_stack_has_a_postgresql_database_volume(tmp_path: Path) -> None:
    text = postgres_stack("postgres:16", "/var/lib/postgresql/data")
    directory = write_project(tmp_path, "p", {"compose.yaml": text})
    stack = load_stack(Tool.COMPOSE, invocation(directory))
    (volume,) = stack.database_volumes
    assert (volume.key, volume.engine, volume.data_target) == (
        "postgres_data",
        POSTGRESQL,
        "/var/lib/postgresql/data",
    )
    assert [s.name for s in stack.databases] == ["postgres"]


def test_a_huge_command_is_read_in_bounded_time(tmp_path: Path) -> None:
    """Only `--datadir` is looked for: no shell-like parse of a string a compose file can
    make megabytes long."""
    import time

    words = "--skip-name-resolve " * 45_000  # 900 kB: the file stays under its 1 MiB bound
    text = (
        f"services:\n  db:\n    image: mariadb:11\n    command: '{words}--datadir=/data'\n"
        "    volumes: [d:/data]\nvolumes:\n  d:\n"
    )
    directory = write_project(tmp_path, "p", {"compose.yaml": text})
    started = time.monotonic()
    (volume,) = load_stack(Tool.COMPOSE, invocation(directory)).volumes
    assert time.monotonic() - started < 2
    assert volume.data_target == "/data"
