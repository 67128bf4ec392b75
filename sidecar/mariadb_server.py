"""A throwaway `mariadbd` on a temporary datadir and a free port, for `sidecar demo` and tests.

It uses the server binaries from the OS packages and can be stopped, killed, hung (SIGSTOP),
resumed, restarted on the same datadir, or restarted on a freshly initialised datadir on the
same port: the incident, replayed.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql

_BINARIES = {
    "mariadbd": ("/usr/sbin/mariadbd", "/usr/libexec/mariadbd", "/usr/bin/mariadbd"),
    "mariadb-install-db": ("/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"),
}


class ServerError(RuntimeError):
    """The throwaway server could not be initialised or started."""


def find_binary(name: str) -> str:
    """Locate a MariaDB binary on PATH or where the Debian packages put it."""
    found = shutil.which(name)
    if found:
        return found
    for candidate in _BINARIES.get(name, ()):
        if os.access(candidate, os.X_OK):
            return candidate
    raise ServerError(f"{name} not found: install the mariadb-server package")


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back while a child is created, so that the handle to it is
    stored before a handler (the demo's: stop) can run; they are delivered right after."""
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers run in the main thread only: nothing to hold back here
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _kill_group(pgid: int, timeout: float = 10.0) -> None:
    """SIGKILL a process group and wait until every member is gone (a killed process may
    still finish the write it was in; only then is its directory safe to remove)."""
    deadline = time.monotonic() + timeout
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    while _running_in_group(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _stat_fields(stat_file: Path) -> list[str] | None:
    """The fields of a `/proc/<pid>/stat` after the command name (state, ppid, pgrp, ...), or
    None when the process is gone."""
    try:
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ")".
        return stat_file.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _running_in_group(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs (zombies do not: they write nothing, and
    in a container nobody may ever reap them)."""
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(stat_file)
        if fields is not None and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


# Beside each server's pid file: the pid and kernel start time of the process that started it.
# A server whose owner is gone was left by a run that was SIGKILLed (nothing could stop it).
OWNER_FILE = "owner.pid"


def _started_at(pid: int) -> str | None:
    """The kernel's start time of `pid` (ticks since boot), or None when it is not running.
    With the pid it names one process for good: a pid reused later starts at another time."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return None if fields is None or fields[0] in ("Z", "X") else fields[19]


def orphaned_servers() -> list[int]:
    """Pids of throwaway `mariadbd`s (ours: an owner file beside their pid file) whose owner is
    gone. Servers of a live owner, and every other mariadbd, are not named."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or Path(os.fsdecode(argv[0])).name != "mariadbd":
            continue
        pid_files = [a[len(b"--pid-file=") :] for a in argv if a.startswith(b"--pid-file=")]
        if not pid_files:
            continue
        if owner_gone(Path(os.fsdecode(pid_files[0])).parent):
            found.append(int(cmdline.parent.name))
    return found


def owner_gone(base: Path) -> bool:
    """Whether the process that started the server under `base` is gone (False when no owner
    is recorded there: not one of ours, or not yet written)."""
    try:
        pid, started = (base / OWNER_FILE).read_text().split()
        return _started_at(int(pid)) != started
    except (OSError, ValueError):
        return False


def record_owner(base: Path) -> None:
    """Write this process (pid and start time) as the owner of the server under `base`."""
    owner = os.getpid()
    (base / OWNER_FILE).write_text(f"{owner} {_started_at(owner)}\n")


def sweep_orphaned_servers() -> list[int]:
    """SIGKILL (and wait for) every orphaned throwaway server; the pids that went."""
    orphans = orphaned_servers()
    for pid in orphans:
        _kill_group(pid)  # each runs in a session, hence a group, of its own
    return orphans


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MariaDBServer:
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
        # mariadb-install-db runs `mariadbd --bootstrap` as its child: in a session of its own
        # the whole group is killed if we are interrupted, never left writing the datadir.
        installer: subprocess.Popen[bytes] | None = None
        try:
            with _signals_held():
                installer = subprocess.Popen(
                    command,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            _, stderr = installer.communicate(timeout=120)
        except BaseException:
            if installer is not None:
                _kill_group(installer.pid)
                installer.wait()
            raise
        if installer.returncode != 0:
            raise ServerError(f"mariadb-install-db failed: {stderr.decode()[-500:]}")

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
        with _signals_held():  # a signal now must not leave a server we hold no handle of
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

    def stop(self) -> None:
        """Shut the server down cleanly (SIGTERM), resuming it first if it was hung."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash or an OOM kill would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def pause(self) -> None:
        """Hang the server (SIGSTOP): connections are accepted by the kernel, nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo `pause()`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop and start again on the same datadir."""
        self.stop()
        self.start()

    def swap_datadir(self) -> Path:
        """Stop, set the datadir aside, start on a new empty one; return the old one's path.

        This is the incident: same host, same port, same credentials, a brand-new datadir.
        """
        self.stop()
        self._generation += 1
        aside = self.base / f"data.{self._generation}"
        self.datadir.rename(aside)
        self.start()
        return aside

    def restore_datadir(self, aside: Path) -> None:
        """Stop and bring back a datadir set aside by `swap_datadir()`."""
        self.stop()
        shutil.rmtree(self.datadir)
        aside.rename(self.datadir)
        self.start()

    # -- access ------------------------------------------------------------------------
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
