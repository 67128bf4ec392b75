"""`/metrics`: built at scrape time from the latest report, on the app's own registry.

Each check hands out its own samples (of families it declares); this module adds what every
check has (status, duration) and what the service knows (verdict, cycles, notifications), and
groups the samples into families. It knows no check by name.
"""

from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sidecar import __version__
from sidecar.alerts import Notifier
from sidecar.results import Family, Report, Sample
from sidecar.scheduler import Scheduler

BUILD = Family("sidecar_build_info", "Build information", ("version",))
VERDICT = Family("sidecar_verdict", "Overall verdict: 0 pass, 1 warn, 2 fail")
CHECK_STATUS = Family(
    "sidecar_check_status", "Check status: 0 pass, 1 warn, 2 fail", ("check", "table")
)
CHECK_DURATION = Family(
    "sidecar_check_duration_seconds", "Duration of the check's last run", ("check", "table")
)
LAST_CYCLE = Family(
    "sidecar_last_cycle_timestamp_seconds", "Unix time the last check cycle completed"
)
CYCLE_DURATION = Family("sidecar_cycle_duration_seconds", "Duration of the last check cycle")
CYCLES = Family("sidecar_cycles", "Check cycles completed", kind="counter")
CYCLE_ERRORS = Family(
    "sidecar_cycle_errors", "Check cycles that failed to complete", kind="counter"
)
NOTIFICATIONS = Family(
    "sidecar_notifications",
    "Webhook and push notifications, by outcome",
    ("outcome",),
    kind="counter",
)


def report_samples(report: Report) -> list[Sample]:
    """Every check's status and duration, then the samples each check handed out."""
    samples = [Sample(VERDICT, report.status.severity)]
    for check in report.checks:
        labels = tuple(value for _, value in check.labels)
        samples.append(Sample(CHECK_STATUS, check.status.severity, labels))
        samples.append(Sample(CHECK_DURATION, check.duration, labels))
    for check in report.checks:
        samples.extend(check.samples)
    return samples


def families(samples: Iterable[Sample]) -> Iterable[Metric]:
    """Group samples into Prometheus metric families, in the order families first appear."""
    grouped: dict[Family, list[Sample]] = {}
    for sample in samples:
        grouped.setdefault(sample.family, []).append(sample)
    for family, members in grouped.items():
        kind = CounterMetricFamily if family.kind == "counter" else GaugeMetricFamily
        metric = kind(family.name, family.help, labels=list(family.labels))
        for sample in members:
            metric.add_metric(list(sample.labels), sample.value)
        yield metric


class ReportCollector(Collector):
    """Turns the scheduler's current report (and the service's counters) into metric families."""

    def __init__(self, scheduler: Scheduler, notifier: Notifier) -> None:
        self.scheduler = scheduler
        self.notifier = notifier

    def collect(self) -> Iterable[Metric]:
        """Metric families for one scrape."""
        scheduler = self.scheduler
        samples = [Sample(BUILD, 1, (__version__,))]
        samples += report_samples(scheduler.current())
        if scheduler.latest is not None:
            samples.append(Sample(LAST_CYCLE, scheduler.latest.finished))
        samples += [
            Sample(CYCLE_DURATION, scheduler.last_cycle_seconds),
            Sample(CYCLES, scheduler.cycles),
            Sample(CYCLE_ERRORS, scheduler.cycle_errors),
        ]
        if self.notifier.enabled:
            samples += [
                Sample(NOTIFICATIONS, self.notifier.delivered, ("delivered",)),
                Sample(NOTIFICATIONS, self.notifier.failed, ("failed",)),
            ]
        yield from families(samples)


def build_registry(scheduler: Scheduler, notifier: Notifier) -> CollectorRegistry:
    """A fresh registry holding only this service's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(scheduler, notifier))
    return registry
