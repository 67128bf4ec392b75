"""`sidecar volumes` finds a PostgreSQL cluster on an anonymous volume: the rules on real
directories standing for the volumes' mountpoints (test_postgres_engine.py does it on podman)."""

from datetime import UTC, datetime
from pathlib import Path

from sidecar.preflight import render
from sidecar.preflight.anonymous import find_clusters, is_anonymous
from sidecar.preflight.engines import ContainerMount, EngineContainer, EngineVolume
from sidecar.preflight.recover import RememberedVolumes, compare
from sidecar.preflight.sizes import Size
from sidecar.results import Status
from tests.preflight.stacks import POSTGRES_INCIDENT, postgres_stack
from tests.preflight.test_verdict import EMPTY, observe, podman_labels, stack_in

NO_MEMORY = RememberedVolumes({}, ())
ANON = "3f" * 32
OTHER = "4e" * 32
KEY = "postgres_data"


def mounted(
    tmp_path: Path,
    name: str,
    files: dict[str, str],
    labels: dict[str, str] | None = None,
    day: int = 27,
) -> EngineVolume:
    """A volume whose mountpoint is a real directory holding `files`."""
    mountpoint = tmp_path / "volumes" / name / "_data"
    mountpoint.mkdir(parents=True)
    for relative, text in files.items():
        (mountpoint / relative).parent.mkdir(parents=True, exist_ok=True)
        (mountpoint / relative).write_text(text)
    created = datetime(2026, 11, day, tzinfo=UTC)
    return EngineVolume(name, created, str(mountpoint), labels or {}, "local")


def container(name: str, project: str, volume: str, at: str) -> EngineContainer:
    labels = {"com.docker.compose.project": project, "io.podman.compose.project": project}
    return EngineContainer(name, False, labels, (ContainerMount(volume, at, True),))


def test_clusters_are_found_at_the_top_or_in_major_docker(tmp_path: Path) -> None:
    new_layout = mounted(tmp_path, ANON, {"18/docker/PG_VERSION": "18\n", "18/docker/base/1": "x"})
    old_layout = mounted(tmp_path, OTHER, {"PG_VERSION": "16\n"}, day=20)
    labelled = mounted(tmp_path, "a1" * 32, {"PG_VERSION": "16\n"}, podman_labels("p"))
    named = mounted(tmp_path, "pgdata", {"PG_VERSION": "16\n"})
    empty = mounted(tmp_path, "b2" * 32, {})
    not_a_version = mounted(tmp_path, "c3" * 32, {"PG_VERSION": "<html>"})
    volumes = [empty, labelled, named, old_layout, new_layout, not_a_version]
    assert [is_anonymous(v) for v in volumes] == [True, False, False, True, True, True]
    users = (container("p_postgres_1", "p", ANON, "/var/lib/postgresql"),)
    found = find_clusters(volumes, users)
    assert [(c.volume.name, c.directory, c.version) for c in found] == [
        (ANON, "18/docker", "18"),  # newest first
        (OTHER, "", "16"),
    ]
    assert (found[0].mounted_by, found[0].mounted_at, found[0].projects) == (
        ("p_postgres_1",),
        "/var/lib/postgresql",
        ("p",),
    )
    assert found[0].shown == "PostgreSQL 18 cluster in 18/docker"
    assert found[1].shown == "PostgreSQL 16 cluster at its top"


def test_a_huge_pg_version_is_read_only_in_part(tmp_path: Path) -> None:
    huge = mounted(tmp_path, ANON, {"PG_VERSION": "1" * 10_000_000})
    assert find_clusters([huge], []) == []


TRAP_18 = postgres_stack("postgres:18", "/var/lib/postgresql/data")


def test_the_trapped_cluster_is_named_with_the_steps_back(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, "p", TRAP_18)
    named = mounted(tmp_path, f"p_{KEY}", {}, podman_labels("p"), day=26)
    anon = mounted(tmp_path, ANON, {"18/docker/PG_VERSION": "18\n"})
    users = (container("p_postgres_1", "p", ANON, "/var/lib/postgresql"),)
    observed = observe((named, EMPTY), (anon, Size(40_000_000, 900, True)), containers=users)
    (report,) = compare(stack, observed, NO_MEMORY)
    assert report.status is Status.FAIL
    assert report.summary == (
        f"p_{KEY} is empty, but anonymous volume {ANON} holds a PostgreSQL 18 cluster in"
        " 18/docker (mounted by p_postgres_1 at /var/lib/postgresql): postgres's data directory"
        f" misses {KEY}"
    )
    cwd = stack.project.directory
    assert report.steps == (
        f"cd {cwd} && podman-compose down   (stops the stack; every volume is kept, the"
        " anonymous one too: no -v)",
        f"podman run --rm --user 0 --entrypoint cp -v {ANON}:/from:ro -v p_{KEY}:/to postgres:18"
        " -a /from/. /to/   (a throwaway container copies the cluster, owners and modes kept;"
        f" on the host, as root: cp -a {anon.mountpoint}/. <p_{KEY}'s mountpoint>/)",
        f'mount it at /var/lib/postgresql: "- {KEY}:/var/lib/postgresql" in the compose file',
        "sidecar preflight   (must pass: no data-dir line)",
        "podman-compose up -d",
        "sidecar check in the sidecar's container (or GET /health): rows and identity pass",
        f"keep {ANON} until the data is verified; only then: podman volume rm {ANON}",
    )
    text = render.volumes_text(stack, observed, [report], NO_MEMORY)
    row = next(line for line in text if line.lstrip().startswith(ANON))
    assert row.endswith(
        "anonymous; PostgreSQL 18 cluster in 18/docker; mounted at /var/lib/postgresql by"
        " p_postgres_1; <- likely your cluster"
    )
    (key,) = render.volumes_json(stack, observed, [report], NO_MEMORY)["keys"]
    (cluster,) = key["anonymousClusters"]
    assert (cluster["name"], cluster["directory"], cluster["version"]) == (ANON, "18/docker", "18")


def test_a_stack_on_its_cluster_lists_no_anonymous_volume(tmp_path: Path) -> None:
    fixed = postgres_stack("postgres:18", "/var/lib/postgresql")
    stack = stack_in(tmp_path, "p", fixed)
    named = mounted(tmp_path, f"p_{KEY}", {"18/docker/PG_VERSION": "18\n"}, podman_labels("p"))
    stray = mounted(tmp_path, ANON, {"PG_VERSION": "16\n"})  # some other, older container's
    observed = observe((named, Size(50_000_000, 900, True)), (stray, Size(1, 1, True)))
    (report,) = compare(stack, observed, NO_MEMORY)
    assert (report.status, report.clusters) == (Status.PASS, ())


def test_an_empty_volume_with_an_unrelated_cluster_around_only_warns(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, "p", POSTGRES_INCIDENT)
    named = mounted(tmp_path, f"p_{KEY}", {}, podman_labels("p"))
    stray = mounted(tmp_path, OTHER, {"PG_VERSION": "16\n"})
    (report,) = compare(stack, observe((named, EMPTY), (stray, EMPTY)), NO_MEMORY)
    assert report.status is Status.WARN
    assert report.summary == (
        f"p_{KEY} is empty, but anonymous volume {OTHER} holds a PostgreSQL 16 cluster at its"
        " top (no container mounts it now)"
    )


def test_with_the_pgdata_fix_only_the_cluster_directory_is_copied(tmp_path: Path) -> None:
    """postgres:latest at .../data: only the PGDATA line fixes both layouts, so the named
    volume becomes the cluster directory itself."""
    stack = stack_in(tmp_path, "p", postgres_stack("postgres:latest", "/var/lib/postgresql/data"))
    named = mounted(tmp_path, f"p_{KEY}", {}, podman_labels("p"))
    anon = mounted(tmp_path, ANON, {"18/docker/PG_VERSION": "18\n"})
    users = (container("p_postgres_1", "p", ANON, "/var/lib/postgresql"),)
    (report,) = compare(stack, observe((named, EMPTY), (anon, EMPTY), containers=users), NO_MEMORY)
    assert report.status is Status.FAIL
    assert "-a /from/18/docker/. /to/" in report.steps[1]
    assert report.steps[2] == (
        'add "PGDATA: /var/lib/postgresql/data" to postgres\'s environment in the compose file'
    )
