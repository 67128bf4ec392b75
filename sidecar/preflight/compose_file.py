"""Compose files: loading, merging several `-f` files, and the parts preflight reads.

Only what decides which volume a start mounts is modelled: services (image, environment,
command, mounts, depends_on) and the top-level `volumes:`. Several files merge as compose
merges them for these keys: mappings deep-merge, a service's `volumes` merge by target path,
its `environment` and `depends_on` by key, anything else is replaced by the later file.

A volume's real name (compose-go `setResourceNames`, docker-compose v1 `Volume.full_name`,
podman-compose `fix_mount_dict`, all alike): its `name:` when set, the key itself (or
`external.name`) when external, otherwise `<project>_<key>`.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sidecar.preflight.errors import PreflightError

Document = dict[str, Any]

# Bounds on a hostile file. A real compose file is a few KB, a few hundred nodes and less
# than ten levels deep; these are far above that and far below what hurts.
MAX_COMPOSE_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000  # after expanding every alias
# libyaml's parser when present (fast); the events it gives are read iteratively.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Mount:
    """One entry of a service's `volumes:`."""

    service: str
    type: str  # "volume", "bind", "tmpfs", ...
    source: str | None  # the volume key for type volume; None for an anonymous volume
    target: str
    read_only: bool


@dataclass(frozen=True)
class Service:
    """The parts of a service that matter here."""

    name: str
    image: str
    environment: dict[str, str | None]  # None: taken from the caller's environment
    mounts: tuple[Mount, ...]
    depends_on: dict[str, str]  # service -> condition
    command: tuple[str, ...] = ()  # as words: a mariadb/mysql `--datadir=` moves its data


@dataclass(frozen=True)
class VolumeDecl:
    """A top-level `volumes:` entry."""

    key: str
    name: str | None  # an explicit `name:` (or `external.name`)
    external: bool

    def real_name(self, project: str) -> str:
        """The engine's name for this volume when the project is `project`."""
        if self.name:
            return self.name
        return self.key if self.external else f"{project}_{self.key}"


@dataclass(frozen=True)
class Model:
    """The merged stack."""

    services: dict[str, Service]
    volumes: dict[str, VolumeDecl]


def load(path: Path) -> Document:
    """One compose file as parsed YAML; PreflightError naming the file and line when unusable."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_COMPOSE_BYTES + 1)
    except FileNotFoundError:
        raise PreflightError(f"compose file {path} not found") from None
    except OSError as exc:
        raise PreflightError(f"cannot read compose file {path}: {exc.strerror}") from None
    if len(data) > MAX_COMPOSE_BYTES:
        limit = MAX_COMPOSE_BYTES // (1024 * 1024)
        raise PreflightError(f"compose file {path} is larger than {limit} MiB: not read")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PreflightError(f"cannot read compose file {path}: not UTF-8") from None
    try:
        _check_shape(text, path)
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise PreflightError(f"{path}: invalid YAML: {_yaml_reason(exc)}") from None
    if not isinstance(data, dict):
        raise PreflightError(f"{path}: a compose file must be a mapping at the top level")
    return data


def _check_shape(text: str, path: Path) -> None:
    """Refuse, before anything is built, a document too deep or whose aliases expand too far.

    One pass over the parser's events (iterative, unlike PyYAML's composer): the nesting
    depth, and the node count with every alias counted as the size of what it names, which
    is what interpolating and merging the document will copy. A recursive alias (one inside
    the node it names) never ends and is refused as such.
    """
    open_nodes: list[list[Any]] = []  # [anchor, expanded size so far] per open collection
    sizes: dict[str, int] = {}
    total = 0

    def add(size: int) -> None:
        nonlocal total
        total += size
        if total > MAX_NODES:
            raise PreflightError(
                f"{path}: expands to more than {MAX_NODES} YAML nodes (each alias counted as"
                " what it names): refused"
            )
        if open_nodes:
            open_nodes[-1][1] += size

    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_nodes) >= MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else 0
                raise PreflightError(
                    f"{path}: line {line}: nested more than {MAX_DEPTH} deep: refused"
                )
            add(1)
            open_nodes.append([event.anchor, 0])
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, inner = open_nodes.pop()
            if anchor is not None:
                sizes[anchor] = inner + 1
            if open_nodes:  # its contents, already in the total, are its parent's too
                open_nodes[-1][1] += inner
        elif isinstance(event, yaml.ScalarEvent):
            add(1)
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in open_nodes):
                line = event.start_mark.line + 1 if event.start_mark else 0
                raise PreflightError(
                    f"{path}: line {line}: alias *{event.anchor} refers to a node that"
                    " contains it (a recursive alias): refused"
                )
            add(sizes.get(str(event.anchor), 1))  # an unknown anchor: the loader names it


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if "constructor for the tag" in str(exc):
        problem = f"unsupported YAML tag ({problem.strip()}; e.g. !reset or !override)"
    return f"line {mark.line + 1}: {problem}" if mark is not None else str(problem)


def merge(documents: list[Document]) -> Document:
    """The documents merged in order, later files overriding earlier ones."""
    merged: Document = {}
    for document in documents:
        for key, value in document.items():
            if key == "services" and isinstance(value, dict):
                services = merged.setdefault("services", {})
                if not isinstance(services, dict):
                    raise PreflightError("services: must be a mapping")
                for name, service in value.items():
                    services[name] = _merge_service(services.get(name), service)
            else:
                merged[key] = _deep_merge(merged.get(key), value)
    return merged


def _deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _deep_merge(base.get(key), value)
        return out
    return over


def _merge_service(base: Any, over: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(over, dict):
        return over
    out = dict(base)
    for key, value in over.items():
        if key == "volumes" and isinstance(value, list) and isinstance(base.get(key), list):
            by_target = {_entry_target(entry): entry for entry in base[key]}
            by_target.update({_entry_target(entry): entry for entry in value})
            out[key] = list(by_target.values())
        elif key in ("environment", "depends_on") and key in base:
            out[key] = {**_as_mapping(base[key], key), **_as_mapping(value, key)}
        else:
            out[key] = _deep_merge(base.get(key), value)
    return out


def _entry_target(entry: Any) -> str:
    if isinstance(entry, dict):
        return str(entry.get("target", ""))
    parts = str(entry).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _as_mapping(value: Any, key: str) -> dict[str, Any]:
    """`environment` / `depends_on` in either list or mapping form, as a mapping."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for item in value:
            name, sep, rest = str(item).partition("=")
            if key == "environment":
                out[name] = rest if sep else None
            else:
                out[str(item)] = {"condition": "service_started"}
        return out
    raise PreflightError(f"{key}: must be a list or a mapping, not {type(value).__name__}")


def parse(document: Document, *, allow_undeclared: bool = False) -> Model:
    """The services and volumes of a merged, interpolated document.

    `allow_undeclared`: podman-compose mounts a named volume missing from the top-level
    `volumes:` as if it were declared (`fix_mount_dict`); compose v2 and v1 refuse the file.
    """
    for unsupported in ("include",):
        if unsupported in document:
            raise PreflightError(f"top-level {unsupported}: is not supported by preflight yet")
    volumes = _volume_decls(document.get("volumes"))
    raw_services = document.get("services") or {}
    if not isinstance(raw_services, dict):
        raise PreflightError("services: must be a mapping")
    services = {}
    for name, raw in raw_services.items():
        service = _service(str(name), raw or {})
        for mount in service.mounts:
            if mount.type == "volume" and mount.source and mount.source not in volumes:
                if not allow_undeclared:
                    raise PreflightError(
                        f"service {name} mounts volume {mount.source!r}, which is not declared"
                        " under the top-level volumes:"
                    )
                volumes[mount.source] = VolumeDecl(mount.source, None, external=False)
        services[service.name] = service
    return Model(services, volumes)


def _volume_decls(raw: Any) -> dict[str, VolumeDecl]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PreflightError("volumes: must be a mapping")
    decls = {}
    for key, spec in raw.items():
        spec = spec or {}
        if not isinstance(spec, dict):
            raise PreflightError(f"volumes.{key}: must be a mapping")
        name = spec.get("name")
        external = spec.get("external", False)
        if isinstance(external, dict):
            name = name or external.get("name")
            external = True
        decls[str(key)] = VolumeDecl(str(key), str(name) if name else None, bool(external))
    return decls


def _service(name: str, raw: Any) -> Service:
    if not isinstance(raw, dict):
        raise PreflightError(f"services.{name}: must be a mapping")
    if "extends" in raw:
        raise PreflightError(f"services.{name}: extends is not supported by preflight yet")
    environment = {
        key: None if value is None else _scalar(value)
        for key, value in _as_mapping(raw.get("environment"), "environment").items()
    }
    depends_on = {}
    for dependency, spec in _as_mapping(raw.get("depends_on"), "depends_on").items():
        condition = spec.get("condition") if isinstance(spec, dict) else None
        depends_on[dependency] = str(condition or "service_started")
    entries = raw.get("volumes") or []
    if not isinstance(entries, list):
        raise PreflightError(f"services.{name}.volumes: must be a list")
    mounts = tuple(_mount(name, entry, i) for i, entry in enumerate(entries))
    command = _command(raw.get("command"))
    return Service(name, str(raw.get("image") or ""), environment, mounts, depends_on, command)


def _command(value: Any) -> tuple[str, ...]:
    """`command:` as words: a list as it is, a string split at whitespace.

    Only a `--datadir` is looked for in it, so quotes are not parsed: a shell-like split of a
    string as long as a compose file may make one (16 MiB) would take seconds.
    """
    if isinstance(value, list):
        return tuple(_scalar(word) for word in value)
    if value is None:
        return ()
    return tuple(_scalar(value).split())


def _scalar(value: Any) -> str:
    # YAML booleans and numbers reach the container as compose spells them.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _mount(service: str, entry: Any, index: int) -> Mount:
    where = f"services.{service}.volumes[{index}]"
    if isinstance(entry, dict):
        kind = str(entry.get("type") or "")
        target = entry.get("target")
        if not kind or not target:
            raise PreflightError(f"{where}: the long syntax needs type: and target:")
        source = entry.get("source")
        read_only = entry.get("read_only") in (True, "true", "True")
        return Mount(service, kind, str(source) if source else None, str(target), read_only)
    if not isinstance(entry, str):
        raise PreflightError(f"{where}: expected a string or a mapping")
    parts = entry.split(":")
    if len(parts) == 1:
        return Mount(service, "volume", None, parts[0], read_only=False)
    source, target = parts[0], parts[1]
    options = parts[2].split(",") if len(parts) > 2 else []
    # compose-go `isFilePath`: a source starting with `.`, `/` or `~` is a host path.
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    return Mount(service, kind, source, target, read_only="ro" in options)
