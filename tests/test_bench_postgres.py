"""`python -m bench.postgres --quick` still runs end to end (about 40 s): a real cluster with
statement logging, the sidecar and Debian's prometheus-postgres-exporter side by side, and a
sidecar on MariaDB beside the one on PostgreSQL.

This checks the harness and the one property that does not depend on the machine (probes of
the sidecar cause no statements; the exporter's scrapes do), not the figures: those are in
docs/benchmarks.md.
"""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.postgres import EXPORTER, EXPORTER_ROLE, HEADING
from sidecar.demo.postgres import SUPERUSER_PASSWORD, bin_dir
from tests.load.test_bench_smoke import run_bench
from tests.support.postgres_app import MONITOR_PASSWORD

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None or not Path(EXPORTER).exists(),
    reason="wrk or prometheus-postgres-exporter is not installed",
)


@pytest.fixture
def scratch() -> Iterator[Path]:
    """Where the run writes, under /tmp and open to the `postgres` user (a test's tmp_path sits
    under a root-only directory the server could not enter); removed after the test."""
    bin_dir()  # PostgreSQL installed, or a clear error
    path = Path(tempfile.mkdtemp(prefix="sidecar-bench-postgres-test-", dir="/tmp"))
    path.chmod(0o755)
    (path / "tmp").mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _row(report: str, label: str) -> list[str]:
    line = next(line for line in report.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_quick_postgres_bench_writes_its_section_and_keeps_the_rest(scratch: Path) -> None:
    output = scratch / "benchmarks.md"
    output.write_text("# Benchmarks\n\nwritten by python -m bench\n")
    result = run_bench("bench.postgres", scratch, "--output", str(output))
    assert result.returncode == 0, result.stderr[-3000:]
    report = output.read_text()
    assert report.startswith("# Benchmarks\n\nwritten by python -m bench\n")
    assert HEADING in report
    assert "| 1,000 |" in report and "| 20,000 |" in report
    assert "| PostgreSQL |" in report and "| MariaDB |" in report
    assert "nan" not in report.lower()

    # columns: window, seconds, requests, cycles, monitor, per cycle, exporter, per scrape
    hammered = _row(report, "sidecar /health under wrk")
    probes, cycles, sidecar = (int(hammered[i].replace(",", "")) for i in (2, 3, 4))
    assert probes > 1_000 and sidecar <= 10 * (cycles + 1), hammered  # the schedule's only
    scraped = _row(report, "exporter /metrics under wrk")
    scrapes, statements = int(scraped[2].replace(",", "")), int(scraped[6].replace(",", ""))
    assert scrapes > 0 and statements >= scrapes, scraped  # at least one per scrape

    for secret in (MONITOR_PASSWORD, EXPORTER_ROLE[1], SUPERUSER_PASSWORD):
        assert secret not in report + result.stdout + result.stderr
