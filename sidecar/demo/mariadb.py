"""A throwaway `mariadbd` on a temporary datadir and a free port, for `sidecar demo` and tests.

It uses the server binaries from the OS packages and can be started, stopped, and restarted on
a freshly initialised datadir on the same port: the incident, replayed. What only the tests do
to it (hang, kill, bring a datadir back) is in tests/support/mariadb.py.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pymysql

from sidecar.demo.throwaway import (
    ServerError,
    Throwaway,
    free_port,
    orphans,
    record_owner,
    run_initialiser,
    signals_held,
    sweep,
)

_BINARIES = {
    "mariadbd": ("/usr/sbin/mariadbd", "/usr/libexec/mariadbd", "/usr/bin/mariadbd"),
    "mariadb-install-db": ("/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"),
}


def find_binary(name: str) -> str:
    """Locate a MariaDB binary on PATH or where the Debian packages put it."""
    found = shutil.which(name)
    if found:
        return found
    for candidate in _BINARIES.get(name, ()):
        if os.access(candidate, os.X_OK):
            return candidate
    raise ServerError(f"{name} not found: install the mariadb-server package")


def _base_of(argv: list[bytes]) -> Path | None:
    """The base directory of a throwaway `mariadbd` (its pid file's directory), or None."""
    if not argv or Path(os.fsdecode(argv[0])).name != "mariadbd":
        return None
    pid_files = [a[len(b"--pid-file=") :] for a in argv if a.startswith(b"--pid-file=")]
    return Path(os.fsdecode(pid_files[0])).parent if pid_files else None


def orphaned_servers() -> list[int]:
    """Pids of throwaway `mariadbd`s (ours: an owner file beside their pid file) whose owner is
    gone. Servers of a live owner, and every other mariadbd, are not named."""
    return orphans(_base_of)


def sweep_orphaned_servers() -> list[int]:
    """SIGKILL (and wait for) every orphaned throwaway server; the pids that went."""
    return sweep(orphaned_servers())


class MariaDBServer(Throwaway):
    """One `mariadbd` process under `base`, listening on 127.0.0.1:`port`."""

    def __init__(self, base: Path, port: int | None = None) -> None:
        self.base = base
        self.port = port or free_port()
        self.datadir = base / "data"
        self.socket = base / "mariadb.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self.initialised_at = 0.0  # wall clock when the current datadir was created
        self._generation = 0

    # -- lifecycle ---------------------------------------------------------------------
    def initialise(self) -> None:
        """Create an empty datadir, as the official image's entrypoint does on a new volume."""
        self.datadir.mkdir(parents=True, exist_ok=False)
        self.initialised_at = time.time()
        command = [
            find_binary("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={self.datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *self._tmpdir_args(),
            *self._user_args(),
        ]
        run_initialiser(command, "mariadb-install-db")

    def start(self, timeout: float = 30.0) -> None:
        """Start the server on the current datadir and wait until it answers."""
        # Recorded first: a run killed while the datadir is being initialised is known as gone.
        record_owner(self.base)
        if not self.datadir.exists():
            self.initialise()
        log = open(self.base / "error.log", "ab")  # noqa: SIM115 - handed to the child
        command = [
            find_binary("mariadbd"),
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.socket}",
            f"--pid-file={self.base / 'mariadbd.pid'}",
            "--skip-name-resolve",
            "--skip-log-bin",
            # Small and fast: these servers hold test data, not production.
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=16M",
            "--innodb-flush-log-at-trx-commit=2",
            "--max-connections=200",
            *self._tmpdir_args(),
            *self._user_args(),
        ]
        with signals_held():  # a signal now must not leave a server we hold no handle of
            self.process = subprocess.Popen(
                command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.base / "error.log").read_text(errors="replace")[-800:]
                raise ServerError(f"mariadbd exited with {self.process.returncode}: {tail}")
            with contextlib.suppress(pymysql.err.MySQLError):
                self.execute("SELECT 1")
                return
            time.sleep(0.05)
        raise ServerError(f"mariadbd did not answer within {timeout}s")

    def _interrupt(self, process: "subprocess.Popen[bytes]") -> None:
        """SIGCONT, then SIGTERM: mariadbd's clean shutdown."""
        process.send_signal(signal.SIGCONT)
        process.terminate()

    def connect(self, user: str = "root", password: str = "", database: str | None = None) -> Any:
        """A blocking pymysql connection (for seeding and fault injection, not the checks)."""
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user=user,
            password=password,
            database=database,
            autocommit=True,
            connect_timeout=5,
            read_timeout=30,
        )

    def execute(self, *statements: str, database: str | None = None) -> list[tuple[Any, ...]]:
        """Run statements as root; return the rows of the last one."""
        conn = self.connect(database=database)
        try:
            rows: list[tuple[Any, ...]] = []
            with conn.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
                    rows = list(cursor.fetchall())
            return rows
        finally:
            conn.close()

    def url(self, user: str = "root", password: str = "", database: str = "app") -> str:
        """A `SIDECAR_DB_URL` for this server."""
        secret = f":{password}" if password else ""
        return f"mysql://{user}{secret}@127.0.0.1:{self.port}/{database}"

    def _tmpdir_args(self) -> list[str]:
        # A private tmpdir: servers bootstrapping side by side in a shared /tmp trip over
        # each other's temporary tables ("Could not remove temporary table").
        tmpdir = self.base / "tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        return [f"--tmpdir={tmpdir}"]

    @staticmethod
    def _user_args() -> list[str]:
        # mariadbd refuses to run as root unless told to; in a container we are root.
        return ["--user=root"] if os.geteuid() == 0 else []
