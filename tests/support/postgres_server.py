"""A throwaway PostgreSQL cluster on a temporary directory and a free port, for the tests.

Debian's `postgresql` package puts `initdb`, `postgres` and `pg_dump` under
/usr/lib/postgresql/<major>/bin. The server refuses to run as root, so when we are root the
cluster is created and run as the `postgres` user, in a directory of its own under /tmp (a
test's tmp_path sits under a root-only directory the server could not enter). Like the
throwaway MariaDB, it can be stopped, killed, hung (SIGSTOP), resumed, restarted, and
restarted on a freshly initialised cluster on the same port: the incident, on PostgreSQL.

Each cluster records its owner (pid and kernel start time) beside its data directory, so a
later run stops the servers of a SIGKILLed one (`sweep_orphaned_clusters`), never a live one's.
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

from sidecar.mariadb_server import (
    ServerError,
    _kill_group,
    _signals_held,
    free_port,
    owner_gone,
    record_owner,
)

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "Pg-Super-Secret-41d9"  # a unique marker: must never appear in output
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


def _as_server_user() -> dict[str, object]:
    """Popen arguments that run a child as the server's user when we are root."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(RUN_AS)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def orphaned_clusters() -> list[int]:
    """Pids of throwaway postmasters (ours: an owner file beside their data directory) whose
    owner is gone."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if len(argv) < 3 or Path(os.fsdecode(argv[0])).name != "postgres" or argv[1] != b"-D":
            continue
        if owner_gone(Path(os.fsdecode(argv[2])).parent):
            found.append(int(cmdline.parent.name))
    return found


def sweep_orphaned_clusters() -> list[int]:
    """SIGKILL (and wait for) every orphaned throwaway cluster; the pids that went."""
    orphans = orphaned_clusters()
    for pid in orphans:
        _kill_group(pid)  # each postmaster runs in a session, hence a group, of its own
    return orphans


class PostgresServer:
    """One PostgreSQL cluster under a private base directory, on 127.0.0.1:`port`."""

    def __init__(self, port: int | None = None, settings: dict[str, str] | None = None) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="sidecar-pg-", dir="/tmp"))
        if os.geteuid() == 0:
            entry = pwd.getpwnam(RUN_AS)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
        self.port = port or free_port()
        self.datadir = self.base / "data"
        self.sockets = self.base  # unix_socket_directories
        self.process: subprocess.Popen[bytes] | None = None
        self.initialised_at = 0.0
        self._generation = 0
        # Extra `-c name=value` server options (a benchmark's statement logging, say).
        self.settings = dict(settings or {})

    @classmethod
    def kept_at(cls, base: Path, settings: dict[str, str] | None = None) -> "PostgresServer":
        """A cluster under `base`, kept there between runs (a benchmark's cache: seeding
        millions of rows or thousands of tables once); started as any other, never removed."""
        server = cls(settings=settings)
        shutil.rmtree(server.base)  # the cluster lives in `base` instead
        server.base = server.sockets = base
        server.datadir = base / "data"
        base.mkdir(parents=True, exist_ok=True)
        server._own(base)
        return server

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
            "--no-sync",  # test data: durability across a power cut does not matter here
        ]
        done = subprocess.run(
            command, capture_output=True, stdin=subprocess.DEVNULL, timeout=120, check=False,
            **_as_server_user(),  # type: ignore[call-overload]
        )  # fmt: skip
        pwfile.unlink()
        if done.returncode != 0:
            raise ServerError(f"initdb failed: {done.stderr.decode(errors='replace')[-500:]}")

    def start(self, timeout: float = 30.0) -> None:
        """Start the cluster on the current data directory and wait until it answers."""
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
            # Small and fast: these clusters hold test data, not production.
            "-c",
            "fsync=off",
            "-c",
            "shared_buffers=16MB",
            "-c",
            "max_connections=100",
        ]
        for name, value in self.settings.items():
            command += ["-c", f"{name}={value}"]
        record_owner(self.base)
        with _signals_held():  # a signal now must not leave a server we hold no handle of
            self.process = subprocess.Popen(  # type: ignore[call-overload]
                command, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                start_new_session=True, **_as_server_user(),
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

    def stop(self) -> None:
        """Shut the cluster down (fast shutdown: SIGINT), resuming it first if it was hung."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            _kill_group(self.process.pid)
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Kill the postmaster and its backends at once, as a crash or an OOM kill would."""
        if self.process is not None:
            _kill_group(self.process.pid)
            self.process.wait()
            self.process = None

    def pause(self) -> None:
        """Hang the postmaster and its backends (SIGSTOP to the group): nothing answers."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Undo `pause()`."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def restart(self) -> None:
        """Stop and start again on the same data directory."""
        self.stop()
        self.start()

    def swap_cluster(self) -> Path:
        """Stop, set the data directory aside, start on a new empty cluster; the old one's path.

        This is the incident: same host, same port, same superuser, a brand-new cluster.
        """
        self.stop()
        self._generation += 1
        aside = self.base / f"data.{self._generation}"
        self.datadir.rename(aside)
        self.start()
        return aside

    def standby_of(self, primary: "PostgresServer") -> None:
        """Make this (not yet started) server a streaming replica of `primary` and start it:
        pg_basebackup -R, as a failover pair is set up."""
        command = [
            str(bin_dir() / "pg_basebackup"), "-D", str(self.datadir), "-R", "-X", "stream",
            "-h", "127.0.0.1", "-p", str(primary.port), "-U", SUPERUSER, "--no-sync",
            "--checkpoint=fast",  # not spread over checkpoint_timeout: 95 s measured
        ]  # fmt: skip
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=120, check=False,
            env={"PATH": os.environ.get("PATH", ""), "PGPASSWORD": SUPERUSER_PASSWORD},
            **_as_server_user(),  # type: ignore[call-overload]
        )  # fmt: skip
        if done.returncode != 0:
            raise ServerError(f"pg_basebackup failed: {done.stderr.strip()[-500:]}")
        self.start()

    def take_over(self, primary: "PostgresServer") -> None:
        """The failover: the primary is gone, this standby is promoted on the primary's port
        (where the service name now points)."""
        primary.stop()
        self.stop()
        self.port = primary.port
        self.start()
        self.psql("SELECT pg_promote(wait => true)")

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
        env = {"PATH": os.environ.get("PATH", ""), "PGPASSWORD": SUPERUSER_PASSWORD}
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, env=env, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise ServerError(f"psql timed out after {timeout}s") from exc
        if done.returncode != 0:
            raise ServerError(f"psql failed: {done.stderr.strip()[-500:]}")
        return done.stdout.rstrip("\n")

    def pg_dump(self, database: str, path: Path, *options: str) -> None:
        """`pg_dump` of `database` into `path` as the superuser (plain SQL, --clean, unless
        `options` say otherwise)."""
        command = [
            str(bin_dir() / "pg_dump"), "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER,
            "-f", str(path), *(options or ("--clean", "--if-exists")), database,
        ]  # fmt: skip
        self._client(command, "pg_dump")

    def psql_file(self, path: Path, database: str = "app") -> None:
        """Run a SQL file (a plain dump restored) as the superuser, stopping at the first error."""
        command = [
            str(bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
            "-p", str(self.port), "-U", SUPERUSER, "-d", database, "-f", str(path),
        ]  # fmt: skip
        self._client(command, "psql")

    def _client(self, command: list[str], name: str, timeout: float = 120) -> None:
        env = {"PATH": os.environ.get("PATH", ""), "PGPASSWORD": SUPERUSER_PASSWORD}
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise ServerError(f"{name} failed: {done.stderr.strip()[-500:]}")

    def url(self, user: str = SUPERUSER, password: str = "", database: str = "app") -> str:
        """A `SIDECAR_DB_URL` for this cluster."""
        secret = f":{password}" if password else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{database}"

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(RUN_AS)
            os.chown(path, entry.pw_uid, entry.pw_gid)
