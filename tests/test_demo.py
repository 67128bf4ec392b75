"""`sidecar demo` stops cleanly however it is stopped, and never leaves a `mariadbd` (or, with
`--engine postgres`, a postmaster) behind; on PostgreSQL it tells the incident as on MariaDB."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.demo.engines import sweep_killed_servers
from sidecar.demo.throwaway import free_port
from tests.support.servers import run_cli


class Demo:
    """`sidecar demo` in a subprocess, its output read line by line."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sidecar", "demo", "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []

    def wait_for(self, pattern: str, timeout: float = 60) -> str:
        """Read output until a line matches `pattern`; return it."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for the exit; the exit code and everything it printed."""
        out, _ = self.process.communicate(timeout=timeout)
        self.lines += out.splitlines()
        return self.process.returncode, "\n".join(self.lines)

    @property
    def base(self) -> Path:
        """The demo's temporary directory, from the line that says it is starting MariaDB."""
        for line in self.lines:
            if match := re.search(
                r"starting a throwaway .*\((/\S+?)/(mariadb|postgres)/data\)", line
            ):
                return Path(match.group(1))
        raise AssertionError("no temporary directory in:\n" + "\n".join(self.lines))


def _own_servers(base: Path) -> list[str]:
    """Server processes (`mariadbd`, `postgres`) whose command line names `base` (ours, not the
    machine's)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if ("mariadbd" in cmdline or "postgres" in cmdline) and str(base) in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


@pytest.fixture
def demo() -> Iterator[list[Demo]]:
    started: list[Demo] = []
    yield started
    killed = False
    for d in started:  # never leave one running, whatever the test did
        if d.process.poll() is None:
            d.process.kill()
            d.process.wait()
            killed = True
    if killed:  # a killed demo leaves its server running: its owner is gone, so it is swept
        sweep_killed_servers()


def _assert_clean(d: Demo) -> None:
    assert not _own_servers(d.base), _own_servers(d.base)
    assert not d.base.exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_one_signal_stops_it_cleanly(demo: list[Demo], sig: signal.Signals) -> None:
    d = Demo("--incident", "--incident-after", "2")
    demo.append(d)
    d.wait_for("verdict FAIL")
    d.process.send_signal(sig)
    code, out = d.finish()
    assert code == 0, out
    assert "stopped; MariaDB shut down" in out
    tail = out.split("stopping", 1)[1]
    for noise in ("verdict", "Traceback", "Task was destroyed", "Event loop is closed"):
        assert noise not in tail, out
    _assert_clean(d)


def test_a_second_signal_stops_it_at_once(demo: list[Demo]) -> None:
    d = Demo()
    demo.append(d)
    d.wait_for("serving http")
    d.process.send_signal(signal.SIGINT)
    d.process.send_signal(signal.SIGINT)
    began = time.monotonic()
    code, out = d.finish()
    assert time.monotonic() - began < 10, out
    assert "Traceback" not in out and "Task was destroyed" not in out, out
    assert code in (0, 130), out
    _assert_clean(d)


@pytest.mark.parametrize(
    ("engine", "after"),
    [("mariadb", 0.0), ("mariadb", 0.3), ("mariadb", 1.0), ("postgres", 0.3), ("postgres", 1.5)],
)
def test_a_signal_while_the_server_starts_leaves_nothing(
    demo: list[Demo], engine: str, after: float
) -> None:
    """Whether mariadb-install-db (initdb) or mariadbd (postgres) is running when the signal
    comes."""
    d = Demo("--engine", engine)
    demo.append(d)
    d.wait_for("starting a throwaway ")
    time.sleep(after)
    d.process.send_signal(signal.SIGTERM)
    code, out = d.finish()
    assert code == 0, out
    assert "Traceback" not in out, out
    _assert_clean(d)


def test_a_busy_port_is_one_line_and_starts_nothing() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("demo", "--port", str(port), timeout=30)
    assert result.returncode == 4
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert lines == [f"sidecar demo: port {port} is in use; try --port"]


def test_serve_refuses_a_busy_port_before_it_says_it_is_serving() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            "SIDECAR_DB_URL": f"mysql://m@127.0.0.1:{free_port()}/app",
            "SIDECAR_HOST": "127.0.0.1",
            "SIDECAR_PORT": str(port),
        }
        result = run_cli("serve", env=env, timeout=30)
    assert result.returncode == 4, result
    assert "is in use" in result.stderr and "serving on" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def _wait_gone(d: Demo, timeout: float = 30) -> None:
    """Wait for the demo to exit; a demo that ignores the signal fails here, not by hanging."""
    try:
        d.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the demo did not stop within {timeout}s") from None


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["Ctrl-C", "SIGTERM", "SIGHUP"]
)
def test_one_signal_stops_it_when_nobody_reads_its_output(
    demo: list[Demo], sig: signal.Signals
) -> None:
    """`sidecar demo | tee demo.log`, Ctrl-C: tee is gone first, every print hits a broken pipe."""
    d = Demo()
    demo.append(d)
    d.wait_for("serving http")
    base = d.base
    assert d.process.stdout is not None
    d.process.stdout.close()  # the reader is gone: the next write raises EPIPE in the demo
    d.process.send_signal(sig)
    _wait_gone(d)
    assert not _own_servers(base), _own_servers(base)
    assert not base.exists()


@pytest.mark.parametrize("engine", ["mariadb", "postgres"])
def test_a_killed_demo_is_swept_by_the_next(demo: list[Demo], engine: str) -> None:
    """SIGKILL leaves the server and the directory (nothing could stop them); the next demo, of
    either engine, stops and removes both before it starts its own."""
    killed = Demo("--engine", engine)
    demo.append(killed)
    killed.wait_for("serving http")
    left = killed.base
    killed.process.send_signal(signal.SIGKILL)
    killed.process.wait()
    assert _own_servers(left), "the server should outlive a SIGKILLed demo (that is the problem)"

    d = Demo()
    demo.append(d)
    d.wait_for("starting a throwaway MariaDB")
    assert not _own_servers(left), _own_servers(left)
    assert not left.exists()
    assert any("swept" in line for line in d.lines), d.lines
    d.process.send_signal(signal.SIGTERM)
    code, out = d.finish()
    assert code == 0, out
    _assert_clean(d)


def test_on_postgresql_the_incident_fails_naming_the_new_cluster(demo: list[Demo]) -> None:
    """`--engine postgres --incident`: a throwaway cluster, the sample app, a pass; then a new
    cluster in a fresh data directory with one admin, and the verdict fails naming the storage
    identity; Ctrl-C leaves no postmaster and no directory."""
    d = Demo("--engine", "postgres", "--incident", "--incident-after", "2")
    demo.append(d)
    d.wait_for(r"starting a throwaway PostgreSQL on 127\.0\.0\.1:\d+ \(/\S+/postgres/data\)")
    d.wait_for(r'seeded app\."User" with 14 users; monitoring account has SELECT only')
    d.wait_for("verdict PASS: every check passes")
    d.wait_for("INCIDENT: restarting PostgreSQL on a NEW cluster in a fresh data directory")
    d.wait_for("`pg_isready` and `SELECT 1` would call this healthy. Watch the sidecar:")
    failed = d.wait_for("verdict FAIL")
    assert "User:rowCount: 1 row, down 93% from the remembered 14 (max_drop 50%)" in failed
    assert re.search(r"volume:identity: cluster changed from \d+ to \d+ \(baseline\)", failed)
    assert "the database looks newly initialised (cluster initialised " in failed, failed
    d.process.send_signal(signal.SIGINT)
    code, out = d.finish()
    assert code == 0, out
    assert "stopped; PostgreSQL shut down and its temporary directory removed" in out
    assert "Traceback" not in out, out
    _assert_clean(d)


def test_help_names_the_engines() -> None:
    shown = run_cli("demo", "--help", timeout=30)
    assert shown.returncode == 0, shown.stderr
    assert "--engine {mariadb,postgres}" in shown.stdout
