"""The container engine's view: which volumes exist, and which containers mount them.

podman and Docker are thin siblings over one command-line adapter, differing only in how the
volume list is fetched: `podman volume ls --format json` carries everything, Docker's list
has no creation time, so its names go to `docker volume inspect` (Docker Engine 20.10 JSON:
`CreatedAt`, `Driver`, `Labels` (null when none), `Mountpoint`, `Name`, `Options`, `Scope`).
Containers come from `ps -a -q` and `container inspect` on both. Every call is bounded in
time; a failure is one line naming the command and the engine's own first line of error.
"""

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sidecar.preflight.errors import PreflightError

ENGINES = ("podman", "docker")
DEFAULT_TIMEOUT = 30.0

# Labels compose tools put on the volumes they create.
PROJECT_LABEL = "com.docker.compose.project"  # compose v2, v1, podman-compose
VOLUME_LABEL = "com.docker.compose.volume"  # compose v2 and v1 (the key); not podman-compose
PODMAN_PROJECT_LABEL = "io.podman.compose.project"  # podman-compose
# On containers, by all three tools: the project directory the stack was started from.
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"


@dataclass(frozen=True)
class EngineVolume:
    """A volume as the engine reports it."""

    name: str
    created: datetime | None
    mountpoint: str
    labels: dict[str, str]
    driver: str


@dataclass(frozen=True)
class ContainerMount:
    """A named volume mounted into a container."""

    volume: str
    destination: str
    read_write: bool


@dataclass(frozen=True)
class EngineContainer:
    """A container and the named volumes it mounts."""

    name: str
    running: bool
    labels: dict[str, str]
    mounts: tuple[ContainerMount, ...]


Runner = Callable[[list[str], float], subprocess.CompletedProcess[str]]


def _run_process(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


class Engine:
    """A container engine driven through its command line."""

    name = "engine"

    def __init__(
        self, binary: str, timeout: float = DEFAULT_TIMEOUT, runner: Runner = _run_process
    ) -> None:
        self.binary = binary
        self.timeout = timeout
        self._runner = runner

    def run(self, *args: str) -> str:
        """The command's standard output; PreflightError when it fails or hangs."""
        argv = [self.binary, *args]
        shown = " ".join([self.name, *args[:2]])
        try:
            done = self._runner(argv, self.timeout)
        except FileNotFoundError:
            raise PreflightError(f"{self.name} not found ({self.binary})") from None
        except subprocess.TimeoutExpired:
            raise PreflightError(f"`{shown}` did not answer within {self.timeout:g} s") from None
        if done.returncode != 0:
            lines = (done.stderr or done.stdout or "").strip().splitlines()
            raise PreflightError(f"`{shown}` failed: {lines[0] if lines else done.returncode}")
        return done.stdout

    def volume_json(self) -> str:
        """Every volume, as the engine's JSON array."""
        raise NotImplementedError

    def volumes(self) -> list[EngineVolume]:
        """Every volume the engine knows."""
        return parse_volumes(self.volume_json(), self.name)

    def containers(self) -> list[EngineContainer]:
        """Every container (running or not) with its named-volume mounts."""
        ids = self.run("ps", "-a", "-q").split()
        if not ids:
            return []
        return parse_containers(self.run("container", "inspect", *ids), self.name)


class PodmanEngine(Engine):
    """podman: its volume list already carries creation times, mountpoints and labels."""

    name = "podman"

    def volume_json(self) -> str:
        """Every volume, as the engine's JSON array."""
        return self.run("volume", "ls", "--format", "json")


class DockerEngine(Engine):
    """Docker Engine: names from `volume ls`, the details from `volume inspect`."""

    name = "docker"

    def volume_json(self) -> str:
        """Every volume, as the engine's JSON array."""
        names = self.run("volume", "ls", "-q").split()
        return self.run("volume", "inspect", *names) if names else "[]"


_ADAPTERS: dict[str, type[Engine]] = {"podman": PodmanEngine, "docker": DockerEngine}


def pick_engine(
    choice: str | None, which: Callable[[str], str | None] = shutil.which, **kwargs: Any
) -> Engine:
    """The engine asked for, else podman, else docker, whichever is on PATH first.

    podman first: it answers without a daemon, and where both exist `docker` is often
    podman's own `podman-docker` shim. On a Docker host with podman also installed, pass
    `--engine docker`; every output line names the engine it read.
    """
    for name in (choice,) if choice else ENGINES:
        binary = which(name)
        if binary:
            return _ADAPTERS[name](binary, **kwargs)
    if choice:
        raise PreflightError(f"{choice} not found on PATH")
    raise PreflightError("no container engine found: neither podman nor docker is on PATH")


def parse_volumes(text: str, engine: str) -> list[EngineVolume]:
    """Volumes from `volume ls --format json` (podman) or `volume inspect` (both engines)."""
    volumes = []
    for item in _json_list(text, engine, "volume"):
        name = item.get("Name")
        if not isinstance(name, str) or not name:
            raise PreflightError(f"{engine} listed a volume without a name")
        volumes.append(
            EngineVolume(
                name=name,
                created=parse_time(item.get("CreatedAt")),
                mountpoint=str(item.get("Mountpoint") or ""),
                labels=_labels(item.get("Labels")),
                driver=str(item.get("Driver") or ""),
            )
        )
    return volumes


def parse_containers(text: str, engine: str) -> list[EngineContainer]:
    """Containers from `container inspect` JSON (same shape on podman and Docker)."""
    containers = []
    for item in _json_list(text, engine, "container"):
        state, config = _mapping(item.get("State")), _mapping(item.get("Config"))
        mounts = tuple(
            ContainerMount(str(m["Name"]), str(m.get("Destination") or ""), bool(m.get("RW")))
            for m in item.get("Mounts") or []
            if isinstance(m, dict) and m.get("Type") == "volume" and m.get("Name")
        )
        name = str(item.get("Name") or item.get("Id") or "").lstrip("/")
        containers.append(
            EngineContainer(name, bool(state.get("Running")), _labels(config.get("Labels")), mounts)
        )
    return containers


def parse_time(value: Any) -> datetime | None:
    """An engine timestamp (RFC 3339, `Z` or offset, up to nanoseconds), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _labels(value: Any) -> dict[str, str]:
    # Docker reports `"Labels": null` for a volume created without labels.
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _json_list(text: str, engine: str, what: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise PreflightError(f"{engine} {what} list is not JSON ({exc.msg})") from None
    if not isinstance(data, list):
        raise PreflightError(f"{engine} {what} list is not a JSON array")
    return [item for item in data if isinstance(item, dict)]
