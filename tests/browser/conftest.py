"""Sidecars for the browser tests: one passing, one after the incident replay (each shared by
a module), with Chromium skipped only where the OS packages are missing."""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import browser
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import SidecarProcess, incident, monitor_env, seed, wait_for

if not browser.available():  # pragma: no cover - scripts/bootstrap installs them
    pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)


def cycles(sidecar: SidecarProcess) -> int:
    """How many cycles the sidecar completed (from /metrics)."""
    for line in sidecar.get("/metrics").text.splitlines():
        if line.startswith("sidecar_cycles_total "):
            return int(float(line.split()[1]))
    return 0


@dataclass
class Watched:
    """A running sidecar and what the test needs to know of its database."""

    sidecar: SidecarProcess
    server: MariaDBTestServer
    inode_before: int = 0
    inode_after: int = 0


def _start(base: Path, **settings: object) -> tuple[MariaDBTestServer, SidecarProcess]:
    (base / "mariadb").mkdir()
    server = MariaDBTestServer(base / "mariadb")
    server.start()
    seed(server)
    env = monitor_env(server, data_dir=server.datadir, state_dir=base / "state", **settings)
    return server, SidecarProcess(env, base / "sidecar.log")


@pytest.fixture(scope="module")
def passing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    """A passing sidecar with a few cycles of history."""
    server, sidecar = _start(tmp_path_factory.mktemp("passing"))
    try:
        sidecar.start()
        sidecar.wait_status("pass")
        wait_for(lambda: cycles(sidecar) >= 6, 20, "six cycles of history")
        yield Watched(sidecar, server)
    finally:
        sidecar.stop()
        server.stop()


@pytest.fixture(scope="module")
def after_incident(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    """A sidecar that watched 14 users for a while, then the incident: a fresh datadir with
    one admin user."""
    server, sidecar = _start(tmp_path_factory.mktemp("incident"))
    try:
        sidecar.start()
        sidecar.wait_status("pass")
        wait_for(lambda: cycles(sidecar) >= 8, 20, "eight passing cycles")
        watched = Watched(sidecar, server, os.stat(server.datadir).st_ino)
        incident(server)
        watched.inode_after = os.stat(server.datadir).st_ino

        def counted_one() -> bool:
            rows = sidecar.health()["checks"]["User:rowCount"][0]
            return bool(rows["observedValue"] == 1)

        sidecar.wait_status("fail")
        wait_for(counted_one, 15, "the admin row alone to be counted")
        wait_for(lambda: cycles(sidecar) >= 14, 20, "a few failing cycles")
        yield watched
    finally:
        sidecar.stop()
        server.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """An HTTP client that keeps no cookies between tests."""
    with httpx.Client(timeout=5) as c:
        yield c
