"""Fresh data directories in a fraction of the time: one initialised per engine and session,
copied for each test's server (tests/conftest.py).

mariadb-install-db takes most of a MariaDB fixture's set-up (1.7 s of 2), initdb much of a
PostgreSQL one's. A copy (`cp -a`: modes and owner kept, which PostgreSQL insists on) of a data
directory that was never started is as fresh as a new one, born now (its files' ctime, the
copy's; on PostgreSQL the system identifier is the template's, as one cluster's is everywhere
it is copied). What a test swaps its server onto is initialised anew, so the incident's new
datadir or cluster always has an identity of its own.
"""

import subprocess
import time
from pathlib import Path
from typing import Protocol


class HasDatadir(Protocol):
    datadir: Path
    initialised_at: float


def copy_datadir(template: Path, server: HasDatadir) -> None:
    """Give `server` (not yet started) a copy of the never-started datadir `template`."""
    subprocess.run(["cp", "-a", str(template), str(server.datadir)], check=True, timeout=60)
    server.initialised_at = time.time()
