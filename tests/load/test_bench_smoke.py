"""The benchmark harnesses still run end to end (`python -m bench --quick`, about 25 s;
`python -m bench.http_impl --quick`, about 30 s).

This checks that the harness works, not the figures: targets are measured in a full run
(docs/benchmarks.md), never asserted in a timed unit test.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """Where a bench run writes (its MariaDB, dumps, histories: 67 MB), removed after the test:
    the benches leave their work directories to be looked at, which a test run must not."""
    path = tmp_path / "scratch"
    (path / "tmp").mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        assert not path.exists()


def run_bench(module: str, scratch: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE --quick ARGS` from the checkout, with no SIDECAR_* settings around;
    its cache and its temporary directories (TMPDIR) in `scratch`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    env["TMPDIR"] = str(scratch / "tmp")
    return subprocess.run(
        [sys.executable, "-m", module, "--quick", "--cache-dir", str(scratch / "cache"), *args],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_quick_bench_writes_a_report(scratch: Path) -> None:
    """`--quick` seeds a small table, runs every measurement and writes every section."""
    output = scratch / "benchmarks.md"
    result = run_bench("bench", scratch, "--output", str(output))
    assert result.returncode == 0, result.stderr[-3000:]
    report = output.read_text()
    for heading in ("## Targets", "## 1.", "## 2.", "## 3.", "## 4.", "## 5."):
        assert heading in report, heading
    assert "| sidecar idle |" in report and "| `sidecar probe` |" in report
    assert "nan" not in report.lower()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_quick_http_impl_bench_writes_its_section_and_keeps_the_rest(scratch: Path) -> None:
    """`bench.http_impl` replaces only its own section; a full `bench` run keeps it."""
    output = scratch / "benchmarks.md"
    output.write_text("# Benchmarks\n\nwritten by python -m bench\n")
    result = run_bench("bench.http_impl", scratch, "--output", str(output))
    assert result.returncode == 0, result.stderr[-3000:]
    report = output.read_text()
    assert report.startswith("# Benchmarks\n\nwritten by python -m bench\n")
    assert "## HTTP server implementation" in report
    assert "| before (baseline): h11 + asyncio, no deadline, no cap |" in report
    assert "(chosen)" in report and "**Chosen:" in report
    assert "nan" not in report.lower()


def test_quick_backup_bench_writes_its_section_and_keeps_the_rest(scratch: Path) -> None:
    """`bench.backups` measures a small dump and replaces only its own section."""
    output = scratch / "benchmarks.md"
    output.write_text("# Benchmarks\n\nwritten by python -m bench\n")
    result = run_bench("bench.backups", scratch, "--output", str(output))
    assert result.returncode == 0, result.stderr[-3000:]
    report = output.read_text()
    assert report.startswith("# Benchmarks\n\nwritten by python -m bench\n")
    assert "## Reading backups" in report and "| `zcat \\| wc -l` |" in report
    assert "nan" not in report.lower()


def test_quick_statuspage_bench_writes_its_section_and_keeps_the_rest(scratch: Path) -> None:
    """`bench.statuspage` (render time, the history after a simulated stretch) owns a section."""
    output = scratch / "benchmarks.md"
    output.write_text("# Benchmarks\n\nwritten by python -m bench\n")
    result = run_bench("bench.statuspage", scratch, "--output", str(output))
    assert result.returncode == 0, result.stderr[-3000:]
    report = output.read_text()
    assert report.startswith("# Benchmarks\n\nwritten by python -m bench\n")
    assert "## Status page and history" in report
    assert "| `/health` body, failing report (baseline) |" in report
    assert "| snapshot on disk (`history.json.gz`) |" in report
    assert "nan" not in report.lower()
