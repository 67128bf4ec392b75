"""`promtool check metrics` finds nothing to complain about in /metrics, passing or failing."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import monitor_env, running_sidecar

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")


def _lint(text: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )


def test_metrics_are_clean_under_promtool(seeded: MariaDBTestServer, tmp_path: Path) -> None:
    env = monitor_env(seeded, data_dir=seeded.datadir, state_dir=tmp_path / "state")
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        passing = sidecar.get("/metrics").text
        result = _lint(passing)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip() == "" and result.stderr.strip() == ""
        assert 'sidecar_check_status{check="rowCount",table="User"} 0.0' in passing
        assert "sidecar_identity_match 1.0" in passing
        assert "sidecar_table_latest_record_timestamp_seconds" in passing
        seeded.stop()
        sidecar.wait_status("fail")
        failing = sidecar.get("/metrics").text
        assert _lint(failing).returncode == 0
        assert "sidecar_verdict 2.0" in failing
