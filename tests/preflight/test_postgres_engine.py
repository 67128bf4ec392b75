"""PostgreSQL stacks against real podman: the rename refused, and the postgres:18 trap caught
before `up`, after it, and undone.

The images are local and empty, made by `podman import` with the official images' own
`VOLUME` and `PGDATA` (postgres 17: `VOLUME /var/lib/postgresql/data`; 18:
`VOLUME /var/lib/postgresql`, `PGDATA=/var/lib/postgresql/18/docker`): no registry, and no
container has to run, because the engine makes the anonymous volume for an image VOLUME when
the container is created. What a cluster would leave (`PG_VERSION`) is written into the
mountpoints. Every name carries the id of an end-to-end run this module holds
(tests/support/e2e_runs.py), so a killed run's containers and volumes are swept; the one thing
a kill between `down` and the `finally` can leave is the engine-named anonymous volume of
the trap test, which no name ties to the run.
"""

import json
import re
import secrets
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.preflight.compose_file import Mount
from sidecar.preflight.datadir import lands_on_anonymous
from sidecar.preflight.images import layouts
from tests.preflight.stacks import POSTGRES_INCIDENT
from tests.preflight.test_real_engine import EngineVolumes
from tests.support import e2e_runs

KEY = "postgres_data"
ANONYMOUS = re.compile(r"[0-9a-f]{64}")
# What the official images declare (docker-library/postgres Dockerfiles, 17 and 18).
LAYOUTS = {
    17: ("/var/lib/postgresql/data", "/var/lib/postgresql/data"),
    18: ("/var/lib/postgresql", "/var/lib/postgresql/18/docker"),
}


@pytest.fixture
def podman() -> Iterator[EngineVolumes]:
    if subprocess.run(["podman", "--version"], capture_output=True, check=False).returncode:
        pytest.skip("podman is not installed")
    volumes = EngineVolumes("podman")
    try:
        yield volumes
    finally:
        volumes.close()


@pytest.fixture(scope="module")
def images(
    owner: e2e_runs.Run, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[int, str]]:
    """`localhost/<run>/postgres:17` and `:18`: empty, with the official VOLUME and PGDATA."""
    empty = tmp_path_factory.mktemp("image") / "empty.tar"
    with tarfile.open(empty, "w"):
        pass
    made = {}
    try:
        for major, (volume, pgdata) in LAYOUTS.items():
            name = f"localhost/{owner.name('pg', secrets.token_hex(2))}/postgres:{major}"
            subprocess.run(
                ["podman", "import", "--change", f"VOLUME {volume}", "--change",
                 f"ENV PGDATA={pgdata}", str(empty), name],
                capture_output=True, check=True, timeout=120,
            )  # fmt: skip
            made[major] = name
        yield made
    finally:
        for name in made.values():
            subprocess.run(["podman", "rmi", "--force", name], capture_output=True, check=False)


def _mountpoint(podman: EngineVolumes, volume: str) -> Path:
    return Path(podman.run("volume", "inspect", "--format", "{{.Mountpoint}}", volume).strip())


def _inspect(podman: EngineVolumes, container: str) -> list[dict[str, str]]:
    (found,) = json.loads(podman.run("container", "inspect", container))
    return [m for m in found["Mounts"] if m["Type"] == "volume"]


@pytest.mark.parametrize("major", [17, 18])
@pytest.mark.parametrize("target", ["/var/lib/postgresql", "/var/lib/postgresql/data"])
def test_podman_makes_the_anonymous_volume_where_the_rules_say(
    podman: EngineVolumes,
    images: dict[int, str],
    owner: e2e_runs.Run,
    major: int,
    target: str,
) -> None:
    """The brief asked whether postgres <= 17 with the volume at /var/lib/postgresql is fine:
    podman gives the image's VOLUME /var/lib/postgresql/data an anonymous volume of its own,
    where PGDATA is, exactly as datadir.py predicts."""
    volume = owner.name("layout", secrets.token_hex(3))
    container = owner.name("layout", secrets.token_hex(3))
    podman.created.append(volume)
    podman.run("create", "--name", container, "-v", f"{volume}:{target}", images[major], "true")
    try:
        mounts = _inspect(podman, container)
    finally:
        podman.run("rm", "-v", container)  # -v: its anonymous volume goes with it
    anonymous = [m["Destination"] for m in mounts if ANONYMOUS.fullmatch(m["Name"])]
    (layout,) = layouts(f"postgres:{major}", {}, ())
    predicted = lands_on_anonymous((Mount("db", "volume", volume, target, False),), layout)
    assert anonymous == ([predicted] if predicted else [])
    trapped = {(17, "/var/lib/postgresql"), (18, "/var/lib/postgresql/data")}
    assert bool(predicted) is ((major, target) in trapped)


def test_the_renamed_postgres_stack_is_refused(
    tmp_path: Path,
    podman: EngineVolumes,
    owner: e2e_runs.Run,
) -> None:
    suffix = secrets.token_hex(3)
    old_project, new_project = owner.name("pgshop", suffix), owner.name("pgshop-renamed", suffix)
    old_volume = f"{old_project}_{KEY}"
    podman.create(old_volume, old_project)
    mountpoint = _mountpoint(podman, old_volume)
    (mountpoint / "PG_VERSION").write_text("16\n")
    (mountpoint / "base").mkdir()
    (mountpoint / "base" / "16384").write_bytes(b"\0" * 3_000_000)
    directory = tmp_path / new_project
    directory.mkdir()
    (directory / "compose.yaml").write_text(POSTGRES_INCIDENT)

    refused = podman.cli("preflight", cwd=directory)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    fail = next(line for line in refused.stdout.splitlines() if line.startswith("fail: "))
    assert fail.startswith(
        f"fail: this start would create a NEW, EMPTY volume {new_project}_{KEY} and PostgreSQL"
        f" would initialise a fresh cluster on it; {old_volume} (created "
    )
    assert f"3.0 MB, project {old_project}) holds your data:" in fail
    assert fail.endswith(f'add "name: {old_project}" to the compose file')

    (directory / "compose.yaml").write_text(f"name: {old_project}\n" + POSTGRES_INCIDENT)
    fixed = podman.cli("preflight", cwd=directory)
    assert "fail: " not in fixed.stdout, fixed.stdout
    assert f"pass: database volume {old_volume} exists (created " in fixed.stdout


TRAP = """\
services:
  postgres:
    image: {image}
    command: ["true"]
    network_mode: none
    volumes:
      - {key}:{target}
volumes:
  {key}:
"""


def _compose(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "podman-compose"
    return subprocess.run(
        [str(binary), *args], cwd=directory, capture_output=True, text=True, timeout=180,
        check=False,
    )  # fmt: skip


def _line(output: str, start: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(start))


def test_the_postgres_18_trap_before_up_after_up_and_undone(
    tmp_path: Path,
    podman: EngineVolumes,
    images: dict[int, str],
    owner: e2e_runs.Run,
) -> None:
    if not (Path(sys.executable).parent / "podman-compose").exists():
        pytest.skip("podman-compose is not installed in this environment")
    project = owner.name("pg18", secrets.token_hex(3))
    named = f"{project}_{KEY}"
    directory = tmp_path / project
    directory.mkdir()
    compose = directory / "compose.yaml"
    compose.write_text(TRAP.format(image=images[18], key=KEY, target="/var/lib/postgresql/data"))
    podman.created.append(named)

    # Before: nothing exists yet.
    before = podman.cli("preflight", cwd=directory)
    assert before.returncode == 2, before.stdout + before.stderr
    fail = _line(before.stdout, "fail: postgres (")
    assert f"not on {KEY} mounted at /var/lib/postgresql/data; {named} would be created" in fail
    assert fail.endswith(
        f'mount it at /var/lib/postgresql: "- {KEY}:/var/lib/postgresql" or add'
        ' "PGDATA: /var/lib/postgresql/data" to postgres\'s environment'
    )

    # The start goes ahead; the cluster lands on the anonymous volume the engine made.
    try:
        created = _compose(directory, "up", "--no-start")
        assert created.returncode == 0, created.stdout + created.stderr
        (container,) = podman.run(
            "ps", "-a", "-q", "--filter", f"label=io.podman.compose.project={project}"
        ).split()
        mounts = {m["Destination"]: m["Name"] for m in _inspect(podman, container)}
        assert mounts["/var/lib/postgresql/data"] == named
        anonymous = mounts["/var/lib/postgresql"]
        assert ANONYMOUS.fullmatch(anonymous)
        podman.created.append(anonymous)
        anonymous_at = _mountpoint(podman, anonymous)
        (anonymous_at / "18" / "docker").mkdir(parents=True)
        (anonymous_at / "18" / "docker" / "PG_VERSION").write_text("18\n")
        (anonymous_at / "18" / "docker" / "base").write_bytes(b"\1" * 2_000_000)

        after = podman.cli("preflight", cwd=directory)
        assert after.returncode == 2, after.stdout
        assert f"{named} is empty: the cluster is on an anonymous volume already" in after.stdout

        found = podman.cli("volumes", cwd=directory)
        assert found.returncode == 2, found.stdout + found.stderr
        verdict = _line(found.stdout, "fail: ")
        assert verdict == (
            f"fail: {named} is empty, but anonymous volume {anonymous} holds a PostgreSQL 18"
            f" cluster in 18/docker (mounted by {project}_postgres_1 at /var/lib/postgresql):"
            f" postgres's data directory misses {KEY}"
        )
        assert (
            f'  3. mount it at /var/lib/postgresql: "- {KEY}:/var/lib/postgresql"' in found.stdout
        )

        # The way back as printed: down (the anonymous volume stays), copy, the line, up.
        assert _compose(directory, "down").returncode == 0
        assert anonymous in podman.run("volume", "ls", "--format", "{{.Name}}").split()
        named_at = _mountpoint(podman, named)
        subprocess.run(["cp", "-a", f"{anonymous_at}/.", f"{named_at}/"], check=True)
        compose.write_text(TRAP.format(image=images[18], key=KEY, target="/var/lib/postgresql"))
        fixed = podman.cli("preflight", cwd=directory)
        assert "fail: " not in fixed.stdout and "data-dir" not in fixed.stdout, fixed.stdout
        back = _compose(directory, "up", "--no-start")
        assert back.returncode == 0, back.stdout + back.stderr
        (container,) = podman.run(
            "ps", "-a", "-q", "--filter", f"label=io.podman.compose.project={project}"
        ).split()
        assert {m["Destination"]: m["Name"] for m in _inspect(podman, container)} == {
            "/var/lib/postgresql": named
        }
        assert (named_at / "18" / "docker" / "PG_VERSION").read_text() == "18\n"
        again = podman.cli("volumes", cwd=directory)
        assert again.returncode == 0, again.stdout
    finally:
        _compose(directory, "down")
