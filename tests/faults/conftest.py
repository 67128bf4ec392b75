"""Fixtures for fault scenarios: a sidecar started against a seeded server, stopped after."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import SidecarProcess, monitor_env

StartSidecar = Callable[..., SidecarProcess]


@pytest.fixture
def start_sidecar(tmp_path: Path) -> Iterator[StartSidecar]:
    """Start `sidecar serve` watching a server's app.User (1s interval, 500ms timeout)."""
    started: list[SidecarProcess] = []

    def start(server: MariaDBTestServer, **extra: Any) -> SidecarProcess:
        extra.setdefault("state_dir", tmp_path / "state")
        log = tmp_path / f"sidecar-{len(started)}.log"
        sidecar = SidecarProcess(monitor_env(server, **extra), log)
        started.append(sidecar)
        return sidecar.start()

    yield start
    for sidecar in started:
        sidecar.stop()


def db_sockets(pid: int, port: int) -> int:
    """How many of `pid`'s open descriptors are TCP sockets to 127.0.0.1:`port`."""
    inodes: set[str] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except FileNotFoundError:
            continue  # closed while we looked
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[9] in inodes:
                count += 1
    return count
