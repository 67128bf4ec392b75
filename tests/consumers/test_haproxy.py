"""HAProxy's `option httpchk` on /readyz takes MariaDB out of rotation when its data is wrong."""

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from sidecar.demo.throwaway import free_port
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import incident, monitor_env, running_sidecar, wait_for

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
pytestmark = pytest.mark.skipif(not Path(HAPROXY).exists(), reason="haproxy not installed")

CONFIG = """
global
    stats socket {socket} mode 600 level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend db
    bind 127.0.0.1:{front}
    default_backend mariadb
backend mariadb
    # The sidecar's verdict decides: MariaDB answers TCP even on a fresh, empty datadir.
    option httpchk GET /readyz
    http-check expect status 200
    server db1 127.0.0.1:{db} check port {sidecar} inter 300ms fall 1 rise 1
"""


def _server_state(sock_path: Path) -> str:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(sock_path))
        sock.sendall(b"show stat\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    for line in data.decode().splitlines():
        fields = line.split(",")
        if len(fields) > 17 and fields[0] == "mariadb" and fields[1] == "db1":
            return fields[17]  # the `status` column: UP, DOWN, ...
    raise AssertionError(f"db1 not in stats: {data!r}")


def test_haproxy_marks_the_database_down_when_gone_or_foreign_and_up_when_back(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    env = monitor_env(seeded, data_dir=seeded.datadir, state_dir=tmp_path / "state")
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        sock_path = tmp_path / "haproxy.sock"
        config = tmp_path / "haproxy.cfg"
        config.write_text(
            CONFIG.format(socket=sock_path, front=free_port(), db=seeded.port, sidecar=sidecar.port)
        )
        check = subprocess.run([HAPROXY, "-c", "-f", str(config)], capture_output=True, check=False)
        assert check.returncode == 0, check.stderr
        haproxy = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:

            def state() -> str:
                return _server_state(sock_path)

            wait_for(lambda: sock_path.exists() and state().startswith("UP"), 10, "UP")
            seeded.stop()
            wait_for(lambda: state().startswith("DOWN"), 10, "DOWN when the database is gone")
            seeded.start()
            wait_for(lambda: state().startswith("UP"), 10, "UP when it is back")
            aside = incident(seeded)
            wait_for(lambda: state().startswith("DOWN"), 10, "DOWN when the datadir is foreign")
            seeded.restore_datadir(aside)
            wait_for(lambda: state().startswith("UP"), 10, "UP with the real datadir back")
        finally:
            haproxy.terminate()
            haproxy.wait(timeout=10)
