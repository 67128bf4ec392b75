"""The demo's throwaway PostgreSQL cluster with what only the tests do to it: kill, hang,
restart, a streaming replica and its promotion, pg_dump and a dump restored."""

import os
import shutil
import signal
import subprocess
from pathlib import Path

from sidecar.demo.postgres import SUPERUSER, PostgresServer, as_server_user, bin_dir
from sidecar.demo.throwaway import ServerError, kill_group


class PostgresTestServer(PostgresServer):
    """A `PostgresServer` that fault scenarios can kill, hang, fail over and restore."""

    @classmethod
    def kept_at(cls, base: Path, settings: dict[str, str] | None = None) -> "PostgresTestServer":
        """A cluster under `base`, kept there between runs (a benchmark's cache: seeding
        millions of rows or thousands of tables once); started as any other, never removed."""
        server = cls(settings=settings)
        shutil.rmtree(server.base)  # the cluster lives in `base` instead
        base.mkdir(parents=True, exist_ok=True)
        server.base = server.sockets = base
        server.datadir = base / "data"
        server._own(base)
        return server

    def kill(self) -> None:
        """Kill the postmaster and its backends at once, as a crash or an OOM kill would."""
        if self.process is not None:
            kill_group(self.process.pid)
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

    def standby_of(self, primary: PostgresServer) -> None:
        """Make this (not yet started) server a streaming replica of `primary` and start it:
        pg_basebackup -R, as a failover pair is set up."""
        command = [
            str(bin_dir() / "pg_basebackup"), "-D", str(self.datadir), "-R", "-X", "stream",
            "-h", "127.0.0.1", "-p", str(primary.port), "-U", SUPERUSER, "--no-sync",
            "--checkpoint=fast",  # not spread over checkpoint_timeout: 95 s measured
        ]  # fmt: skip
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=120, check=False,
            env=self.client_env(), **as_server_user(),  # type: ignore[call-overload]
        )  # fmt: skip
        if done.returncode != 0:
            raise ServerError(f"pg_basebackup failed: {done.stderr.strip()[-500:]}")
        self.start()

    def take_over(self, primary: PostgresServer) -> None:
        """The failover: the primary is gone, this standby is promoted on the primary's port
        (where the service name now points)."""
        primary.stop()
        self.stop()
        self.port = primary.port
        self.start()
        self.psql("SELECT pg_promote(wait => true)")

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
        done = subprocess.run(
            command, capture_output=True, text=True, env=self.client_env(), timeout=timeout,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise ServerError(f"{name} failed: {done.stderr.strip()[-500:]}")
