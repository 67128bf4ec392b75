"""Real `sidecar serve` processes on free ports, and helpers to seed and poll."""

import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from sidecar.demo import mariadb_app
from sidecar.demo.mariadb_app import MONITOR_USER, add_users, seed_admin
from sidecar.demo.throwaway import free_port
from tests.support.mariadb import MariaDBTestServer

__all__ = ["MONITOR_USER", "add_users"]

MONITOR_PASSWORD = "Mon1tor-Secret-7c1e"  # a unique marker: must never appear in output


def seed(server: MariaDBTestServer, users: int = 14, grant_datadir: bool = True) -> None:
    """The app database, a least-privilege monitor account and `users` users."""
    mariadb_app.seed(server, MONITOR_PASSWORD, users, grant_datadir)


def incident(server: MariaDBTestServer) -> Path:
    """The incident: a fresh datadir, migrations recreate the schema and seed one admin."""
    # The server records a datadir's birth to the second (CREATE_TIME). Two real datadirs are
    # never initialised within one second of each other; in a fast test they could be.
    time.sleep(max(0.0, 1.05 - (time.time() - server.initialised_at)))
    aside = server.swap_datadir()
    seed(server, users=0)
    seed_admin(server)
    return aside


def monitor_env(server: MariaDBTestServer, **extra: Any) -> dict[str, str]:
    """Settings for watching `server`'s app.User as the monitor account."""
    env = {
        "SIDECAR_DB_URL": server.url(MONITOR_USER, MONITOR_PASSWORD),
        "SIDECAR_TABLE": "User",
        "SIDECAR_TIMESTAMP_COLUMN": "createdAt",
        "SIDECAR_INTERVAL": "1s",
        "SIDECAR_TIMEOUT": "500ms",
    }
    env.update({f"SIDECAR_{k.upper()}": str(v) for k, v in extra.items()})
    return env


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the `sidecar` CLI in a subprocess with only `env` as its SIDECAR_* settings."""
    return run_module("sidecar", *args, env=env, timeout=timeout, cwd=cwd)


def run_module(
    module: str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS` in a subprocess with only `env` as its SIDECAR_* settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class SidecarProcess:
    """`sidecar serve` in a subprocess, talking real HTTP on a free port."""

    def __init__(self, env: dict[str, str], log_path: Path, open_files: int | None = None) -> None:
        self.port = free_port()
        self.open_files = open_files  # RLIMIT_NOFILE of the server, as a container would set it
        self.env = {**env, "SIDECAR_PORT": str(self.port), "SIDECAR_HOST": "127.0.0.1"}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.base_url, timeout=5)

    def start(self, wait: bool = True) -> "SidecarProcess":
        base = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sidecar", "serve"],
            env={**base, **self.env},
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            preexec_fn=self._limit_open_files if self.open_files else None,
        )
        log.close()
        if wait:
            wait_for(lambda: self._alive(), timeout=20, what="sidecar to listen")
        return self

    def _limit_open_files(self) -> None:
        assert self.open_files is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, self.open_files))

    def _alive(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"sidecar exited {self.process.returncode}: {self.log()}")
        with contextlib.suppress(httpx.HTTPError):
            return self.client.get("/livez").status_code == 200
        return False

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def health(self) -> dict[str, Any]:
        response = self.client.get("/health")
        assert response.status_code in (200, 503), response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_status(self, status: str, timeout: float = 15.0) -> dict[str, Any]:
        """Poll /health until its status is `status`; return that body."""
        seen: list[dict[str, Any]] = []

        def reached() -> bool:
            seen.append(self.health())
            return bool(seen[-1]["status"] == status)

        wait_for(reached, timeout, what=f"status {status}", last=lambda: seen[-1] if seen else None)
        return seen[-1]

    def cycles(self) -> int:
        """How many check cycles have completed (`sidecar_cycles_total`)."""
        for line in self.get("/metrics").text.splitlines():
            if line.startswith("sidecar_cycles_total"):
                return int(float(line.split()[-1]))
        raise AssertionError("no sidecar_cycles_total in /metrics")

    def wait_cycles(self, count: int, timeout: float = 15.0) -> None:
        """Wait until `count` more cycles have completed: "nothing happened" over real cycles,
        not over a guessed sleep."""
        target = self.cycles() + count
        wait_for(lambda: self.cycles() >= target, timeout, what=f"{count} more cycles")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        self.client.close()
        return code


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.1,
    last: Callable[[], Any] | None = None,
) -> float:
    """Poll `condition` until true; return the seconds it took; fail the test on timeout."""
    began = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            detail = f"; last seen: {last()}" if last else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


@contextlib.contextmanager
def running_sidecar(env: dict[str, str], log_path: Path) -> Iterator[SidecarProcess]:
    """A started sidecar that is stopped on the way out."""
    sidecar = SidecarProcess(env, log_path).start()
    try:
        yield sidecar
    finally:
        sidecar.stop()
