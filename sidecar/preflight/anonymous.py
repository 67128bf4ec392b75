"""PostgreSQL clusters on anonymous volumes: what the postgres:18 trap (and its <= 17 mirror)
leaves behind (sidecar/preflight/datadir.py).

An anonymous volume is one without a compose project label whose name is 64 hex digits (what
podman and Docker name the volume they make for an image VOLUME nobody mounted). It holds a
cluster when `PG_VERSION` is at its top (the <= 17 image's VOLUME is the data directory
itself) or at `MAJOR/docker/PG_VERSION` (the 18+ image's VOLUME is its parent). Only those
paths are looked at: at most `MAX_ENTRIES` names of a volume's top directory, a few bytes of
each `PG_VERSION`, and at most `MAX_VOLUMES` anonymous volumes, so a host with thousands of
them answers in bounded time.

The engine's mountpoints are read as this user: a rootless podman volume written by the
container's postgres user is often readable only inside its user namespace
(`podman unshare sidecar volumes`), a Docker one only by root. A `MAJOR/docker` directory seen
but not readable is still reported, with its version unknown.
"""

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sidecar.preflight.engines import PODMAN_PROJECT_LABEL, PROJECT_LABEL, EngineContainer
from sidecar.preflight.engines import EngineVolume as Volume

MAX_VOLUMES = 1000
MAX_ENTRIES = 64
_ANONYMOUS = re.compile(r"[0-9a-f]{64}")
_MAJOR = re.compile(r"\d{1,4}")


@dataclass(frozen=True)
class Cluster:
    """A PostgreSQL cluster found on an anonymous volume."""

    volume: Volume
    directory: str  # inside the volume: "" (its top) or "18/docker"
    version: str  # PG_VERSION, "" when it could not be read
    mounted_by: tuple[str, ...]  # containers (running or not) that mount the volume
    mounted_at: str  # where they mount it: "/var/lib/postgresql", "" when none does
    projects: tuple[str, ...] = ()  # the compose projects of those containers

    @property
    def shown(self) -> str:
        """`PostgreSQL 18 cluster in 18/docker`."""
        version = f"PostgreSQL {self.version}" if self.version else "PostgreSQL (version unread)"
        where = f"in {self.directory}" if self.directory else "at its top"
        return f"{version} cluster {where}"


def is_anonymous(volume: Volume) -> bool:
    """No compose tool made it, and the engine named it."""
    labels = volume.labels
    unlabelled = PROJECT_LABEL not in labels and PODMAN_PROJECT_LABEL not in labels
    return unlabelled and bool(_ANONYMOUS.fullmatch(volume.name))


def find_clusters(
    volumes: Iterable[Volume], containers: Iterable[EngineContainer]
) -> list[Cluster]:
    """The anonymous volumes holding a cluster, newest first."""
    containers = list(containers)
    found = []
    anonymous = [v for v in volumes if is_anonymous(v) and v.mountpoint]
    for volume in anonymous[:MAX_VOLUMES]:
        located = _cluster_in(Path(volume.mountpoint))
        if located is None:
            continue
        users = [
            (c, m.destination) for c in containers for m in c.mounts if m.volume == volume.name
        ]
        projects = {
            c.labels.get(PROJECT_LABEL) or c.labels.get(PODMAN_PROJECT_LABEL) for c, _ in users
        }
        directory, version = located
        found.append(
            Cluster(
                volume,
                directory,
                version,
                tuple(c.name for c, _ in users),
                users[0][1] if users else "",
                tuple(sorted(p for p in projects if p)),
            )
        )
    return sorted(found, key=_created, reverse=True)


def _created(cluster: Cluster) -> float:
    created = cluster.volume.created
    return created.timestamp() if created else 0.0


def _cluster_in(top: Path) -> tuple[str, str] | None:
    """(directory, version) of the cluster in a volume's top directory, or None."""
    version = _version(top / "PG_VERSION")
    if version is not None:
        return "", version
    try:
        with os.scandir(top) as listing:
            names = [entry.name for _, entry in zip(range(MAX_ENTRIES), listing, strict=False)]
    except OSError:
        return None
    for name in sorted(n for n in names if _MAJOR.fullmatch(n)):
        docker = top / name / "docker"
        version = _version(docker / "PG_VERSION")
        if version is not None:
            return f"{name}/docker", version
        if _unreadable_directory(docker):  # initdb's mode 0700 keeps this user out
            return f"{name}/docker", ""
    return None


def _unreadable_directory(path: Path) -> bool:
    """A directory this user may not list (one it may list holds no PG_VERSION: not a cluster)."""
    try:
        with os.scandir(path):
            return False
    except PermissionError:
        return path.is_dir()
    except OSError:
        return False


def _version(path: Path) -> str | None:
    """The major version a PG_VERSION file holds, or None when it is not one."""
    try:
        with path.open("rb") as stream:
            text = stream.read(16).decode("ascii", errors="replace").strip()
    except OSError:
        return None
    return text if re.fullmatch(r"\d{1,4}(\.\d{1,4})?", text) else None
