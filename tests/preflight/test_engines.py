"""The engine adapters: JSON shapes of podman 4 and Docker Engine 20.10, failures, choice.

The Docker shapes are written down from Docker's own reference (`docker volume inspect`:
`CreatedAt` in RFC 3339 with the daemon's offset, `Labels` null for a volume created
without labels, `Options` null) and `docker container inspect` (`Name` with a leading `/`,
`Mounts[].Type/Name/Destination/RW`); the podman ones are what podman 4.3 prints here.
The commands are faked only at the process seam (the runner); parsing is the real code.
"""

import subprocess
from datetime import UTC, datetime, timedelta, timezone

import pytest

from sidecar.preflight.engines import (
    DockerEngine,
    EngineVolume,
    PodmanEngine,
    parse_containers,
    parse_volumes,
    pick_engine,
)
from sidecar.preflight.errors import PreflightError

DOCKER_VOLUME_INSPECT = """[
    {
        "CreatedAt": "2025-11-24T10:03:11+01:00",
        "Driver": "local",
        "Labels": {
            "com.docker.compose.project": "meaningful-conversations-production",
            "com.docker.compose.version": "2.40.3",
            "com.docker.compose.volume": "mariadb_production_data"
        },
        "Mountpoint": "/var/lib/docker/volumes/meaningful-conversations-production_mariadb_production_data/_data",
        "Name": "meaningful-conversations-production_mariadb_production_data",
        "Options": null,
        "Scope": "local"
    },
    {
        "CreatedAt": "2025-11-27T07:24:02Z",
        "Driver": "local",
        "Labels": null,
        "Mountpoint": "/var/lib/docker/volumes/3f2a9c/_data",
        "Name": "3f2a9c",
        "Options": null,
        "Scope": "local"
    }
]"""  # noqa: E501 - a real line of engine output

PODMAN_VOLUME_LS = """[
  {
    "Name": "manualmode-production_mariadb_production_data",
    "Driver": "local",
    "Mountpoint": "/var/lib/containers/storage/volumes/manualmode-production_mariadb_production_data/_data",
    "CreatedAt": "2025-11-27T07:24:02.175945334Z",
    "Labels": {
      "com.docker.compose.project": "manualmode-production",
      "io.podman.compose.project": "manualmode-production"
    },
    "Scope": "local",
    "Options": {},
    "MountCount": 0,
    "NeedsCopyUp": true,
    "NeedsChown": true
  }
]"""  # noqa: E501 - a real line of engine output

DOCKER_CONTAINER_INSPECT = """[
  {
    "Id": "5c1d2e",
    "Name": "/manualmode-production-mariadb-1",
    "State": {"Status": "running", "Running": true, "Paused": false},
    "Config": {"Labels": {"com.docker.compose.project": "manualmode-production",
                          "com.docker.compose.service": "mariadb"}},
    "Mounts": [
      {"Type": "volume", "Name": "manualmode-production_mariadb_production_data",
       "Source": "/var/lib/docker/volumes/manualmode-production_mariadb_production_data/_data",
       "Destination": "/var/lib/mysql", "Driver": "local", "Mode": "z", "RW": true,
       "Propagation": ""},
      {"Type": "bind", "Source": "/srv/app/initdb", "Destination": "/docker-entrypoint-initdb.d",
       "Mode": "ro", "RW": false, "Propagation": "rprivate"}
    ]
  },
  {
    "Id": "9a8b7c",
    "Name": "/old-sidecar-1",
    "State": {"Status": "exited", "Running": false},
    "Config": {"Labels": null},
    "Mounts": null
  }
]"""

PODMAN_CONTAINER_INSPECT = """[
  {
    "Id": "ab12",
    "Name": "manualmode-production_sidecar_1",
    "State": {"Status": "running", "Running": true},
    "Config": {"Labels": {"io.podman.compose.project": "manualmode-production"}},
    "Mounts": [
      {"Type": "volume", "Name": "manualmode-production_mariadb_production_data",
       "Source": "/var/lib/containers/storage/volumes/x/_data", "Destination": "/var/lib/mysql",
       "Driver": "local", "Mode": "", "Options": ["nosuid", "nodev", "rbind"], "RW": false,
       "Propagation": "rprivate"}
    ]
  }
]"""


def test_docker_volume_inspect() -> None:
    data, anonymous = parse_volumes(DOCKER_VOLUME_INSPECT, "docker")
    assert data.name == "meaningful-conversations-production_mariadb_production_data"
    assert data.created == datetime(2025, 11, 24, 10, 3, 11, tzinfo=timezone(timedelta(hours=1)))
    assert data.labels["com.docker.compose.volume"] == "mariadb_production_data"
    assert data.mountpoint.endswith("/_data")
    assert anonymous.labels == {}  # null
    assert anonymous.created == datetime(2025, 11, 27, 7, 24, 2, tzinfo=UTC)


def test_podman_volume_ls() -> None:
    (volume,) = parse_volumes(PODMAN_VOLUME_LS, "podman")
    assert volume.created == datetime(2025, 11, 27, 7, 24, 2, 175945, tzinfo=UTC)
    assert volume.labels["io.podman.compose.project"] == "manualmode-production"
    assert volume.driver == "local"


def test_container_inspect_on_both_engines() -> None:
    db, old = parse_containers(DOCKER_CONTAINER_INSPECT, "docker")
    assert (db.name, db.running) == ("manualmode-production-mariadb-1", True)
    assert [(m.volume, m.destination, m.read_write) for m in db.mounts] == [
        ("manualmode-production_mariadb_production_data", "/var/lib/mysql", True)
    ]
    assert (old.name, old.running, old.labels, old.mounts) == ("old-sidecar-1", False, {}, ())
    (sidecar,) = parse_containers(PODMAN_CONTAINER_INSPECT, "podman")
    assert sidecar.mounts[0].read_write is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "docker volume list is not JSON"),
        ('{"Name": "x"}', "not a JSON array"),
        ('[{"Driver": "local"}]', "without a name"),
    ],
)
def test_malformed_output_is_one_line(text: str, message: str) -> None:
    with pytest.raises(PreflightError, match=message):
        parse_volumes(text, "docker")


def test_missing_timestamps_and_odd_values_do_not_break_parsing() -> None:
    (volume,) = parse_volumes('[{"Name": "v", "CreatedAt": "yesterday", "Labels": []}]', "x")
    assert volume == EngineVolume("v", None, "", {}, "")


class FakeProcesses:
    """The process seam: answers per command, and records what was asked."""

    def __init__(self, answers: dict[str, subprocess.CompletedProcess[str] | Exception]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        self.calls.append(argv)
        answer = self.answers[" ".join(argv[1:3])]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _done(
    stdout: str = "", returncode: int = 0, stderr: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], returncode, stdout, stderr)


def test_docker_lists_names_then_inspects_them() -> None:
    runner = FakeProcesses(
        {"volume ls": _done("a\nb\n"), "volume inspect": _done(DOCKER_VOLUME_INSPECT)}
    )
    volumes = DockerEngine("/usr/bin/docker", runner=runner).volumes()
    assert len(volumes) == 2
    assert runner.calls[1] == ["/usr/bin/docker", "volume", "inspect", "a", "b"]


def test_an_engine_with_no_volumes_or_containers() -> None:
    runner = FakeProcesses({"volume ls": _done("\n"), "ps -a": _done("")})
    engine = DockerEngine("docker", runner=runner)
    assert engine.volumes() == []
    assert engine.containers() == []


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            _done(
                returncode=1,
                stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock."
                " Is the docker daemon running?\n",
            ),
            "`docker volume ls` failed: Cannot connect to the Docker daemon",
        ),
        (subprocess.TimeoutExpired(["docker"], 30), "`docker volume ls` did not answer within 30"),
        (FileNotFoundError(), "docker not found"),
    ],
)
def test_engine_failures_are_one_line(answer: object, message: str) -> None:
    runner = FakeProcesses({"volume ls": answer})  # type: ignore[dict-item]
    with pytest.raises(PreflightError, match=message):
        DockerEngine("docker", runner=runner).volumes()


def test_podman_is_preferred_when_both_are_present() -> None:
    both = {"podman": "/usr/bin/podman", "docker": "/usr/bin/docker"}
    assert isinstance(pick_engine(None, both.get), PodmanEngine)
    assert isinstance(pick_engine("docker", both.get), DockerEngine)
    assert isinstance(pick_engine(None, {"docker": "/usr/bin/docker"}.get), DockerEngine)


def test_a_missing_engine_is_named() -> None:
    with pytest.raises(PreflightError, match="no container engine found"):
        nothing: dict[str, str] = {}
        pick_engine(None, nothing.get)
    with pytest.raises(PreflightError, match="docker not found on PATH"):
        pick_engine("docker", {"podman": "/usr/bin/podman"}.get)
