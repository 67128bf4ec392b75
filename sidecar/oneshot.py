"""`sidecar check`: one evaluation for a person, a deploy script or Nagios/Icinga.

Output follows the monitoring-plugins convention: one status line with perfdata after `|`,
then one line per check; exit 0 pass, 1 warn, 2 fail, 3 when it could not evaluate.
"""

import asyncio
import json
import re

from sidecar import health
from sidecar.config import ResolvedConfig
from sidecar.evaluator import Evaluator
from sidecar.results import CheckResult, ExitCode, Report, Status
from sidecar.state import Memory, StateStore

_LABELS = {Status.PASS: "OK", Status.WARN: "WARNING", Status.FAIL: "CRITICAL"}
_UNITS = {"ms": "ms", "s": "s", "rows": ""}


async def evaluate(config: ResolvedConfig, memory: Memory | None = None) -> tuple[Report, Memory]:
    """Run one cycle and release everything; return the report and a memory.

    Without `memory` the state directory's memory is used (and saved) and returned. With it,
    that memory is used instead, nothing is written, and what the cycle observed is returned
    even where checks failed: `adopt` and `snapshot` record the database as it is.
    """
    if memory is None:
        evaluator = Evaluator(config)
    else:
        evaluator = Evaluator(config, store=StateStore(None))
        evaluator.memory = memory
    try:
        report = await evaluator.run_cycle()
        return report, evaluator.memory if memory is None else evaluator.observed
    finally:
        await evaluator.aclose()


def _perf_label(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_:.-]", "_", key)


def perfdata(report: Report) -> str:
    """Nagios performance data for the numeric observations."""
    items = []
    for check in report.checks:
        value = check.observed_value
        label = _perf_label(check.key)
        if check.key == "volume:identity" and "match" in check.details:
            items.append(f"'{label}'={check.details['match']};;1:")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            unit = _UNITS.get(check.observed_unit, "")
            floor = check.expected.get("atLeast", check.expected.get("minRows"))
            critical = f"{floor}:" if isinstance(floor, int) and floor else ""
            items.append(f"'{label}'={value}{unit};;{critical}")
    return " ".join(items)


def status_line(report: Report) -> str:
    """`SIDECAR CRITICAL - reasons | perfdata`."""
    reasons = report.reasons()
    summary = "; ".join(reasons) if reasons else f"{len(report.checks)} checks pass"
    line = f"SIDECAR {_LABELS[report.status]} - {summary}"
    data = perfdata(report)
    return f"{line} | {data}" if data else line


def _check_line(check: CheckResult) -> str:
    value = "-" if check.observed_value is None else f"{check.observed_value} {check.observed_unit}"
    line = f"{check.key:<28} {check.status!s:<5} {value}"
    return f"{line}  ({check.output})" if check.output else line


def check(config: ResolvedConfig, as_json: bool = False) -> int:
    """Evaluate once, print, and return the monitoring-plugins exit code."""
    report, _ = asyncio.run(evaluate(config))
    if as_json:
        print(json.dumps(health.health_document(report), indent=2))
    else:
        print(status_line(report))
        for item in report.checks:
            print(_check_line(item))
    return int(ExitCode(report.status.severity))
