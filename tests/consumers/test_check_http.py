"""monitoring-plugins' check_http against /health and /readyz: OK when passing, CRITICAL on 503."""

import subprocess
from pathlib import Path

import pytest

from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import monitor_env, running_sidecar

CHECK_HTTP = Path("/usr/lib/nagios/plugins/check_http")
pytestmark = pytest.mark.skipif(not CHECK_HTTP.exists(), reason="monitoring-plugins not installed")


def _check_http(port: int, path: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_HTTP), "-H", "127.0.0.1", "-p", str(port), "-u", path, *extra],
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_http_ok_then_critical(seeded: MariaDBTestServer, tmp_path: Path) -> None:
    with running_sidecar(monitor_env(seeded), tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        ok = _check_http(sidecar.port, "/health", "-s", '"status":"pass"')
        assert ok.returncode == 0, ok.stdout
        assert ok.stdout.startswith("HTTP OK")
        assert _check_http(sidecar.port, "/readyz", "-e", "200").returncode == 0
        seeded.stop()
        sidecar.wait_status("fail")
        critical = _check_http(sidecar.port, "/health")
        assert critical.returncode == 2, critical.stdout
        assert "503" in critical.stdout
        assert _check_http(sidecar.port, "/readyz", "-e", "200").returncode == 2
