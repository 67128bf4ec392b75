"""Twins: volumes that hold the same volume key under different compose projects.

In the incident the twin pair was `meaningful-conversations-production_mariadb_production_data`
(the data) and `manualmode-production_mariadb_production_data` (new and empty): same key
`mariadb_production_data`, another project. Ownership is read from the compose labels when a
tool set them: `com.docker.compose.project` plus `com.docker.compose.volume` (the key; Docker
Compose v2 and docker-compose v1), or the project label alone with the name `<project>_<key>`
(podman-compose labels no key). Only a volume without any project label is matched by name
arithmetic, `<prefix>_<key>`, and said to be so. Keys may contain underscores: the key is
always one the compose file names, never guessed by splitting a name.
"""

import os
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sidecar.preflight.engines import (
    PODMAN_PROJECT_LABEL,
    PROJECT_LABEL,
    VOLUME_LABEL,
    WORKING_DIR_LABEL,
    EngineContainer,
    EngineVolume,
)
from sidecar.preflight.sizes import Size


@dataclass(frozen=True)
class Owner:
    """The project a volume belongs to, and how we know."""

    project: str
    by_label: bool


def owner(volume: EngineVolume, key: str) -> Owner | None:
    """The project whose volume `key` this is, or None when it is not that key's volume."""
    labels = volume.labels
    project = labels.get(PROJECT_LABEL) or labels.get(PODMAN_PROJECT_LABEL)
    if project is not None:
        labelled_key = labels.get(VOLUME_LABEL)
        if labelled_key is not None:
            return Owner(project, True) if labelled_key == key else None
        return Owner(project, True) if volume.name == f"{project}_{key}" else None
    suffix = f"_{key}"
    if volume.name.endswith(suffix) and len(volume.name) > len(suffix):
        return Owner(volume.name[: -len(suffix)], False)
    return None


@dataclass(frozen=True)
class Candidate:
    """A volume holding a given key: its owner, size and the running containers using it."""

    volume: EngineVolume
    owner: Owner
    size: Size | None  # None: not measured
    users: tuple[str, ...]  # running containers mounting it
    home: str | None = None  # its project's directory, from its containers' labels
    home_exists: bool = False

    @property
    def home_gone(self) -> bool:
        """Its project's directory is known and no longer exists: renamed or moved away."""
        return self.home is not None and not self.home_exists

    @property
    def holds_data(self) -> bool:
        """Whether it holds (or may hold) data."""
        return self.size is None or self.size.holds_data


def running_users(name: str, containers: Iterable[EngineContainer]) -> tuple[str, ...]:
    """The running containers that mount volume `name`."""
    return tuple(
        c.name for c in containers if c.running and any(m.volume == name for m in c.mounts)
    )


def project_homes(containers: Iterable[EngineContainer]) -> dict[str, str]:
    """Each project's directory, as its containers (running or stopped) record it."""
    homes = {}
    for container in containers:
        labels = container.labels
        project = labels.get(PROJECT_LABEL) or labels.get(PODMAN_PROJECT_LABEL)
        if project and labels.get(WORKING_DIR_LABEL):
            homes[project] = labels[WORKING_DIR_LABEL]
    return homes


def candidates(
    key: str,
    volumes: Iterable[EngineVolume],
    sizes: dict[str, Size],
    containers: Iterable[EngineContainer],
    exists: Callable[[str], bool] = os.path.isdir,
) -> list[Candidate]:
    """Every existing volume holding `key`, under any project."""
    containers = list(containers)
    homes = project_homes(containers)
    found = []
    for volume in volumes:
        who = owner(volume, key)
        if who is not None:
            users = running_users(volume.name, containers)
            home = homes.get(who.project)
            found.append(
                Candidate(
                    volume, who, sizes.get(volume.name), users, home, bool(home and exists(home))
                )
            )
    return found


def ranked(
    found: Iterable[Candidate], remembered: Collection[str] = (), unused_first: bool = False
) -> list[Candidate]:
    """Likeliest data first: remembered by the sidecar, holding data, its project's directory
    gone (renamed or moved: the incident), largest, then oldest.

    With `unused_first`, a twin that a running container mounts ranks after unused ones: it
    belongs to a live stack (a staging copy of the same file, say), not to the stack whose
    start is being judged.
    """

    def order(c: Candidate) -> tuple[bool, bool, bool, bool, int, float]:
        size = c.size.bytes if c.size is not None and c.size.bytes is not None else -1
        created = c.volume.created.timestamp() if c.volume.created else float("inf")
        in_use = unused_first and bool(c.users)
        return (
            c.volume.name not in remembered,
            not c.holds_data,
            not c.home_gone,
            in_use,
            -size,
            created,
        )

    return sorted(found, key=order)


def age_and_size(a: Candidate, b: Candidate) -> tuple[int, int]:
    """How `a` compares with `b`: (-1 older, 0 same or unknown, 1 newer), (1 larger, ...)."""
    a_bytes = a.size.bytes if a.size else None
    b_bytes = b.size.bytes if b.size else None
    return _compare(a.volume.created, b.volume.created), _compare(a_bytes, b_bytes)


def _compare(a: Any, b: Any) -> int:
    if a is None or b is None:
        return 0
    return int(a > b) - int(a < b)
