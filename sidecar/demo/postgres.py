"""A throwaway PostgreSQL cluster on a temporary directory and a free port, for `sidecar demo`
and the tests.

Debian's `postgresql` package puts `initdb`, `postgres` and `psql` under
/usr/lib/postgresql/<major>/bin. The server refuses to run as root, so when we are root the
cluster is created and run as the `postgres` user (the package makes it; without it we say so
and start nothing), in a directory that user may enter (a test's tmp_path sits under a root-only
directory). Like the throwaway MariaDB, it can be started, stopped, and restarted on a freshly
initialised cluster on the same port: the incident, on PostgreSQL. What only the tests do to it
(hang, kill, a streaming replica, pg_dump) is in tests/support/postgres_server.py.
"""

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from sidecar.demo.throwaway import (
    ServerError,
    Throwaway,
    free_port,
    kill_group,
    orphans,
    record_owner,
    run_initialiser,
    signals_held,
    sweep,
)

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "Pg-Super-Secret-41d9"  # noqa: S105 - a marker the tests look for in output
RUN_AS = "postgres"  # the server refuses root


def bin_dir() -> Path:
    """The newest PostgreSQL server binaries Debian installed."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise ServerError("postgres not found: install the postgresql package")
    return found[-1].parent


def server_user() -> pwd.struct_passwd | None:
    """The user the server runs as when we are root (None: as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(RUN_AS)
    except KeyError:
        raise ServerError(
            f"PostgreSQL refuses to run as root and there is no {RUN_AS!r} user to run it as:"
            f" create one (useradd --system {RUN_AS}) or run this as an unprivileged user"
        ) from None


def as_server_user() -> dict[str, object]:
    """Popen arguments that run a child as the server's user when we are root."""
    entry = server_user()
    if entry is None:
        return {}
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _base_of(argv: list[bytes]) -> Path | None:
    """The base directory of a throwaway postmaster (`postgres -D <base>/data`), or None."""
    if len(argv) < 3 or Path(os.fsdecode(argv[0])).name != "postgres" or argv[1] != b"-D":
        return None
    return Path(os.fsdecode(argv[2])).parent


def orphaned_clusters() -> list[int]:
    """Pids of throwaway postmasters (ours: an owner file beside their data directory) whose
    owner is gone."""
    return orphans(_base_of)


def sweep_orphaned_clusters() -> list[int]:
    """SIGKILL (and wait for) every orphaned throwaway cluster; the pids that went."""
    return sweep(orphaned_clusters())


class PostgresServer(Throwaway):
    """One PostgreSQL cluster under `base` (a new directory under /tmp unless given), on
    127.0.0.1:`port`."""

    def __init__(
        self,
        port: int | None = None,
        settings: dict[str, str] | None = None,
        base: Path | None = None,
    ) -> None:
        self.user = server_user()  # first: refused as root without a user, nothing made yet
        if base is None:
            base = Path(tempfile.mkdtemp(prefix="sidecar-pg-", dir="/tmp"))
        else:
            base.mkdir()
        self.base = base
        self._own(self.base)
        self.port = port or free_port()
        self.datadir = self.base / "data"
        self.sockets = self.base  # unix_socket_directories
        self.process: subprocess.Popen[bytes] | None = None
        self.initialised_at = 0.0
        self._generation = 0
        # Extra `-c name=value` server options (a benchmark's statement logging, say).
        self.settings = dict(settings or {})

    # -- lifecycle ---------------------------------------------------------------------
    def initialise(self) -> None:
        """initdb a new, empty cluster, as the official image's entrypoint does on a new volume."""
        pwfile = self.base / "pwfile"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        self._own(pwfile)
        self.initialised_at = time.time()
        command = [
            str(bin_dir() / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            # Passwords on the socket too: the tests connect as root, who is no role's peer.
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",  # throwaway data: durability across a power cut does not matter here
        ]
        try:
            run_initialiser(command, "initdb", **as_server_user())
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self, timeout: float = 30.0) -> None:
        """Start the cluster on the current data directory and wait until it answers."""
        # Recorded first: a run killed while the cluster is being initialised is known as gone.
        record_owner(self.base)
        if not self.datadir.exists():
            self.initialise()
        log_path = self.base / "server.log"
        log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
        self._own(log_path)
        command = [
            str(bin_dir() / "postgres"),
            "-D",
            str(self.datadir),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.sockets}",
            # Small and fast: these clusters hold sample and test data, not production.
            "-c",
            "fsync=off",
            "-c",
            "shared_buffers=16MB",
            "-c",
            "max_connections=100",
        ]
        for name, value in self.settings.items():
            command += ["-c", f"{name}={value}"]
        with signals_held():  # a signal now must not leave a server we hold no handle of
            self.process = subprocess.Popen(  # type: ignore[call-overload]
                command, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                start_new_session=True, **as_server_user(),
            )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-800:]
                raise ServerError(f"postgres exited with {self.process.returncode}: {tail}")
            with contextlib.suppress(ServerError):
                self.psql("SELECT 1", timeout=5)
                return
            time.sleep(0.05)
        raise ServerError(f"postgres did not answer within {timeout}s")

    def _interrupt(self, process: "subprocess.Popen[bytes]") -> None:
        """SIGCONT to the whole group (the backends were hung too), then SIGINT: a fast
        shutdown, which ends the sessions rather than waiting for them."""
        os.killpg(process.pid, signal.SIGCONT)
        process.send_signal(signal.SIGINT)

    def _force(self, process: "subprocess.Popen[bytes]") -> None:
        """The postmaster and every backend."""
        kill_group(process.pid)

    def remove(self) -> None:
        """Stop the cluster and remove everything it had."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    # -- access ------------------------------------------------------------------------
    def psql(self, *statements: str, database: str = "postgres", timeout: float = 60) -> str:
        """Run statements as the superuser with `psql` (TCP, password); the last one's rows,
        one a line, columns separated by `|`."""
        command = [
            str(bin_dir() / "psql"),
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-d",
            database,
        ]
        for statement in statements:
            command += ["-c", statement]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, env=self.client_env(), timeout=timeout,
                check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise ServerError(f"psql timed out after {timeout}s") from exc
        if done.returncode != 0:
            raise ServerError(f"psql failed: {done.stderr.strip()[-500:]}")
        return done.stdout.rstrip("\n")

    @staticmethod
    def client_env() -> dict[str, str]:
        """The environment of a client program run as the superuser (the password: not argv)."""
        return {"PATH": os.environ.get("PATH", ""), "PGPASSWORD": SUPERUSER_PASSWORD}

    def url(self, user: str = SUPERUSER, password: str = "", database: str = "app") -> str:
        """A `SIDECAR_DB_URL` for this cluster."""
        secret = f":{password}" if password else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{database}"

    def _own(self, path: Path) -> None:
        """Hand `path` to the server's user (when we are root: it runs as that user)."""
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
