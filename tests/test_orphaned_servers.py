"""A test run that is SIGKILLed cannot stop its servers: the next run does.

Every throwaway `mariadbd` records who started it (tests/conftest.py sweeps at session start).
Here a real owner process starts a real server and is killed with SIGKILL: the server keeps
running, is named an orphan, and the sweep stops it. A server whose owner lives is never named.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sidecar.demo.mariadb import orphaned_servers, sweep_orphaned_servers
from tests.support.dockerd import alive
from tests.support.mariadb import MariaDBTestServer

OWNER = """
import sys, time
from pathlib import Path
from sidecar.demo.mariadb import MariaDBServer
server = MariaDBServer(Path(sys.argv[1]))
server.start()
print(server.process.pid, flush=True)
time.sleep(600)
"""


def test_the_server_of_a_killed_owner_is_found_and_stopped(
    tmp_path: Path, mariadb: MariaDBTestServer
) -> None:
    base = tmp_path / "orphan"
    base.mkdir()
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(base)], stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    server = int(owner.stdout.readline())
    try:
        assert server not in orphaned_servers()  # its owner is alive
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        time.sleep(0.5)
        assert alive(server), "mariadbd should outlive a SIGKILLed owner (that is the problem)"
        assert server in orphaned_servers()
        assert mariadb.process is not None and mariadb.process.pid not in orphaned_servers()

        assert server in sweep_orphaned_servers()
        assert not alive(server)
        assert mariadb.execute("SELECT 1") == [(1,)]  # the live owner's server is untouched
    finally:
        if alive(server):
            os.kill(server, signal.SIGKILL)
