"""`sidecar snapshot` and `sidecar verify`: the deployment checklist as two commands.

Before a restart, `snapshot --out FILE` records the identity (volume name, datadir, sentinel,
...), every table's row count and newest record. After it, `verify --against FILE` evaluates
with that snapshot as the memory and prints what changed: "volume changed from
shop_mariadb_data to shop2_mariadb_data", "User rows 14 -> 1 (-93%)". Exit 0/1/2 as
`sidecar check`, 3 when the snapshot or configuration is unusable or cannot be written.
"""

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from sidecar.checks.continuity import RowCount
from sidecar.checks.volume_identity import IdentityObservation
from sidecar.commands.check import evaluate, status_line
from sidecar.config import ConfigError, ResolvedConfig
from sidecar.identity.registry import PINNABLE
from sidecar.results import ExitCode, Report
from sidecar.state import IdentityValue, Memory, StateError
from sidecar.timestamps import iso

SNAPSHOT_FORMAT = "sidecar-snapshot/1"


def _rows(report: Report) -> dict[str, int]:
    return {seen.table: seen.count for seen in report.observations(RowCount)}


def _identity(report: Report) -> dict[str, IdentityValue]:
    """The pinnable identity values this cycle read."""
    values: dict[str, IdentityValue] = {}
    for seen in report.observations(IdentityObservation):
        values.update(seen.values())
    return {name: values[name] for name in PINNABLE if name in values}


def take(config: ResolvedConfig, out: str) -> int:
    """Write a snapshot of identity, counts and newest records to `out`."""
    report, memory = asyncio.run(evaluate(config, Memory()))
    document: dict[str, Any] = {
        "format": SNAPSHOT_FORMAT,
        "taken_at": iso(report.finished),
        "verdict": str(report.status),
        "rows": _rows(report),
        "memory": memory.to_json(),
    }
    path = Path(out)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        print(f"sidecar snapshot: cannot write {out}: {exc.strerror}", file=sys.stderr)
        return int(ExitCode.UNKNOWN)
    print(f"snapshot written to {out}: {status_line(report)}")
    for name, value in _identity(report).items():
        print(f"  identity {name}: {value}")
    for name, count in document["rows"].items():
        print(f"  {name}: {count} rows")
    return int(ExitCode(report.status.severity))


def _load(against: str) -> tuple[dict[str, Any], Memory]:
    try:
        document = json.loads(Path(against).read_text())
    except OSError as exc:
        raise ConfigError("--against", f"cannot read {against}: {exc.strerror}") from None
    except json.JSONDecodeError:
        raise ConfigError("--against", f"{against} is not a snapshot (not JSON)") from None
    if not isinstance(document, dict) or document.get("format") != SNAPSHOT_FORMAT:
        raise ConfigError("--against", f"{against} is not a {SNAPSHOT_FORMAT} file")
    try:
        memory = Memory.from_json(document["memory"])
    except (StateError, KeyError) as exc:
        raise ConfigError("--against", f"{against} is damaged: {exc}") from None
    return document, memory


def _diff(before: dict[str, Any], memory: Memory, report: Report) -> list[str]:
    lines = []
    now_identity = _identity(report)
    for name, value in memory.identity.items():
        now = now_identity.get(name)
        if now is not None and str(now) != str(value):
            lines.append(f"identity {name} changed: {value} -> {now}")
    rows_now = _rows(report)
    for name, count in before.get("rows", {}).items():
        now_rows = rows_now.get(name)
        if now_rows != count:
            if isinstance(count, int) and isinstance(now_rows, int) and count:
                change = (now_rows - count) / count
                lines.append(f"{name} rows {count} -> {now_rows} ({change:+.0%})")
            else:
                shown = now_rows if now_rows is not None else "unknown"
                lines.append(f"{name} rows {count} -> {shown}")
    return lines


def verify(config: ResolvedConfig, against: str) -> int:
    """Evaluate with the snapshot as memory; print the differences; exit like `check`."""
    before, memory = _load(against)
    # One cycle with the snapshot as memory: its checks judge, its results give the diff.
    # (The evaluator learns into a copy, so `memory` still holds the snapshot afterwards.)
    report, _ = asyncio.run(evaluate(config, memory))
    print(f"verify against {against} (taken {before.get('taken_at')}): {status_line(report)}")
    changes = _diff(before, memory, report)
    for line in changes or ["no change in identity or row counts"]:
        print(f"  {line}")
    for reason in report.reasons():
        print(f"  {reason}")
    return int(ExitCode(report.status.severity))
