"""`sidecar check`: one evaluation for a person, a deploy script or Nagios/Icinga.

Output follows the monitoring-plugins convention: one status line with perfdata after `|`,
then one line per check; exit 0 pass, 1 warn, 2 fail, 3 when it could not evaluate.
"""

import asyncio
import json

from sidecar import health
from sidecar.config import ResolvedConfig
from sidecar.durations import approximate
from sidecar.plural import counted
from sidecar.results import CheckResult, ExitCode, Report, Status
from sidecar.service import Service
from sidecar.state import Memory

_LABELS = {Status.PASS: "OK", Status.WARN: "WARNING", Status.FAIL: "CRITICAL"}


async def evaluate(config: ResolvedConfig, memory: Memory | None = None) -> tuple[Report, Memory]:
    """Run one cycle and release everything; return the report and a memory.

    Without `memory` the state directory's memory is used (and saved) and returned. With it,
    that memory is used instead, nothing is written, and what the cycle observed is returned
    even where checks failed: `adopt` and `snapshot` record the database as it is.
    """
    async with Service(config, memory) as service:
        report = await service.evaluate_once()
        evaluator = service.evaluator
        return report, evaluator.memory if memory is None else evaluator.observed


def perfdata(report: Report) -> str:
    """Nagios performance data, as each check hands it out."""
    return " ".join(datum.render() for check in report.checks for datum in check.perfdata)


def status_line(report: Report) -> str:
    """`SIDECAR CRITICAL - reasons | perfdata`."""
    reasons = report.reasons()
    summary = "; ".join(reasons) if reasons else f"{counted(len(report.checks), 'check')} pass"
    line = f"SIDECAR {_LABELS[report.status]} - {summary}"
    data = perfdata(report)
    return f"{line} | {data}" if data else line


def _check_line(check: CheckResult) -> str:
    value = "-" if check.observed_value is None else f"{check.observed_value} {check.observed_unit}"
    if check.observed_unit == "s" and isinstance(check.observed_value, int | float):
        value = approximate(check.observed_value)  # `1d 2h`, not `87721.302 s`
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
