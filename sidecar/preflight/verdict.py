"""Judging a stack against what the engine holds: pure rules, one finding per line.

fail (exit 2):
- a database volume the start would mount does not exist yet while a volume with the same
  key under another project exists and holds data: the start would create a new, empty
  volume and the database would initialise a fresh datadir (MariaDB, MySQL) or cluster
  (PostgreSQL) on it (the incident);
- the database's data directory would land on an anonymous volume the image declares, not on
  the named volume meant for it (sidecar/preflight/datadir.py: the postgres:18 trap), while
  that named volume is new or empty;
- the sidecar pins `SIDECAR_EXPECT_IDENTITY` `volume=...` to another volume than the one
  this start would mount into it.

warn (exit 1), each naming the line to add: no top-level `name:`; a non-database volume with
the same trap; the data directory missing a named volume that holds data, or a postgres
image whose major version the tag does not tell while one layout would miss the volume; the
sidecar's state not on a host path; the data volume not mounted read-only into the sidecar;
no identity pin; an app not gated on the sidecar's health; no sidecar at all; an external
volume that does not exist.

pass (exit 0): one line per volume, with where it stands.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from sidecar.identity.pin import parse_pin
from sidecar.preflight.compose_file import Mount, Service
from sidecar.preflight.datadir import Misplaced, misplaced
from sidecar.preflight.engines import EngineContainer, EngineVolume
from sidecar.preflight.images import MARIADB, MYSQL, parse_image
from sidecar.preflight.project import Project, normalize
from sidecar.preflight.sizes import Size
from sidecar.preflight.stack import Stack, StackVolume
from sidecar.preflight.tools import V1_TOOLS
from sidecar.preflight.twins import Candidate, Owner, age_and_size, candidates, owner, ranked
from sidecar.results import Status

DEFAULT_STATE_DIR = "/var/lib/sidecar"
PIN = "SIDECAR_EXPECT_IDENTITY"


@dataclass(frozen=True)
class Observation:
    """What the engine holds: its volumes, containers, and sizes of the volumes that matter."""

    engine: str
    volumes: tuple[EngineVolume, ...]
    containers: tuple[EngineContainer, ...]
    sizes: dict[str, Size] = field(default_factory=dict)
    remembered: frozenset[str] = frozenset()  # volumes the sidecar's state or pin names

    def volume(self, name: str) -> EngineVolume | None:
        """The existing volume called `name`."""
        return next((v for v in self.volumes if v.name == name), None)


@dataclass(frozen=True)
class Finding:
    """One verdict line."""

    status: Status
    code: str
    message: str
    volume: str = ""  # the stack volume concerned, if any


def volumes_to_measure(stack: Stack, volumes: Iterable[EngineVolume]) -> list[EngineVolume]:
    """The existing volumes whose size a verdict may name: the stack's and their twins."""
    keys = [v.key for v in stack.volumes if not v.external]
    names = {v.name for v in stack.volumes}
    return [v for v in volumes if v.name in names or any(owner(v, k) for k in keys)]


def judge(stack: Stack, observed: Observation) -> list[Finding]:
    """Every finding for `stack`, worst first."""
    findings = _volume_findings(stack, observed)
    findings += _layout_findings(stack, observed)
    suggested = _suggested_project(stack, observed)
    findings += _pin_findings(stack, observed)
    findings += _name_findings(stack.project, suggested)
    findings += _sidecar_findings(stack)
    findings += _backup_findings(stack)
    order = {Status.FAIL: 0, Status.WARN: 1, Status.PASS: 2}
    return sorted(findings, key=lambda f: order[f.status])


def _backup_findings(stack: Stack) -> list[Finding]:
    """The backups' own findings (sidecar/preflight/backups.py: a dump too old to restart on)."""
    # Imported here: backups.py uses recover.py's command line, and recover.py this module.
    from sidecar.preflight.backups import freshness_notes

    return [Finding(n.status, n.code, n.message) for n in freshness_notes(stack)]


def twins(stack: Stack, volume: StackVolume, observed: Observation) -> list[Candidate]:
    """Other projects' volumes with this volume's key, the likeliest data first."""
    found = candidates(volume.key, observed.volumes, observed.sizes, observed.containers)
    others = [c for c in found if c.owner.project != stack.project.name]
    return ranked(
        (c for c in others if c.volume.name != volume.name),
        observed.remembered,
        unused_first=True,
    )


def describe(candidate: Candidate) -> str:
    """`NAME (created 2025-11-24, 182 MB, project P)`."""
    volume, who = candidate.volume, candidate.owner
    created = f"created {volume.created.date().isoformat()}" if volume.created else "undated"
    size = candidate.size.describe() if candidate.size else "size not measured"
    project = f"project {who.project}" + ("" if who.by_label else ", by its name")
    gone = f", whose directory {candidate.home} is gone" if candidate.home_gone else ""
    return f"{volume.name} ({created}, {size}, {project}{gone})"


def pinned_volumes(stack: Stack) -> set[str]:
    """The volumes the sidecars' `SIDECAR_EXPECT_IDENTITY` pins name (valid pins only)."""
    pinned = set()
    for sidecar in stack.sidecars:
        text = _env(stack, sidecar, PIN)
        try:
            volume = parse_pin(text).get("volume") if text else None
        except ValueError:
            volume = None  # reported by the pin rule
        if volume:
            pinned.add(volume)
    return pinned


def return_fix(project: Project, key: str, volume: str, owner_project: str) -> str:
    """How to make this stack mount `volume` again: the line to add, for this tool."""
    if volume == f"{owner_project}_{key}" and normalize(project.tool, owner_project) == (
        owner_project
    ):
        if project.origin == "flag":
            return f"start it with -p {owner_project}"
        if project.origin in ("environment", ".env"):
            where = " in .env" if project.origin == ".env" else ""
            return f'set "COMPOSE_PROJECT_NAME={owner_project}"{where}'
        if project.tool in V1_TOOLS:
            return (
                f'add "COMPOSE_PROJECT_NAME={owner_project}" to {project.directory}/.env'
                ' (docker-compose v1 ignores "name:")'
            )
        return f'add "name: {owner_project}" to the compose file'
    return f'give the volume its name: "volumes: {{{key}: {{name: {volume}}}}}"'


def _volume_findings(stack: Stack, observed: Observation) -> list[Finding]:
    findings = []
    for volume in stack.volumes:
        kind = "database volume" if volume.database else "volume"
        existing = observed.volume(volume.name)
        if volume.external:
            if existing is None:
                findings.append(
                    Finding(
                        Status.WARN,
                        "external-missing",
                        f"external {kind} {volume.name} does not exist: the start will fail"
                        f" until it is created (podman/docker volume create {volume.name})",
                        volume.name,
                    )
                )
            else:
                findings.append(_exists(volume, kind, existing, observed))
            continue
        if existing is not None:
            findings.append(_exists(volume, kind, existing, observed))
            findings += _abandoned_twin(stack, volume, existing, observed)
            continue
        holding = [c for c in twins(stack, volume, observed) if c.holds_data]
        here = str(stack.project.directory)
        # A twin whose project still lives in another existing directory is another
        # deployment of the same file (a staging copy), not data this start abandons.
        elsewhere = [c for c in holding if c.home_exists and c.home != here]
        holding = [c for c in holding if c not in elsewhere]
        pinned = volume.name in pinned_volumes(stack)
        if not holding or pinned:
            why = "no other project holds the key " + volume.key
            if pinned:
                why = f"the sidecar's {PIN} expects it"
            elif elsewhere:
                why = "; ".join(
                    f"{c.volume.name} belongs to project {c.owner.project} in {c.home}"
                    for c in elsewhere
                )
            findings.append(
                Finding(
                    Status.PASS, "volume-new", f"{kind} {volume.name} will be created: {why}",
                    volume.name,
                )
            )  # fmt: skip
            continue
        best, others = holding[0], holding[1:]
        message = (
            f"this start would create a NEW, EMPTY volume {volume.name}{_fresh(volume)}; "
            f"{describe(best)} holds your data: "
            f"{return_fix(stack.project, volume.key, best.volume.name, best.owner.project)}"
        )
        if others:
            names = ", ".join(c.volume.name for c in others)
            message += f" (also holding {volume.key}: {names}; `sidecar volumes` compares them)"
        status = Status.FAIL if volume.database else Status.WARN
        findings.append(Finding(status, "new-empty-volume", message, volume.name))
    return findings


def _fresh(volume: StackVolume) -> str:
    """What the database would make of the new volume, for engines other than MariaDB's.

    MariaDB's (and MySQL's) line is the incident's, quoted as it is in the README, the docs and
    the end-to-end checks; "NEW, EMPTY volume" says it there.
    """
    if volume.engine is None or volume.engine in (MARIADB, MYSQL):
        return ""
    return f" and {volume.engine.name} would initialise a fresh {volume.engine.store} on it"


def _layout_findings(stack: Stack, observed: Observation) -> list[Finding]:
    """Data directories that miss the named volume meant for them (preflight/datadir.py)."""
    findings = []
    volumes = {v.key: v for v in stack.volumes}
    for service in stack.model.services.values():
        traps = misplaced(service)
        if not traps:
            continue
        volume = volumes[traps[0].mount.source or ""]
        if parse_image(service.image).major is None and any(t.layout.assumed_major for t in traps):
            findings.append(_unknown_major(service, traps, volume))
            continue
        findings.append(_misplaced(traps[0], volume, observed))
    return findings


def _misplaced(trap: Misplaced, volume: StackVolume, observed: Observation) -> Finding:
    layout, mount, service = trap.layout, trap.mount, trap.service
    where = (
        f"{service.name} ({service.image}) keeps its {layout.engine.name} data in"
        f" {layout.data_dir} ({layout.why}), on the image's own VOLUME {trap.anonymous_at},"
        f" not on {volume.key} mounted at {mount.target}"
    )
    fixes = " or ".join(trap.fixes)
    # The 18+ entrypoint's own check on that mount (images.py `refuses_mount_at`).
    refusing = layout.refuses_mount_at == mount.target.rstrip("/")
    major = parse_image(service.image).major
    existing = observed.volume(volume.name)
    size = observed.sizes.get(volume.name)
    if existing is not None and (size is None or size.holds_data):
        held = "holds data" if size is not None else "may hold data (not measured)"
        if refusing:
            consequence = (
                f"{volume.name} exists and {held}: PostgreSQL {major}'s entrypoint refuses to"
                " start with a mount there; a cluster of an older major version in it needs"
                f" pg_upgrade (or its old tag) first; otherwise {fixes}"
            )
        else:
            consequence = (
                f"{volume.name} exists and {held}, which the anonymous volume at"
                f" {trap.anonymous_at} hides from {service.name}: {fixes}"
            )
        code = "data-dir-misses-volume"
        return Finding(Status.WARN, code, f"{where}; {consequence}", volume.name)
    if existing is None:
        state = f"{volume.name} would be created and stay empty"
    else:
        state = (
            f"{volume.name} is empty: the {layout.engine.store} is on an anonymous volume already"
            " (`sidecar volumes` finds it)"
        )
    lands = (
        f"the {layout.engine.store} lands on an anonymous volume that the next `down`/`up` or"
        " image update replaces by an empty one while every health check stays green"
    )
    if refusing:
        lands = (
            f'the {major} entrypoint refuses to start ("unused mount/volume") where it sees that'
            " mount; where it misses it (Alpine images before docker-library/postgres#1409,"
            f" April 2026), {lands}"
        )
    message = f"{where}; {state}; {lands}: {fixes}"
    return Finding(Status.FAIL, "data-dir-misses-volume", message, volume.name)


def _unknown_major(service: Service, traps: list[Misplaced], volume: StackVolume) -> Finding:
    """A postgres image whose tag does not tell the layout: say so, and what each would do."""
    ref = parse_image(service.image)
    cases = "; ".join(
        f"if it is PostgreSQL {t.layout.assumed_major}"
        + (" or later" if (t.layout.assumed_major or 0) > 17 else " or earlier")
        + f", the cluster goes to {t.layout.data_dir.replace('/18/', '/MAJOR/')} on the image's"
        f" VOLUME {t.anonymous_at}, an anonymous volume, not {volume.key}"
        for t in traps
    )
    fixes = traps[0].fixes  # tried on every layout: the same for each trap
    advice = f'pin the major version in the tag ("{ref.repository}:MAJOR")' + (
        f", or {' or '.join(fixes)}" if fixes else ": preflight then names the line that fixes it"
    )
    return Finding(
        Status.WARN,
        "data-dir-unknown",
        f"{service.name} runs {service.image}, whose major version preflight cannot tell"
        f" ({ref.why_unknown()}): {cases}; {advice}",
        volume.name,
    )


def _abandoned_twin(
    stack: Stack, volume: StackVolume, existing: EngineVolume, observed: Observation
) -> list[Finding]:
    """After the incident: the stack's volume exists, but an older, larger twin does too.

    Not when the sidecar's pin or state names the stack's volume: the operator said so.
    """
    if volume.name in observed.remembered:
        return []
    size = observed.sizes.get(existing.name)
    ours = Candidate(existing, Owner(stack.project.name, True), size, ())
    here = str(stack.project.directory)
    for twin in twins(stack, volume, observed):
        if not twin.holds_data or (twin.home_exists and twin.home != here):
            continue
        remembered = twin.volume.name in observed.remembered
        if remembered or age_and_size(twin, ours) == (-1, 1):
            why = "the sidecar remembers it" if remembered else "older and larger"
            return [
                Finding(
                    Status.WARN,
                    "abandoned-twin",
                    f"{volume.name} exists, but {describe(twin)} holds the same key ({why}):"
                    " if the stack came up on a new, empty volume, `sidecar volumes` shows how"
                    " to come back",
                    volume.name,
                )
            ]
    return []


def _exists(
    volume: StackVolume, kind: str, existing: EngineVolume, observed: Observation
) -> Finding:
    created = existing.created.date().isoformat() if existing.created else "undated"
    size = observed.sizes.get(existing.name)
    measured = f", {size.describe()}" if size else ""
    return Finding(
        Status.PASS,
        "volume-exists",
        f"{kind} {volume.name} exists (created {created}{measured})",
        volume.name,
    )


def _suggested_project(stack: Stack, observed: Observation) -> str:
    """The project name to fix in the file: the one whose volumes hold the data."""
    for volume in stack.database_volumes:
        if not volume.external and observed.volume(volume.name) is None:
            holding = [c for c in twins(stack, volume, observed) if c.holds_data]
            if holding and holding[0].volume.name == f"{holding[0].owner.project}_{volume.key}":
                return holding[0].owner.project
    return stack.project.name


def _name_findings(project: Project, suggested: str) -> list[Finding]:
    if project.tool in V1_TOOLS:
        if project.origin != "directory":
            return []
        return [
            Finding(
                Status.WARN,
                "no-name",
                f"the project name {project.name} comes from the directory"
                f" {project.directory.name}; renaming or moving it creates new, empty volumes:"
                f' add "COMPOSE_PROJECT_NAME={suggested}" to {project.directory}/.env'
                ' (docker-compose v1 ignores "name:")',
            )
        ]
    if project.origin == "name":
        return []
    if project.origin == "directory":
        why = f"comes from the directory {project.directory.name}"
    else:
        why = f"comes from {project.source} ({project.name}); a start without it names it anew"
    return [
        Finding(
            Status.WARN,
            "no-name",
            f'no top-level "name:": the project name (the prefix of every volume) {why};'
            f' add "name: {suggested}" to the compose file',
        )
    ]


def _env(stack: Stack, service: Service, key: str) -> str | None:
    if key not in service.environment:
        return None
    value = service.environment[key]
    # `- KEY` without a value takes it from the environment compose runs in.
    return value if value is not None else stack.project.env.get(key)


def _data_mount(stack: Stack, sidecar: Service) -> Mount | None:
    """The sidecar's mount of a database volume (at SIDECAR_DATA_DIR when that is set)."""
    database_keys = {v.key for v in stack.database_volumes}
    data_dir = _env(stack, sidecar, "SIDECAR_DATA_DIR")
    mounts = [m for m in sidecar.mounts if m.type == "volume" and m.source in database_keys]
    if data_dir:
        at = [m for m in mounts if m.target.rstrip("/") == data_dir.rstrip("/")]
        return at[0] if at else None
    return mounts[0] if mounts else None


def _pin_findings(stack: Stack, observed: Observation) -> list[Finding]:
    findings = []
    names = {v.key: v.name for v in stack.volumes}
    for sidecar in stack.sidecars:
        text = _env(stack, sidecar, PIN)
        if not text:
            continue
        try:
            pinned = parse_pin(text).get("volume")
        except ValueError as exc:
            findings.append(
                Finding(Status.FAIL, "identity-pin", f"{PIN} of {sidecar.name} is invalid: {exc}")
            )
            continue
        mount = _data_mount(stack, sidecar)
        if pinned is None or mount is None or mount.source is None:
            continue
        actual = names[mount.source]
        if pinned == actual:
            continue
        existing = observed.volume(pinned)
        if existing is not None:
            created = existing.created.date().isoformat() if existing.created else "undated"
            size = observed.sizes.get(pinned)
            held = f"{pinned} (created {created}{', ' + size.describe() if size else ''})"
            pinned_owner = owner(existing, mount.source)
            fix = return_fix(
                stack.project, mount.source, pinned, pinned_owner.project if pinned_owner else ""
            )
            advice = f"the pinned {held} exists: {fix}"
        else:
            advice = (
                f"no volume {pinned} exists: if {actual} is meant to be the database, pin"
                f' "{PIN}: volume={actual}" (after `sidecar adopt`)'
            )
        findings.append(
            Finding(
                Status.FAIL,
                "identity-pin",
                f"{sidecar.name} pins {PIN} volume={pinned}, but this start would mount"
                f" {actual} at {mount.target}: {advice}",
                actual,
            )
        )
    return findings


def _sidecar_findings(stack: Stack) -> list[Finding]:
    data = [v for v in stack.database_volumes if any(not m.read_only for m in v.mounts)]
    if not data:
        return []
    if not stack.sidecars:
        store = data[0].engine.store if data[0].engine else "datadir"
        return [
            Finding(
                Status.WARN,
                "no-sidecar",
                f"no sidecar service watches the database: a new, empty {store} would pass"
                " every health check; add the sidecar service (compose/compose.yaml of the"
                " sidecar shows one)",
            )
        ]
    findings = []
    for sidecar in stack.sidecars:
        findings += _state_findings(stack, sidecar)
        findings += _data_findings(stack, sidecar, data[0])
        if not _env(stack, sidecar, PIN):
            findings.append(
                Finding(
                    Status.WARN,
                    "no-pin",
                    f"{sidecar.name} has no {PIN}: the identity is checked against its memory"
                    f' only; add "{PIN}: volume={data[0].name}" to its environment',
                )
            )
    gate = stack.sidecars[0].name
    for app in stack.apps:
        if app.depends_on.get(gate) != "service_healthy":
            findings.append(
                Finding(
                    Status.WARN,
                    "app-not-gated",
                    f"{app.name} starts without waiting for the sidecar's verdict: add"
                    f' "depends_on: {{{gate}: {{condition: service_healthy}}}}" to it',
                )
            )
    return findings


def _state_findings(stack: Stack, sidecar: Service) -> list[Finding]:
    state = _env(stack, sidecar, "SIDECAR_STATE_DIR")
    host_line = f'"- ./state:{state or DEFAULT_STATE_DIR}"'
    if not state:
        return [
            Finding(
                Status.WARN,
                "state",
                f"{sidecar.name} has no SIDECAR_STATE_DIR: it forgets the identity on every"
                f' restart; add "SIDECAR_STATE_DIR: {DEFAULT_STATE_DIR}" and {host_line}'
                " to its volumes",
            )
        ]
    covering = [
        m
        for m in sidecar.mounts
        if state.rstrip("/") == m.target.rstrip("/") or state.startswith(m.target.rstrip("/") + "/")
    ]
    if not covering:
        return [
            Finding(
                Status.WARN,
                "state",
                f"{sidecar.name} keeps its state in {state} inside the container: recreating it"
                f" forgets the identity; add {host_line} to its volumes",
            )
        ]
    mount = max(covering, key=lambda m: len(m.target))
    if mount.type != "volume":
        return []
    return [
        Finding(
            Status.WARN,
            "state",
            f"{sidecar.name} keeps its state in the named volume {mount.source}: it is renamed,"
            f" and forgotten, together with the data volume; mount a host path instead:"
            f" {host_line}",
        )
    ]


def _data_findings(stack: Stack, sidecar: Service, data: StackVolume) -> list[Finding]:
    data_dir = _env(stack, sidecar, "SIDECAR_DATA_DIR")
    target = data_dir or data.data_target
    mounts = [m for m in sidecar.mounts if m.type == "volume" and m.source == data.key]
    if not mounts:
        problem = "is not mounted into"
    elif not any(m.read_only for m in mounts):
        problem = "is mounted read-write into"
    elif not data_dir:
        ro = next(m for m in mounts if m.read_only)
        return [
            Finding(
                Status.WARN,
                "data-volume",
                f"{sidecar.name} mounts {data.key} read-only at {ro.target} but has no"
                f' SIDECAR_DATA_DIR: add "SIDECAR_DATA_DIR: {ro.target}" to its environment',
            )
        ]
    else:
        return []
    return [
        Finding(
            Status.WARN,
            "data-volume",
            f"the data volume {data.key} {problem} {sidecar.name}, so it cannot see which volume"
            f' the database runs on: add "- {data.key}:{target}:ro" to its volumes'
            + ("" if data_dir else f' and "SIDECAR_DATA_DIR: {target}" to its environment'),
        )
    ]
