"""What `sidecar preflight` and `sidecar volumes` print: one line per finding, or JSON."""

from typing import Any

from sidecar.preflight.anonymous import Cluster
from sidecar.preflight.engines import EngineVolume
from sidecar.preflight.project import Project
from sidecar.preflight.recover import KeyReport, RememberedVolumes, Row
from sidecar.preflight.sizes import Size
from sidecar.preflight.stack import Stack
from sidecar.preflight.verdict import Finding, Observation
from sidecar.results import Status, worst


def project_line(project: Project, engine: str) -> str:
    """`project NAME (SOURCE; TOOL rules; engine ENGINE)`."""
    return f"project {project.name} ({project.source}; {project.tool.label} rules; engine {engine})"


def preflight_text(stack: Stack, observed: Observation, findings: list[Finding]) -> list[str]:
    """The project line, then `fail: ...` / `warn: ...` / `pass: ...` lines."""
    return [project_line(stack.project, observed.engine)] + [
        f"{f.status}: {f.message}" for f in findings
    ]


def preflight_json(
    stack: Stack, observed: Observation, findings: list[Finding], names: dict[str, str]
) -> dict[str, Any]:
    """The machine-readable verdict."""
    return {
        "status": str(worst([f.status for f in findings])),
        "project": _project(stack.project),
        "engine": observed.engine,
        "volumes": [
            {
                "key": v.key,
                "name": v.name,
                "database": v.database,
                "engine": v.engine.name if v.engine else None,
                "external": v.external,
                "mounts": [
                    {"service": m.service, "target": m.target, "readOnly": m.read_only}
                    for m in v.mounts
                ],
                "existing": _volume(observed.volume(v.name), observed.sizes.get(v.name)),
            }
            for v in stack.volumes
        ],
        "findings": [
            {"status": str(f.status), "code": f.code, "message": f.message, "volume": f.volume}
            for f in findings
        ],
        "namesByTool": names,
    }


def volumes_text(
    stack: Stack, observed: Observation, reports: list[KeyReport], memory: RememberedVolumes
) -> list[str]:
    """Each key's twins in a table, the verdict, and the steps back."""
    lines = [project_line(stack.project, observed.engine)]
    lines += [f"note: {note}" for note in memory.notes]
    if not reports:
        lines.append("pass: the stack mounts no database volume")
    for report in reports:
        lines.append(f"volume key {report.volume.key}:")
        names = [r.candidate.volume.name for r in report.rows]
        names += [cluster.volume.name for cluster, _ in report.clusters]
        width = max(map(len, names), default=0)
        for index, row in enumerate(report.rows):
            lines.append("  " + _row(row, width, likely=index == 0 and not row.current))
        for index, (cluster, size) in enumerate(report.clusters):
            lines.append("  " + _cluster_row(cluster, size, width, likely=index == 0))
        lines.append(f"{report.status}: {report.summary}")
        lines += [f"  {n}. {step}" for n, step in enumerate(report.steps, 1)]
    return lines


def _row(row: Row, width: int, likely: bool) -> str:
    c = row.candidate
    created = c.volume.created.date().isoformat() if c.volume.created else "undated"
    size = c.size.describe() if c.size else "not measured"
    notes = [f"project {c.owner.project}" + ("" if c.owner.by_label else " (by its name)")]
    if c.users:
        notes.append("in use by " + ", ".join(c.users))
    if row.current:
        notes.append("<- this stack mounts it")
    if row.remembered:
        notes.append(f"remembered by {row.remembered}")
    if likely:
        notes.append("<- likely your data")
    return f"{c.volume.name:<{width}}  created {created}  {size:>12}  " + "; ".join(notes)


def _cluster_row(cluster: Cluster, size: Size, width: int, likely: bool) -> str:
    volume = cluster.volume
    created = volume.created.date().isoformat() if volume.created else "undated"
    notes = ["anonymous", cluster.shown]
    if cluster.mounted_by:
        notes.append(f"mounted at {cluster.mounted_at} by {', '.join(cluster.mounted_by)}")
    if likely:
        notes.append("<- likely your cluster")
    return f"{volume.name:<{width}}  created {created}  {size.describe():>12}  " + "; ".join(notes)


def volumes_json(
    stack: Stack, observed: Observation, reports: list[KeyReport], memory: RememberedVolumes
) -> dict[str, Any]:
    """The machine-readable comparison."""
    return {
        "status": str(worst([r.status for r in reports])),
        "project": _project(stack.project),
        "engine": observed.engine,
        "remembered": memory.volumes,
        "notes": list(memory.notes),
        "keys": [
            {
                "key": r.volume.key,
                "stackVolume": r.volume.name,
                "status": str(r.status),
                "summary": r.summary,
                "likely": r.rows[0].candidate.volume.name if r.rows else None,
                "volumes": [
                    {
                        **_existing(row.candidate.volume, row.candidate.size),
                        "project": row.candidate.owner.project,
                        "projectFromLabel": row.candidate.owner.by_label,
                        "inUseBy": list(row.candidate.users),
                        "current": row.current,
                        "remembered": row.remembered or None,
                    }
                    for row in r.rows
                ],
                "steps": list(r.steps),
                "anonymousClusters": [
                    {
                        **_existing(cluster.volume, size),
                        "directory": cluster.directory,
                        "version": cluster.version or None,
                        "mountedBy": list(cluster.mounted_by),
                        "mountedAt": cluster.mounted_at or None,
                    }
                    for cluster, size in r.clusters
                ],
            }
            for r in reports
        ],
    }


def _project(project: Project) -> dict[str, Any]:
    return {
        "name": project.name,
        "source": project.source,
        "origin": project.origin,
        "tool": str(project.tool),
        "directory": str(project.directory),
        "files": [str(f) for f in project.files],
    }


def _volume(volume: EngineVolume | None, size: Size | None) -> dict[str, Any] | None:
    return None if volume is None else _existing(volume, size)


def _existing(volume: EngineVolume, size: Size | None) -> dict[str, Any]:
    return {
        "name": volume.name,
        "created": volume.created.isoformat() if volume.created else None,
        "mountpoint": volume.mountpoint,
        "labels": volume.labels,
        "sizeBytes": size.bytes if size else None,
        "sizeComplete": size.complete if size else None,
        "entries": size.entries if size else None,
    }


def exit_code(statuses: list[Status]) -> int:
    """0 pass, 1 warn, 2 fail."""
    return worst(statuses).severity
