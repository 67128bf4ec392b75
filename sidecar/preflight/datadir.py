"""Where a database service's data lands: on the volume the compose file mounts, or on one the
image declares and nobody named.

The engine gives every VOLUME path of the image that the service does not mount at exactly
that path an anonymous volume of its own (podman and Docker alike; shown on podman 4.3 with
images carrying the postgres 17 and 18 VOLUMEs: tests/preflight/test_postgres_engine.py).
The data directory is therefore on the deepest mount at or above it, unless an image VOLUME
at or above it is deeper still: then it is on that anonymous volume, which the next
`down`/`up` or image update replaces by a new, empty one while every health check stays
green. That is the postgres:18 trap (a volume at `/var/lib/postgresql/data` under the 18
image's `VOLUME /var/lib/postgresql`), and its mirror on postgres <= 17 (a volume at
`/var/lib/postgresql` above the old image's `VOLUME /var/lib/postgresql/data`).
"""

from dataclasses import dataclass, replace

from sidecar.preflight.compose_file import Mount, Service
from sidecar.preflight.images import (
    FALLBACK_MOUNTS,
    POSTGRESQL,
    Engine,
    Layout,
    at_or_above,
    layouts,
)


def service_layouts(service: Service) -> tuple[Layout, ...]:
    """The layouts `service`'s image may have (none for an image images.py does not know)."""
    return layouts(service.image, service.environment, service.command)


def database_engine(service: Service, mount: Mount) -> Engine | None:
    """The engine whose data `mount` of `service` may hold, or None.

    Every volume of a database image: a `my.cnf` or `postgresql.conf` the file does not show
    may move the data onto it. For any other image: a known mount path, or at or above its
    `PGDATA`.
    """
    known = service_layouts(service)
    if known:
        return known[0].engine
    for path, engine in FALLBACK_MOUNTS.items():
        if _same(mount.target, (path,)):
            return engine
    pgdata = service.environment.get("PGDATA")
    if pgdata and at_or_above(mount.target, pgdata):
        return POSTGRESQL
    return None


def meant_for_data(service: Service, mount: Mount) -> bool:
    """Whether `mount` is where the data goes: at or above the data directory, or where the
    image's documentation says to mount (for any other image: a known path or PGDATA)."""
    known = service_layouts(service)
    if not known:
        return database_engine(service, mount) is not None
    return any(
        at_or_above(mount.target, layout.data_dir) or _same(mount.target, layout.mount_points)
        for layout in known
    )


@dataclass(frozen=True)
class Misplaced:
    """A service whose data would land on an anonymous volume beside its named one."""

    service: Service
    mount: Mount  # the named volume meant for the data
    layout: Layout
    anonymous_at: str  # the image VOLUME the data lands on

    @property
    def fixes(self) -> tuple[str, ...]:
        """The lines that put the data on the named volume under every layout the image may
        have, best first: each is tried on the service before it is offered."""
        key, service = self.mount.source, self.service
        moved = tuple(
            replace(m, target=self.anonymous_at) if m is self.mount else m for m in service.mounts
        )
        candidates = [
            (
                f'mount it at {self.anonymous_at}: "- {key}:{self.anonymous_at}"',
                replace(service, mounts=moved),
            )
        ]
        if self.layout.overridable:
            pgdata = {**service.environment, "PGDATA": self.mount.target}
            candidates.append(
                (
                    f'add "PGDATA: {self.mount.target}" to {service.name}\'s environment',
                    replace(service, environment=pgdata),
                )
            )
        return tuple(line for line, fixed in candidates if _sound(fixed))


def misplaced(service: Service) -> list[Misplaced]:
    """Per layout of `service`, the trap when its data misses every named volume it mounts."""
    found = []
    named = [
        m for m in service.mounts if m.type == "volume" and m.source and meant_for_data(service, m)
    ]
    if not named:
        return []
    for layout in service_layouts(service):
        anonymous = lands_on_anonymous(service.mounts, layout)
        if anonymous:
            found.append(Misplaced(service, named[0], layout, anonymous))
    return found


def lands_on_anonymous(mounts: tuple[Mount, ...], layout: Layout) -> str:
    """The image VOLUME path the data directory lands on, or "" when a mount holds it."""
    holding = [m.target.rstrip("/") for m in mounts if at_or_above(m.target, layout.data_dir)]
    mounted = {m.target.rstrip("/") for m in mounts}
    declared = [v for v in layout.declared if at_or_above(v, layout.data_dir) and v not in mounted]
    deepest_mount = max(holding, key=len, default="")
    deepest_volume = max(declared, key=len, default="")
    return deepest_volume if len(deepest_volume) > len(deepest_mount) else ""


def _sound(service: Service) -> bool:
    """Whether every layout of `service` keeps its data on a mount, in a directory no image
    VOLUME is mounted into (initdb refuses a data directory that is not empty)."""
    if misplaced(service):
        return False
    mounted = {m.target.rstrip("/") for m in service.mounts}
    return not any(
        v not in mounted and v.startswith(layout.data_dir.rstrip("/") + "/")
        for layout in service_layouts(service)
        for v in layout.declared
    )


def _same(target: str, paths: tuple[str, ...]) -> bool:
    return target.rstrip("/") in paths
