"""`sidecar volumes`: during an incident, which twin holds the data and how to come back on it.

For every database volume of the stack, all volumes holding the same key under any project
are compared: creation date, size, the running containers that mount each, and what the
sidecar remembers (`sources.volume` of the identity in `state.json`, and the `volume=` of a
`SIDECAR_EXPECT_IDENTITY` pin). The likely data is the remembered one; otherwise the one
holding data, the larger, then the older. When that is not the volume this stack mounts, the
steps to bring the stack back on it are spelled out for the tool in use.

For a PostgreSQL volume the stack is on (or would create) while its cluster is missing from
it, the anonymous volumes holding a cluster are listed too (sidecar/preflight/anonymous.py):
where the postgres:18 trap put the data, with the steps to copy it onto the named volume.
"""

import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from sidecar.preflight.anonymous import Cluster, find_clusters
from sidecar.preflight.datadir import Misplaced, misplaced
from sidecar.preflight.images import POSTGRESQL
from sidecar.preflight.project import Project
from sidecar.preflight.sizes import Size, measure
from sidecar.preflight.stack import Stack, StackVolume, sidecar_bind_mount
from sidecar.preflight.tools import Tool
from sidecar.preflight.twins import Candidate, age_and_size, candidates, ranked
from sidecar.preflight.verdict import PIN, Observation, pinned_volumes, return_fix
from sidecar.results import Status
from sidecar.state import Memory, StateError, StateStore


@dataclass(frozen=True)
class RememberedVolumes:
    """What the sidecar remembers of the database's volume, and from where."""

    volumes: dict[str, str]  # volume name -> where it is remembered ("state", "pin")
    notes: tuple[str, ...]  # why a source could not be read
    state: Memory | None = None  # the sidecar's memory, when its state file was read
    state_dir: Path | None = None


@dataclass(frozen=True)
class Row:
    """One volume holding the key."""

    candidate: Candidate
    current: bool  # the volume this stack mounts (or would)
    remembered: str  # "" or where the sidecar remembers it


@dataclass(frozen=True)
class KeyReport:
    """The twins of one database volume key, and the verdict on them."""

    volume: StackVolume
    rows: tuple[Row, ...]  # likeliest data first
    status: Status
    summary: str
    steps: tuple[str, ...]
    clusters: tuple[tuple[Cluster, Size], ...] = ()  # on anonymous volumes, likeliest first


def remembered(stack: Stack, state_dir: Path | None) -> RememberedVolumes:
    """The volume names the sidecar remembers: its state file and its pin."""
    volumes: dict[str, str] = {}
    notes = []
    memory = None
    directory = state_dir or sidecar_bind_mount(stack, "SIDECAR_STATE_DIR")
    if directory is not None:
        try:
            memory = StateStore(directory).load()
        except StateError as exc:
            notes.append(f"sidecar state not read: {exc}")
        else:
            if memory is None:
                notes.append(f"no sidecar state in {directory}")
            elif isinstance(remembered := memory.identity.get("volume"), str):
                volumes[remembered] = f"sidecar state {directory}"
    for sidecar in stack.sidecars:
        for pinned in pinned_volumes(replace(stack, sidecars=(sidecar,))):
            volumes.setdefault(pinned, f"{PIN} of {sidecar.name}")
    return RememberedVolumes(volumes, tuple(notes), memory, directory)


def compare(stack: Stack, observed: Observation, memory: RememberedVolumes) -> list[KeyReport]:
    """One report per database volume of the stack."""
    reports = []
    postgres = any(v.engine is POSTGRESQL for v in stack.database_volumes)
    clusters = find_clusters(observed.volumes, observed.containers) if postgres else []
    for volume in stack.database_volumes:
        if volume.external:
            continue
        found = candidates(volume.key, observed.volumes, observed.sizes, observed.containers)
        likeliest = ranked(found, memory.volumes)
        rows = tuple(
            Row(c, c.volume.name == volume.name, memory.volumes.get(c.volume.name, ""))
            for c in likeliest
        )
        report = _report(stack, volume, rows, observed.engine)
        if report.status is Status.PASS and volume.engine is POSTGRESQL and clusters:
            report = _anonymous_report(stack, report, clusters, observed.engine)
        reports.append(report)
    return reports


# Sizes of the anonymous volumes shown: each walk bounded, and few of them.
_CLUSTER_BUDGET = 2.0
_CLUSTERS_SHOWN = 5


def _anonymous_report(
    stack: Stack, report: KeyReport, clusters: list[Cluster], engine: str
) -> KeyReport:
    """The stack is on its own volume, but is its cluster? Anonymous volumes holding one."""
    volume = report.volume
    current = next((r.candidate for r in report.rows if r.current), None)
    missing = current is None or (current.size is not None and not current.size.holds_data)
    trap = next(
        (
            t
            for s in stack.model.services.values()
            for t in misplaced(s)
            if t.mount.source == volume.key
        ),
        None,
    )
    project = stack.project.name
    ours = [c for c in clusters if project in c.projects]
    if not (trap or ours or missing):
        return report  # the stack's volume holds data and nothing ties those clusters to it
    chosen = (ours or clusters)[:_CLUSTERS_SHOWN]
    shown = tuple((c, measure(c.volume.mountpoint, _CLUSTER_BUDGET)) for c in chosen)
    likely = chosen[0]
    sure = missing and bool(trap or ours)
    state = "does not exist" if current is None else ("is empty" if missing else "holds data")
    why = (
        f"mounted by {', '.join(likely.mounted_by)} at {likely.mounted_at}"
        if likely.mounted_by
        else "no container mounts it now"
    )
    summary = (
        f"{volume.name} {state}, but anonymous volume {likely.volume.name} holds a"
        f" {likely.shown} ({why})"
    )
    if trap:
        summary += f": {trap.service.name}'s data directory misses {volume.key}"
    status = Status.FAIL if sure else Status.WARN
    steps = _move_back(stack, volume, likely, trap, current is None, engine)
    return replace(report, status=status, summary=summary, steps=steps, clusters=shown)


def _move_back(
    stack: Stack,
    volume: StackVolume,
    cluster: Cluster,
    trap: Misplaced | None,
    create: bool,
    engine: str,
) -> tuple[str, ...]:
    """Stop, copy the cluster onto the named volume, fix the file, preflight, up."""
    project = stack.project
    cwd = project.invocation.cwd if project.invocation else str(project.directory)
    tool = command_line(project)
    fixes = trap.fixes if trap else ()
    # Mounted where the anonymous volume was, the named volume shows the same tree: copy it
    # whole. With the PGDATA line instead, the named volume is the cluster directory itself.
    by_mount = not fixes or fixes[0].startswith("mount it at")
    source = "/from/." if by_mount or not cluster.directory else f"/from/{cluster.directory}/."
    image = trap.service.image if trap else _image(stack, volume)
    name = volume.name
    steps = [
        f"cd {shlex.quote(cwd)} && {tool} down"
        "   (stops the stack; every volume is kept, the anonymous one too: no -v)",
    ]
    if create:
        steps.append(f"{tool} up --no-start && {tool} down   (creates {name} as the tool names it)")
    steps += [
        f"{engine} run --rm --user 0 --entrypoint cp -v {cluster.volume.name}:/from:ro"
        f" -v {name}:/to {shlex.quote(image)} -a {source} /to/"
        "   (a throwaway container copies the cluster, owners and modes kept; on the host,"
        f" as root: cp -a {cluster.volume.mountpoint}/{source[len('/from/') :]} <{name}'s"
        f" mountpoint>/)",
        (fixes[0] if fixes else f"{name} is already where the image keeps its cluster")
        + " in the compose file",
        f"{command_line(project, preflight=True)}   (must pass: no data-dir line)",
        f"{tool} up -d",
        "sidecar check in the sidecar's container (or GET /health): rows and identity pass",
        f"keep {cluster.volume.name} until the data is verified; only then:"
        f" {engine} volume rm {cluster.volume.name}",
    ]
    return tuple(steps)


def _image(stack: Stack, volume: StackVolume) -> str:
    """The image of the service that writes the database volume."""
    for service in stack.databases:
        if any(m.source == volume.key for m in service.mounts):
            return service.image
    return "postgres"


def _report(stack: Stack, volume: StackVolume, rows: tuple[Row, ...], engine: str) -> KeyReport:
    current = next((r for r in rows if r.current), None)
    if not rows or rows[0].current:
        where = "exists" if current else "does not exist yet, and no other project holds the key"
        return KeyReport(
            volume,
            rows,
            Status.PASS,
            f"the stack's {volume.name} {where}: nothing to recover for {volume.key}",
            (),
        )
    likely = rows[0]
    reason = _why(likely, current)
    sure = likely.remembered or "older and larger" in reason or current is None
    status = Status.FAIL if sure and likely.candidate.holds_data else Status.WARN
    if current is None:
        now = f"this stack would create {volume.name} anew"
    elif current.candidate.users:
        now = f"the stack runs on {volume.name} ({', '.join(current.candidate.users)})"
    else:
        now = f"this stack mounts {volume.name}"
    summary = f"{now}, but {likely.candidate.volume.name} looks like your data ({reason})"
    steps = _steps(stack, volume, likely, current, engine)
    return KeyReport(volume, rows, status, summary, steps)


def _why(likely: Row, current: Row | None) -> str:
    reasons = []
    if likely.remembered:
        reasons.append(f"remembered by {likely.remembered}")
    if current is not None:
        a, b = likely.candidate, current.candidate
        age, size = age_and_size(a, b)
        reasons += {
            (-1, 1): ["older and larger"],
            (0, 1): ["larger"],
            (1, 1): ["larger, though newer"],
            (-1, 0): ["older"],
            (-1, -1): ["older, though smaller"],
        }.get((age, size), [])
    elif likely.candidate.holds_data:
        reasons.append("it holds data")
    return "; ".join(reasons) or "the only other candidate"


def command_line(project: Project, project_name: str | None = None, preflight: bool = False) -> str:
    """The compose tool (or `sidecar preflight`) with the flags this project was given."""
    inv = project.invocation
    command = "sidecar preflight" if preflight else project.tool.command
    if inv is None:
        return command
    flags = [f"-f {shlex.quote(f)}" for f in inv.files]
    name = project_name or inv.project_name
    flags += [f"-p {shlex.quote(name)}"] if name else []
    flags += [f"--env-file {shlex.quote(f)}" for f in inv.env_files]
    if inv.project_directory:
        directory = shlex.quote(inv.project_directory)
        if project.tool is Tool.PODMAN_COMPOSE and not preflight:  # no flag, a variable
            command = f"COMPOSE_PROJECT_DIR={directory} {command}"
        else:
            flags.append(f"--project-directory {directory}")
    return " ".join([command, *flags])


def _steps(
    stack: Stack, volume: StackVolume, likely: Row, current: Row | None, engine: str
) -> tuple[str, ...]:
    project = stack.project
    target = likely.candidate
    fix = return_fix(project, volume.key, target.volume.name, target.owner.project)
    cwd = project.invocation.cwd if project.invocation else str(project.directory)
    new_name = target.owner.project if project.origin == "flag" else None
    pins = pinned_volumes(stack)
    if pins and target.volume.name not in pins:
        fix += f", and pin {PIN}: volume={target.volume.name}"
    steps = [
        f"cd {shlex.quote(cwd)} && {command_line(project)} down"
        "   (stops the stack; every volume is kept: no -v)",
        fix,
        f"{command_line(project, new_name, preflight=True)}"
        f"   (must pass: the stack now resolves to {target.volume.name})",
        f"{command_line(project, new_name)} up -d",
        "sidecar check in the sidecar's container (or GET /health): rows and identity pass",
    ]
    if current is not None:
        since = current.candidate.volume.created
        when = f" since {since.date().isoformat()}" if since else ""
        steps.append(
            f"keep {current.candidate.volume.name} until anything written to it{when} is copied"
            f" over; only then: {engine} volume rm {current.candidate.volume.name}"
        )
    return tuple(steps)
