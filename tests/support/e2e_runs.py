"""End-to-end runs that cannot poison each other: a run id, its lock, and its private directory.

Everything an end-to-end run makes outside its own process carries its id: podman containers,
pods, networks and volumes are named `sidecar-e2e-<id>-...`, and its files (compose
directories, a private dockerd's data and exec roots) live under `/var/tmp/sidecar-e2e-<id>/`.
While the run lives, it holds an exclusive flock on `/var/tmp/sidecar-e2e-<id>.lock`. The
kernel drops that lock when the process ends, however it ends (a finished run, a Ctrl-C, a
SIGKILL, a reboot), so "the lock can be taken" means "the run is over": whatever still carries
its id is a leftover that any later run may remove. A run in progress (another worktree's, a
colleague's) keeps its lock and is never touched; nothing without the prefix ever is.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

PREFIX = "sidecar-e2e-"
BASE = Path("/var/tmp")
# An id is 8 hex digits right after the prefix; names may carry a prefix of their own
# (podman-compose's pods are `pod_<project>`), so it is searched for, not matched at 0.
_ID = re.compile(rf"(?:^|[^0-9a-z]){re.escape(PREFIX)}([0-9a-f]{{8}})(?![0-9a-z])")


def run_id_of(name: str) -> str | None:
    """The run id a name carries, or None for names that are not ours."""
    match = _ID.search(name)
    return match.group(1) if match else None


def lock_path(run_id: str) -> Path:
    """Where the run with this id keeps its lock."""
    return BASE / f"{PREFIX}{run_id}.lock"


def root_of(run_id: str) -> Path:
    """The private directory of the run with this id."""
    return BASE / f"{PREFIX}{run_id}"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise
    return True


class Run:
    """One live end-to-end run: holds its lock until `close()` (or until the process ends)."""

    def __init__(self, run_id: str, fd: int) -> None:
        self.id = run_id
        self._fd = fd
        self.root = root_of(run_id)

    @classmethod
    def start(cls) -> Run:
        """A new run with a fresh id, its lock held and its private directory created."""
        while True:
            run_id = secrets.token_hex(4)
            try:
                fd = os.open(lock_path(run_id), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
            except FileExistsError:
                continue
            # A sweeper may have claimed the brand-new lock file as an orphan in the instant
            # between open and flock: then the id is its, and we draw another.
            if _try_lock(fd):
                run = cls(run_id, fd)
                run.root.mkdir(mode=0o755)
                return run
            os.close(fd)

    def name(self, *parts: str) -> str:
        """A name carrying this run's id: `sidecar-e2e-<id>-<parts joined by ->`."""
        return "-".join((f"{PREFIX}{self.id}", *parts))

    def close(self) -> None:
        """Remove the private directory, then give up the lock: the run is over."""
        remove_tree(self.root)
        lock_path(self.id).unlink(missing_ok=True)
        os.close(self._fd)


@contextlib.contextmanager
def claim(run_id: str) -> Iterator[bool]:
    """Take over a finished run's leftovers: yields True if the run is over and now ours.

    Yields False while the run is alive. On exit after a successful claim, the lock file goes.
    """
    try:
        fd = os.open(lock_path(run_id), os.O_CREAT | os.O_RDWR, 0o644)
    except OSError:
        yield False
        return
    try:
        if not _try_lock(fd):
            yield False
            return
        yield True
        lock_path(run_id).unlink(missing_ok=True)
    finally:
        os.close(fd)


def ids_on_disk() -> set[str]:
    """Run ids that have a lock file or a private directory under BASE."""
    found = (run_id_of(p.name) for p in BASE.glob(f"{PREFIX}*"))
    return {i for i in found if i}


def ids_in(names: Iterable[str]) -> set[str]:
    """The run ids carried by these names."""
    return {i for i in map(run_id_of, names) if i}


def _unescape_mountinfo(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts_under(path: Path) -> list[Path]:
    """Mount points at or under `path`, deepest first (the order to unmount them in)."""
    prefix = str(path)
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as info:
        for line in info:
            point = _unescape_mountinfo(line.split()[4])
            if point == prefix or point.startswith(prefix + "/"):
                found.append(Path(point))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def remove_tree(path: Path) -> None:
    """Unmount whatever is mounted under `path` (a dead dockerd's overlays), then delete it."""
    for point in mounts_under(path):
        subprocess.run(["umount", "--lazy", str(point)], capture_output=True, check=False)
    if path.exists():
        shutil.rmtree(path)
