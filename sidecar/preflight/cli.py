"""`sidecar preflight` and `sidecar volumes`: their arguments, the run, and the exit code (the
commands themselves are rows of the command table in `sidecar/cli.py`).

Exit codes as `sidecar check`: 0 pass, 1 warn, 2 fail, 3 could not evaluate (an unreadable
compose file, a feature preflight cannot resolve, a missing or failing engine, a bad
argument), each of the last as one line on stderr and never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sidecar.preflight.engines import ENGINES
from sidecar.preflight.errors import PreflightError
from sidecar.preflight.tools import DEFAULT_TOOLS, Tool

# The rest (PyYAML, the sidecar's state and identity modules) is imported by the commands
# themselves: `sidecar --help` builds these parsers and should not pay for them.
if TYPE_CHECKING:
    from sidecar.preflight.project import Invocation
    from sidecar.preflight.recover import RememberedVolumes
    from sidecar.preflight.stack import Stack
    from sidecar.preflight.verdict import Observation

EXIT_UNKNOWN = 3


def add_preflight_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `sidecar preflight`: the compose tool's own, and where to look."""
    parser.add_argument(
        "-f", "--file", action="append", default=[], help="compose file (repeatable)"
    )
    parser.add_argument("--project-directory", help="as the compose tool's flag")
    parser.add_argument("-p", "--project-name", help="as the compose tool's flag")
    parser.add_argument(
        "--env-file", action="append", default=[], help="as the compose tool's flag"
    )
    parser.add_argument(
        "--engine", choices=ENGINES, help="container engine (default: podman, else docker)"
    )
    parser.add_argument(
        "--tool",
        choices=[str(t) for t in Tool],
        help="compose tool whose naming rules apply (default: podman-compose with podman,"
        " compose (v2) with docker)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="the sidecar's state directory on the host, to read the volume it remembers"
        " (default: the sidecar's bind mount for SIDECAR_STATE_DIR in the compose file)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def add_volumes_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `sidecar volumes`: preflight's, and where the backups are."""
    add_preflight_arguments(parser)
    parser.add_argument(
        "--backup-dir",
        type=Path,
        help="where the backups are, to name the one to restore (default: the sidecar's"
        " bind mount for SIDECAR_BACKUP_DIR in the compose file)",
    )


def _invocation(options: argparse.Namespace) -> Invocation:
    from sidecar.preflight.project import Invocation

    return Invocation.here(
        files=tuple(options.file),
        project_directory=options.project_directory,
        project_name=options.project_name,
        env_files=tuple(options.env_file),
    )


def _observe(options: argparse.Namespace) -> tuple[Stack, Observation, RememberedVolumes]:
    from sidecar.preflight.engines import pick_engine
    from sidecar.preflight.recover import remembered
    from sidecar.preflight.sizes import measure
    from sidecar.preflight.stack import load_stack
    from sidecar.preflight.verdict import Observation, volumes_to_measure

    invocation = _invocation(options)
    engine = pick_engine(options.engine)
    tool = Tool(options.tool) if options.tool else DEFAULT_TOOLS[engine.name]
    stack = load_stack(tool, invocation)
    volumes = tuple(engine.volumes())
    containers = tuple(engine.containers())
    sizes = {v.name: measure(v.mountpoint) for v in volumes_to_measure(stack, volumes)}
    memory = remembered(stack, options.state_dir)
    observed = Observation(engine.name, volumes, containers, sizes, frozenset(memory.volumes))
    return stack, observed, memory


def _names_by_tool(invocation: Invocation) -> dict[str, str]:
    from sidecar.preflight.project import resolve

    names = {}
    for tool in Tool:
        try:
            names[str(tool)] = resolve(tool, invocation).name
        except PreflightError as exc:
            names[str(tool)] = f"error: {exc}"
    return names


def run_preflight(options: argparse.Namespace) -> int:
    """Judge the start; print; return the exit code."""
    from sidecar.preflight import render
    from sidecar.preflight.verdict import judge

    try:
        stack, observed, _ = _observe(options)
        findings = judge(stack, observed)
        if options.json:
            names = _names_by_tool(_invocation(options))
            _print_json(render.preflight_json(stack, observed, findings, names))
        else:
            print("\n".join(render.preflight_text(stack, observed, findings)))
        return render.exit_code([f.status for f in findings])
    except PreflightError as exc:
        return _unknown("preflight", exc, options.json)


def run_volumes(options: argparse.Namespace) -> int:
    """Compare the twins; print; return the exit code."""
    from sidecar.preflight import render
    from sidecar.preflight.backups import backup_note
    from sidecar.preflight.recover import compare

    try:
        stack, observed, memory = _observe(options)
        reports = compare(stack, observed, memory)
        note = backup_note(stack, options.backup_dir, memory.state, memory.state_dir)
        if options.json:
            document = render.volumes_json(stack, observed, reports, memory)
            if note is not None:
                document["backups"] = {
                    "directory": str(note.directory),
                    "restoreCandidate": note.candidate,
                    "lines": list(note.lines),
                }
            _print_json(document)
        else:
            lines = render.volumes_text(stack, observed, reports, memory)
            print("\n".join([*lines, *(note.lines if note is not None else ())]))
        return render.exit_code([r.status for r in reports])
    except PreflightError as exc:
        return _unknown("volumes", exc, options.json)


def _print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2))


def _unknown(command: str, exc: PreflightError, as_json: bool) -> int:
    print(f"sidecar {command}: {exc}", file=sys.stderr)
    if as_json:
        _print_json({"status": "unknown", "error": str(exc)})
    return EXIT_UNKNOWN
