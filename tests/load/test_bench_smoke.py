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
    for heading in ("## Targets", "## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6."):
        assert heading in report, heading
    assert "| sidecar idle |" in report and "| `sidecar probe` |" in report
    assert "nan" not in report.lower()


def test_the_backup_bench_rewrites_only_its_own_section(tmp_path: Path) -> None:
    """`python -m bench.backups` replaces its section and leaves the others as they were."""
    from bench.backups import HEADING, write_section

    report = tmp_path / "benchmarks.md"
    report.write_text("# Benchmarks\n\n## 5. Memory\n\nfigures\n")
    write_section(report, [HEADING, "", "first run"])
    assert (
        report.read_text() == f"# Benchmarks\n\n## 5. Memory\n\nfigures\n\n{HEADING}\n\nfirst run\n"
    )
    report.write_text(report.read_text() + "\n## Reading these numbers\n\nnotes\n")
    write_section(report, [HEADING, "", "second run", ""])
    assert report.read_text() == (
        f"# Benchmarks\n\n## 5. Memory\n\nfigures\n\n{HEADING}\n\nsecond run\n"
        "\n## Reading these numbers\n\nnotes\n"
    )
