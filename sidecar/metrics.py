"""`/metrics`: built at scrape time from the latest report, on the app's own registry."""

from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sidecar import __version__
from sidecar.monitor import Monitor


class ReportCollector(Collector):
    """Turns the monitor's current report into metric families."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterable[Metric]:
        """Metric families for one scrape."""
        monitor = self.monitor
        report = monitor.current()
        yield GaugeMetricFamily("sidecar_up", "1 while the sidecar answers", value=1)
        info = GaugeMetricFamily("sidecar_build_info", "Build information", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        yield GaugeMetricFamily(
            "sidecar_verdict",
            "Overall verdict: 0 pass, 1 warn, 2 fail",
            value=report.status.severity,
        )
        status = GaugeMetricFamily(
            "sidecar_check_status", "Check status: 0 pass, 1 warn, 2 fail", labels=["check"]
        )
        duration = GaugeMetricFamily(
            "sidecar_check_duration_seconds", "Duration of the check's last run", labels=["check"]
        )
        rows = GaugeMetricFamily("sidecar_table_rows", "Rows in the table", labels=["table"])
        estimated = GaugeMetricFamily(
            "sidecar_table_rows_estimated",
            "1 when sidecar_table_rows is InnoDB's estimate, 0 when exact",
            labels=["table"],
        )
        high_water = GaugeMetricFamily(
            "sidecar_table_rows_high_water", "Remembered high-water row count", labels=["table"]
        )
        newest = GaugeMetricFamily(
            "sidecar_table_latest_record_timestamp_seconds",
            "Unix time of the newest record",
            labels=["table"],
        )
        age = GaugeMetricFamily(
            "sidecar_table_latest_record_age_seconds", "Age of the newest record", labels=["table"]
        )
        identity = GaugeMetricFamily(
            "sidecar_identity_match", "1 when the storage identity matches, 0 when it differs"
        )
        for check in report.checks:
            status.add_metric([check.key], check.status.severity)
            duration.add_metric([check.key], check.duration)
            component, _, measurement = check.key.partition(":")
            value = check.observed_value
            if measurement == "rowCount" and isinstance(value, int):
                rows.add_metric([component], value)
                estimated.add_metric([component], int(check.details.get("countKind") == "estimate"))
                if check.details.get("highWater"):
                    high_water.add_metric([component], check.details["highWater"])
            elif measurement == "latestRecord" and isinstance(value, int | float):
                age.add_metric([component], value)
                newest.add_metric([component], check.time - value)
            elif check.key == "volume:identity" and "match" in check.details:
                identity.add_metric([], check.details["match"])
        yield from (status, duration, rows, estimated, high_water, newest, age, identity)
        if monitor.latest is not None:
            yield GaugeMetricFamily(
                "sidecar_last_cycle_timestamp_seconds",
                "Unix time the last check cycle completed",
                value=monitor.latest.finished,
            )
        yield GaugeMetricFamily(
            "sidecar_cycle_duration_seconds",
            "Duration of the last check cycle",
            value=monitor.last_cycle_seconds,
        )
        yield CounterMetricFamily("sidecar_cycles", "Check cycles completed", value=monitor.cycles)
        yield CounterMetricFamily(
            "sidecar_cycle_errors",
            "Check cycles that failed to complete",
            value=monitor.cycle_errors,
        )


def build_registry(monitor: Monitor) -> CollectorRegistry:
    """A fresh registry holding only this monitor's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(monitor))
    return registry
