"""The stack a start would run: its project, its named volumes by real name, and who is who.

A volume is a database volume when some service mounts it where its image keeps a database
(sidecar/preflight/images.py: the official mariadb, mysql and postgres images, bitnami's,
their `PGDATA` and `--datadir` overrides; the known paths for any other image). The
sidecar is the service with `SIDECAR_*` settings (or, when no service has any, the one whose
image is called sidecar); database services mount a database volume read-write; feeders
write into a host directory the sidecar mounts read-only (the backup job writing the dumps
it watches); apps are the rest.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from sidecar.preflight import compose_file
from sidecar.preflight.compose_file import Model, Mount, Service
from sidecar.preflight.datadir import database_engine, meant_for_data
from sidecar.preflight.images import Engine, parse_image
from sidecar.preflight.interpolation import interpolate_tree
from sidecar.preflight.project import Invocation, Project, resolve
from sidecar.preflight.tools import Tool


@dataclass(frozen=True)
class StackVolume:
    """A named volume the stack mounts, under the name the engine will know it by."""

    key: str
    name: str
    external: bool
    explicit_name: bool  # `name:` or external: the project prefix does not apply
    database: bool
    mounts: tuple[Mount, ...]
    engine: Engine | None = None  # whose data it holds, when a database volume
    data_target: str = ""  # where the database service mounts it


@dataclass(frozen=True)
class Stack:
    """The resolved stack."""

    project: Project
    model: Model
    volumes: tuple[StackVolume, ...]
    sidecars: tuple[Service, ...]
    databases: tuple[Service, ...]
    apps: tuple[Service, ...]
    # Not apps: they need not wait for the sidecar, whose verdict may wait for what they write.
    feeders: tuple[Service, ...] = ()

    @property
    def database_volumes(self) -> tuple[StackVolume, ...]:
        """The volumes holding a database."""
        return tuple(v for v in self.volumes if v.database)


def load_stack(tool: Tool, invocation: Invocation) -> Stack:
    """Resolve, load, interpolate and classify the stack `tool` would start."""
    return build_stack(resolve(tool, invocation))


def build_stack(project: Project) -> Stack:
    """The stack of a resolved project."""
    documents = [interpolate_tree(d, project.env) for d in project.documents]
    model = compose_file.parse(
        compose_file.merge(documents), allow_undeclared=project.tool is Tool.PODMAN_COMPOSE
    )
    mounts = [m for s in model.services.values() for m in s.mounts]
    volumes = []
    for key, decl in model.volumes.items():
        used = tuple(m for m in mounts if m.type == "volume" and m.source == key)
        if not used:
            continue  # declared but mounted by no service: no start creates it for us
        services = model.services
        engine = next(
            (e for m in used if (e := database_engine(services[m.service], m)) is not None), None
        )
        data = next((m for m in used if meant_for_data(services[m.service], m)), None)
        if data is None and engine is not None:  # a volume a config file may put the data on
            data = next(m for m in used if database_engine(services[m.service], m) is not None)
        explicit = bool(decl.name) or decl.external
        volumes.append(
            StackVolume(
                key,
                decl.real_name(project.name),
                decl.external,
                explicit,
                engine is not None,
                used,
                engine,
                data.target.rstrip("/") if data else "",
            )
        )
    database_keys = {v.key for v in volumes if v.database}
    # The sidecar is the service with SIDECAR_* settings; only when none has any, the one
    # whose image is called sidecar (it may be configured through env_file).
    configured = any(is_sidecar(s) for s in model.services.values())
    sidecars = [
        s
        for s in model.services.values()
        if is_sidecar(s) or ("sidecar" in image_name(s.image) and not configured)
    ]
    read_by_sidecar = {_bind_source(m) for s in sidecars for m in s.mounts if m.read_only} - {None}
    databases, feeders, apps = [], [], []
    for service in model.services.values():
        if service in sidecars:
            continue
        if any(m.source in database_keys and not m.read_only for m in service.mounts):
            databases.append(service)
        elif any(_bind_source(m) in read_by_sidecar for m in service.mounts if not m.read_only):
            feeders.append(service)
        else:
            apps.append(service)
    return Stack(
        project,
        model,
        tuple(volumes),
        tuple(sidecars),
        tuple(databases),
        tuple(apps),
        tuple(feeders),
    )


def _bind_source(mount: Mount) -> str | None:
    """A bind mount's host path as written, normalised (`./backups/` is `backups`)."""
    if mount.type != "bind" or not mount.source:
        return None
    return os.path.normpath(mount.source)


def image_name(image: str) -> str:
    """The repository's last path component: `docker.io/library/mariadb:10.11` -> `mariadb`."""
    return parse_image(image).name


def is_sidecar(service: Service) -> bool:
    """Whether `service` is configured as the sidecar: it has `SIDECAR_*` settings."""
    return any(key.startswith("SIDECAR_") for key in service.environment)


def sidecar_bind_mount(stack: Stack, variable: str) -> Path | None:
    """The host directory bind-mounted where a sidecar's `variable` (e.g. SIDECAR_STATE_DIR)
    points inside its container, if any."""
    for sidecar in stack.sidecars:
        target = sidecar.environment.get(variable)
        for mount in sidecar.mounts:
            if target and mount.type == "bind" and mount.source and mount.target == target:
                return (stack.project.directory / Path(mount.source).expanduser()).resolve()
    return None
