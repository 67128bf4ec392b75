"""The container engine's view: which volumes exist, and which containers mount them.

podman and Docker are thin siblings over one command-line adapter, differing only in how the
volume list is fetched: `podman volume ls --format json` carries everything, Docker's list
has no creation time, so its names go to `docker volume inspect` (Docker Engine 20.10 JSON:
`CreatedAt`, `Driver`, `Labels` (null when none), `Mountpoint`, `Name`, `Options`, `Scope`).
Containers come from `ps -a -q` and `container inspect` on both. Every call is bounded in
time and in output; a failure is one line naming the command and the engine's own first
line of error.

The engine's output is read as hostile: at most `MAX_OUTPUT_BYTES` of it (the process is
killed past that, or past its timeout), strict UTF-8 (Go's JSON encoder never prints
anything else), JSON whose nesting Python can take and whose numbers fit, and every field
used checked for its type. What fails any of these is one line and exit 3, never a crash.
"""

import json
import os
import selectors
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sidecar.preflight.errors import PreflightError, excerpt

ENGINES = ("podman", "docker")
DEFAULT_TIMEOUT = 30.0
# `container inspect` is ~10-30 KB a container and `volume inspect` ~0.5 KB a volume: this
# holds thousands of either, and bounds the memory a broken or hostile engine can take.
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024  # of stderr; only its first line is shown
_CHUNK = 64 * 1024

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


class EngineOutputError(Exception):
    """The engine's output cannot be used (too large, not UTF-8): the reason, for one line."""


def _run_process(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `argv` with its output capped and a deadline; the process never outlives it."""
    with subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        try:
            out, err = _collect(process, argv, time.monotonic() + timeout, timeout)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
    try:
        stdout = out.decode("utf-8")
    except UnicodeDecodeError:
        raise EngineOutputError("printed bytes that are not UTF-8") from None
    stderr = err.decode("utf-8", errors="replace")
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def _collect(
    process: subprocess.Popen[bytes], argv: list[str], deadline: float, timeout: float
) -> tuple[bytes, bytes]:
    """Both pipes read together until they close: stdout up to the cap, stderr's head."""
    assert process.stdout is not None and process.stderr is not None
    out, err = bytearray(), bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, out)
        selector.register(process.stderr, selectors.EVENT_READ, err)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(argv, timeout)
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.data is out:
                    out += chunk
                    if len(out) > MAX_OUTPUT_BYTES:
                        mib = MAX_OUTPUT_BYTES // (1024 * 1024)
                        raise EngineOutputError(f"printed more than {mib} MiB: not read")
                elif len(err) < MAX_ERROR_BYTES:
                    err += chunk
    try:
        process.wait(max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        raise subprocess.TimeoutExpired(argv, timeout) from None
    return bytes(out), bytes(err)


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
        except EngineOutputError as exc:
            raise PreflightError(f"`{shown}` {exc}") from None
        if done.returncode != 0:
            lines = (done.stderr or done.stdout or "").strip().splitlines()
            first = excerpt(lines[0], 200)[1:-1] if lines else str(done.returncode)
            raise PreflightError(f"`{shown}` failed: {first}")
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
        field = _Fields(item, f"{engine} volume")
        name = field.get("Name", str)
        if not name:
            raise PreflightError(f"{engine} listed a volume without a name")
        volumes.append(
            EngineVolume(
                name=name,
                created=parse_time(item.get("CreatedAt")),
                mountpoint=_mountpoint(field, name),
                labels=_labels(field),
                driver=field.get("Driver", str) or "",
            )
        )
    return volumes


def parse_containers(text: str, engine: str) -> list[EngineContainer]:
    """Containers from `container inspect` JSON (same shape on podman and Docker)."""
    containers = []
    for item in _json_list(text, engine, "container"):
        field = _Fields(item, f"{engine} container")
        state = _Fields(field.get("State", dict) or {}, f"{engine} container State")
        config = _Fields(field.get("Config", dict) or {}, f"{engine} container Config")
        mounts = []
        for entry in field.get("Mounts", list) or []:
            if not isinstance(entry, dict):
                raise PreflightError(f"{engine} container Mounts holds a {_kind(entry)}")
            mount = _Fields(entry, f"{engine} container mount")
            volume = mount.get("Name", str)
            if mount.get("Type", str) == "volume" and volume:
                destination = mount.get("Destination", str) or ""
                mounts.append(ContainerMount(volume, destination, bool(mount.get("RW", bool))))
        name = (field.get("Name", str) or field.get("Id", str) or "").lstrip("/")
        running = bool(state.get("Running", bool))
        containers.append(EngineContainer(name, running, _labels(config), tuple(mounts)))
    return containers


def _mountpoint(field: "_Fields", volume: str) -> str:
    """Where the volume's data is: absolute, or empty (a remote driver); it is walked next."""
    path = field.get("Mountpoint", str) or ""
    if "\0" in path or (path and not path.startswith("/")):
        raise PreflightError(
            f"{field.what} {excerpt(volume)} has mountpoint {excerpt(path)}:"
            " not an absolute path the engine would print"
        )
    return path


class _Fields:
    """An engine's JSON object whose fields are read with the type they must have."""

    def __init__(self, item: dict[str, Any], what: str) -> None:
        self.item = item
        self.what = what

    def get(self, key: str, kind: type[Any]) -> Any:
        """The field, None when absent or null; PreflightError when of another type."""
        value = self.item.get(key)
        if value is None or isinstance(value, kind):
            return value
        raise PreflightError(
            f"{self.what} {key} is a {_kind(value)}, not a {_kind(kind())}: not the engine's JSON"
        )


def _kind(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def parse_time(value: Any) -> datetime | None:
    """An engine timestamp (RFC 3339, `Z` or offset, up to nanoseconds), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _labels(fields: _Fields) -> dict[str, str]:
    # Docker reports `"Labels": null` for a volume created without labels; `[]` is as empty.
    value = fields.item.get("Labels")
    if value is None or value == []:
        return {}
    labels = fields.get("Labels", dict)
    return {str(k): str(v) for k, v in labels.items()}


def _json_list(text: str, engine: str, what: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text or "[]")
    except RecursionError:
        raise PreflightError(
            f"{engine} {what} list is nested too deep to be the engine's"
        ) from None
    except json.JSONDecodeError as exc:
        raise PreflightError(f"{engine} {what} list is not JSON ({exc.msg})") from None
    except ValueError as exc:  # an integer past Python's 4300 digits
        reason = str(exc).split(";")[0]
        raise PreflightError(f"{engine} {what} list is not the engine's JSON ({reason})") from None
    if not isinstance(data, list):
        raise PreflightError(f"{engine} {what} list is not a JSON array")
    for item in data:
        if not isinstance(item, dict):
            raise PreflightError(f"{engine} {what} list holds a {_kind(item)}, not an object")
    return data
