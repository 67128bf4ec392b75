"""The test runs change no host setting: podman runs on tests/e2e/containers.conf.

Podman here needs runc and finite ulimits. The suite once wrote them into the host's
/etc/containers/containers.conf, for every podman container on the machine; now every podman
call of the tests gets CONTAINERS_CONF (tests/support/podman.py, run.sh, build-images.sh).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import EngineRun
from tests.support.compose_stack import MARIADB_IMAGE

pytestmark = pytest.mark.e2e
HOST_CONF = Path("/etc/containers/containers.conf")


def _host_conf() -> bytes | None:
    return HOST_CONF.read_bytes() if HOST_CONF.exists() else None


def test_podman_runs_on_the_runs_own_settings_and_the_hosts_are_untouched(
    podman_run: EngineRun,
) -> None:
    before = _host_conf()
    engine = podman_run.engine
    assert engine.ok("info", "--format", "{{.Host.OCIRuntime.Name}}").strip() == "runc"
    name = podman_run.run.name("conf")  # swept with the run if this test is killed
    limits = engine.ok(
        "run", "--rm", "--name", name, "--network", "none", MARIADB_IMAGE,
        "bash", "-c", "ulimit -n; ulimit -u",
    )  # fmt: skip
    assert limits.split() == ["1024", "1024"]
    assert _host_conf() == before
