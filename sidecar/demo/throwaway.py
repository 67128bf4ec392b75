"""What every throwaway server shares: a free port, an owner record, a process group of its own.

A throwaway server (MariaDB or PostgreSQL, for the demo and the tests) runs in a session, hence
a process group, of its own, so that it and its children are stopped together. Beside it, the
process that started it is recorded (pid and kernel start time): a server whose owner is gone
was left by a run that was SIGKILLed (nothing could stop it), and the next run stops it.
"""

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

OWNER_FILE = "owner.pid"


class ServerError(RuntimeError):
    """The throwaway server could not be initialised or started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
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


def kill_group(pgid: int, timeout: float = 10.0) -> None:
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


def started_at(pid: int) -> str | None:
    """The kernel's start time of `pid` (ticks since boot), or None when it is not running.
    With the pid it names one process for good: a pid reused later starts at another time."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return None if fields is None or fields[0] in ("Z", "X") else fields[19]


def record_owner(base: Path) -> None:
    """Write this process (pid and start time) as the owner of the server under `base`."""
    owner = os.getpid()
    (base / OWNER_FILE).write_text(f"{owner} {started_at(owner)}\n")


def owner_gone(base: Path) -> bool:
    """Whether the process that started the server under `base` is gone (False when no owner
    is recorded there: not one of ours, or not yet written)."""
    try:
        pid, started = (base / OWNER_FILE).read_text().split()
        return started_at(int(pid)) != started
    except (OSError, ValueError):
        return False


def orphans(base_of: Callable[[list[bytes]], Path | None]) -> list[int]:
    """Pids of running processes whose command line `base_of` maps to a server's base directory
    (None: not a server of ours) whose owner is gone."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        base = base_of(argv)
        if base is not None and owner_gone(base):
            found.append(int(cmdline.parent.name))
    return found


def sweep(pids: list[int]) -> list[int]:
    """SIGKILL (and wait for) the process group of each of `pids` (each server runs in a session
    of its own, so its pid names its group); the pids, for the caller to tell."""
    for pid in pids:
        kill_group(pid)
    return pids


def run_initialiser(command: list[str], what: str, **popen: Any) -> None:
    """Run a data directory's initialiser (mariadb-install-db, initdb) to its end.

    It runs the server in bootstrap mode as its child: in a session of its own the whole group
    is killed if we are interrupted, never left writing the data directory. A failure is a
    `ServerError` with the end of what it said."""
    child: subprocess.Popen[bytes] | None = None
    try:
        with signals_held():
            child = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                **popen,
            )
        _, stderr = child.communicate(timeout=120)
    except BaseException:
        if child is not None:
            kill_group(child.pid)
            child.wait()
        raise
    if child.returncode != 0:
        raise ServerError(f"{what} failed: {stderr.decode(errors='replace')[-500:]}")


class Throwaway(ABC):
    """One server process on a data directory under `base`: what both engines' servers share,
    the clean stop and the incident's swap onto a new, empty data directory."""

    base: Path
    datadir: Path
    process: "subprocess.Popen[bytes] | None"
    _generation: int  # how many data directories were set aside

    @abstractmethod
    def start(self, timeout: float = 30.0) -> None:
        """Start the server on `datadir`, initialising it when empty; wait until it answers."""

    @abstractmethod
    def _interrupt(self, process: "subprocess.Popen[bytes]") -> None:
        """Resume the server if it was hung, then ask it to shut down cleanly."""

    def _force(self, process: "subprocess.Popen[bytes]") -> None:
        """Kill what a clean shutdown left running."""
        process.kill()

    def stop(self) -> None:
        """Shut the server down cleanly, resuming it first if it was hung."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self._interrupt(self.process)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._force(self.process)
            self.process.wait()
        self.process = None

    def swap_datadir(self) -> Path:
        """Stop, set the data directory aside, start on a new empty one; the old one's path.

        This is the incident: same host, same port, same credentials, a brand-new datadir.
        """
        self.stop()
        self._generation += 1
        aside = self.base / f"data.{self._generation}"
        self.datadir.rename(aside)
        self.start()
        return aside
