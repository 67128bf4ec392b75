"""Rendering a report as `application/health+json` (draft-inadarei-api-health-check).

`status` comes first; `checks` are keyed `component:measurement`, each an array of one object
with `status`, `observedValue`, `observedUnit`, `time`, `output` and the expectation, plus flat
extras (row count kind, newest record, identity `match`) so Gatus and Uptime Kuma can assert
without date arithmetic. Nothing here names a host, a user or a password.
"""

import json
from typing import Any

from sidecar import __version__
from sidecar.results import CheckResult, Report
from sidecar.timestamps import iso

MEDIA_TYPE = "application/health+json"


def check_document(check: CheckResult) -> dict[str, Any]:
    """One check as the draft's check object."""
    document: dict[str, Any] = {
        "status": str(check.status),
        "observedValue": check.observed_value,
        "observedUnit": check.observed_unit,
        "time": iso(check.time, "seconds"),
    }
    if check.output:
        document["output"] = check.output
    if check.expected:
        document["expected"] = check.expected
    document.update(check.details)
    return document


def health_document(report: Report, details: bool = True) -> dict[str, Any]:
    """The whole body; with `details=False` only the status (anonymous callers)."""
    document: dict[str, Any] = {"status": str(report.status)}
    if not details:
        return document
    document["version"] = "1"
    document["releaseId"] = __version__
    document["description"] = "sidecar: is this database really ours, with our data in it?"
    reasons = report.reasons()
    if reasons:
        document["output"] = "; ".join(reasons)
    if report.checks:
        document["time"] = iso(report.finished, "seconds")
    document["checks"] = {c.key: [check_document(c)] for c in report.checks}
    return document


def render(report: Report, details: bool = True) -> bytes:
    """The body as compact UTF-8 JSON."""
    return json.dumps(health_document(report, details), separators=(",", ":")).encode()
