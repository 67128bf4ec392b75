"""The benchmark harness still runs end to end (`python -m bench --quick`, about 25 s).

This checks that the harness works, not the figures: targets are measured in a full run
(docs/benchmarks.md), never asserted in a timed unit test (SPEC.md section 7).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_quick_bench_writes_a_report(tmp_path: Path) -> None:
    """`--quick` seeds a small table, runs every measurement and writes every section."""
    output = tmp_path / "benchmarks.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--output",
            str(output),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = output.read_text()
    for heading in ("## Targets", "## 1.", "## 2.", "## 3.", "## 4.", "## 5."):
        assert heading in report, heading
    assert "| sidecar idle |" in report and "| `sidecar probe` |" in report
    assert "nan" not in report.lower()
