"""Compose files into a stack: volume syntax, merging, real volume names, who is who."""

from pathlib import Path

import pytest

from sidecar.preflight.compose_file import Mount, merge, parse
from sidecar.preflight.errors import PreflightError
from sidecar.preflight.stack import image_name, load_stack
from sidecar.preflight.tools import Tool
from tests.preflight.stacks import INCIDENT, invocation, write_project

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("data:/var/lib/mysql", Mount("s", "volume", "data", "/var/lib/mysql", False)),
        ("data:/var/lib/mysql:ro", Mount("s", "volume", "data", "/var/lib/mysql", True)),
        ("data:/var/lib/mysql:ro,z", Mount("s", "volume", "data", "/var/lib/mysql", True)),
        ("./state:/var/lib/sidecar", Mount("s", "bind", "./state", "/var/lib/sidecar", False)),
        ("/srv/db:/var/lib/mysql:rw", Mount("s", "bind", "/srv/db", "/var/lib/mysql", False)),
        ("~/db:/db", Mount("s", "bind", "~/db", "/db", False)),
        ("/var/lib/mysql", Mount("s", "volume", None, "/var/lib/mysql", False)),
        (
            {"type": "volume", "source": "data", "target": "/d", "read_only": True},
            Mount("s", "volume", "data", "/d", True),
        ),
        ({"type": "tmpfs", "target": "/tmp"}, Mount("s", "tmpfs", None, "/tmp", False)),
    ],
)
def test_volume_syntax(entry: object, expected: Mount) -> None:
    document = {"services": {"s": {"image": "x", "volumes": [entry]}}, "volumes": {"data": None}}
    assert parse(document).services["s"].mounts == (expected,)


def test_merging_follows_compose_for_volumes_environment_and_depends_on() -> None:
    base = {
        "name": "first",
        "services": {
            "db": {
                "image": "mariadb:10",
                "volumes": ["data:/var/lib/mysql", "./conf:/etc/mysql/conf.d"],
                "environment": ["A=1", "B=2"],
                "depends_on": ["x"],
            }
        },
        "volumes": {"data": {"labels": {"a": "1"}}},
    }
    override = {
        "name": "second",
        "services": {
            "db": {
                "image": "mariadb:11",
                "volumes": ["other:/var/lib/mysql"],
                "environment": {"B": "3", "C": "4"},
                "depends_on": {"y": {"condition": "service_healthy"}},
            }
        },
        "volumes": {"data": {"name": "pinned"}, "other": None},
    }
    merged = merge([base, override])
    model = parse(merged)
    db = model.services["db"]
    assert merged["name"] == "second"
    assert db.image == "mariadb:11"
    assert [(m.source, m.target) for m in db.mounts] == [
        ("other", "/var/lib/mysql"),
        ("./conf", "/etc/mysql/conf.d"),
    ]
    assert db.environment == {"A": "1", "B": "3", "C": "4"}
    assert db.depends_on == {"x": "service_started", "y": "service_healthy"}
    assert model.volumes["data"].real_name("p") == "pinned"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", "proj_mariadb_production_data"),
        ("    name: fixed_data\n", "fixed_data"),
        ("    external: true\n", "mariadb_production_data"),
        ("    external:\n      name: legacy_data\n", "legacy_data"),
    ],
)
def test_real_volume_names(tmp_path: Path, spec: str, expected: str) -> None:
    directory = write_project(tmp_path, "proj", {"compose.yaml": INCIDENT + spec})
    for tool in (Tool.COMPOSE, Tool.PODMAN_COMPOSE):
        (volume,) = load_stack(tool, invocation(directory)).volumes
        assert volume.name == expected, tool


def test_the_repository_compose_file_is_classified(tmp_path: Path) -> None:
    stack = load_stack(Tool.PODMAN_COMPOSE, invocation(REPO / "compose"))
    assert stack.project.name == "meaningful-conversations-production"
    (volume,) = stack.volumes
    assert (volume.key, volume.name, volume.database) == (
        "mariadb_production_data",
        "meaningful-conversations-production_mariadb_production_data",
        True,
    )
    assert [s.name for s in stack.sidecars] == ["sidecar"]
    assert [s.name for s in stack.databases] == ["mariadb"]
    assert [s.name for s in stack.apps] == ["app"]  # runs the MariaDB image, mounts no volume
    assert [s.name for s in stack.feeders] == ["backup"]  # writes the dumps the sidecar reads


FEEDING = """\
services:
  sidecar:
    image: sidecar
    environment: {SIDECAR_BACKUP_DIR: /backups}
    volumes: ["./backups/:/backups:ro", "./state:/var/lib/sidecar"]
  backup:
    image: mariadb
    volumes: ["./backups:/out"]
  reader:
    image: nginx
    volumes: ["./backups:/srv:ro"]
  stateful:
    image: busybox
    volumes: ["./state:/x"]
"""


def test_a_service_writing_what_the_sidecar_reads_is_a_feeder_not_an_app(tmp_path: Path) -> None:
    """It need not wait for the sidecar: the sidecar's verdict may wait for its dumps."""
    directory = write_project(tmp_path, "p", {"compose.yaml": FEEDING})
    stack = load_stack(Tool.COMPOSE, invocation(directory))
    assert [s.name for s in stack.feeders] == ["backup"]
    # Reading the same directory, or writing one the sidecar writes itself, makes no feeder.
    assert [s.name for s in stack.apps] == ["reader", "stateful"]


@pytest.mark.parametrize(
    ("service", "database"),
    [
        ("    image: docker.io/library/mariadb:10.11\n    volumes: [d:/srv]\n", True),
        ("    image: mysql@sha256:0123\n    volumes: [d:/srv]\n", True),
        ("    image: bitnami/mariadb\n    volumes: [d:/bitnami/mariadb]\n", True),
        ("    image: percona\n    volumes: [d:/var/lib/mysql]\n", True),
        ("    image: nginx\n    volumes: [d:/usr/share/nginx/html]\n", False),
    ],
)
def test_database_volumes(tmp_path: Path, service: str, database: bool) -> None:
    text = f"services:\n  s:\n{service}volumes:\n  d:\n"
    directory = write_project(tmp_path, "p", {"compose.yaml": text})
    (volume,) = load_stack(Tool.COMPOSE, invocation(directory)).volumes
    assert volume.database is database


def test_volumes_no_service_mounts_are_not_part_of_the_start(tmp_path: Path) -> None:
    text = INCIDENT + "  unused:\n"
    directory = write_project(tmp_path, "p", {"compose.yaml": text})
    stack = load_stack(Tool.COMPOSE, invocation(directory))
    assert [v.key for v in stack.volumes] == ["mariadb_production_data"]


def test_an_undeclared_volume_is_refused_by_compose_and_created_by_podman_compose(
    tmp_path: Path,
) -> None:
    text = "services:\n  db:\n    image: mariadb\n    volumes: [db_data:/var/lib/mysql]\n"
    directory = write_project(tmp_path, "p", {"compose.yaml": text})
    with pytest.raises(PreflightError, match="not declared"):
        load_stack(Tool.COMPOSE, invocation(directory))
    (volume,) = load_stack(Tool.PODMAN_COMPOSE, invocation(directory)).volumes
    assert volume.name == "p_db_data"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  a:\n    extends: {service: b}\n", "extends is not supported"),
        ("include: [other.yaml]\nservices: {}\n", "include: is not supported"),
        ("services:\n  a:\n    volumes: {x: y}\n", "volumes: must be a list"),
        ("services:\n  a:\n    volumes: [{target: /x}]\n", "needs type: and target:"),
        ("services: [a]\n", "services: must be a mapping"),
        ("services:\n  a: !reset {}\n", "unsupported YAML tag"),
        ("services:\n  a:\n    environment: 3\n", "environment: must be a list or a mapping"),
    ],
)
def test_what_preflight_cannot_resolve_is_refused(tmp_path: Path, text: str, message: str) -> None:
    directory = write_project(tmp_path, "p", {"compose.yaml": text})
    with pytest.raises(PreflightError, match=message):
        load_stack(Tool.COMPOSE, invocation(directory))


@pytest.mark.parametrize(
    ("image", "name"),
    [
        ("docker.io/library/mariadb:10.11", "mariadb"),
        ("localhost:5000/team/MySQL:8", "mysql"),
        ("mariadb@sha256:abc", "mariadb"),
        ("localhost/sidecar:dev", "sidecar"),
        ("", ""),
    ],
)
def test_image_names(image: str, name: str) -> None:
    assert image_name(image) == name
