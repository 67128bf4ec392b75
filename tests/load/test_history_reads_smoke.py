"""`python -m bench.history_reads --quick` still runs end to end (about 40 s): the baseline
commit and this checkout serve a year of history side by side while `/livez` is sampled.

This checks the harness, not the figures (those are in docs/benchmarks.md).
"""

import shutil
from pathlib import Path

import pytest

from tests.load.test_bench_smoke import run_bench


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_quick_history_reads_bench_writes_its_section_and_keeps_the_rest(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    output.write_text("# Benchmarks\n\nwritten by python -m bench\n")
    result = run_bench("bench.history_reads", tmp_path, "--output", str(output))
    assert result.returncode == 0, result.stderr[-3000:]
    report = output.read_text()
    assert report.startswith("# Benchmarks\n\nwritten by python -m bench\n")
    assert "## History reads: `/livez` while 30 clients read a year of `/history`" in report
    for row in ("| idle: this checkout", "| before (5210321", "| after (this checkout) |"):
        assert row in report, row
    assert "nan" not in report.lower()
    assert not list(Path("/tmp").glob("sidecar-bench-history-*/history"))  # cleaned up
