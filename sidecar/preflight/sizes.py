"""How much data a volume holds: `du` of its mountpoint, bounded in time.

Counted like `du` (allocated blocks, symlinks not followed, hard links once), so a sparse
InnoDB file counts what it occupies. The walk stops at its deadline and says the figure is a
lower bound; an unreadable mountpoint (not root, a remote driver) gives no figure at all,
which the verdicts treat as "may hold data".
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_BUDGET = 10.0  # seconds per volume


@dataclass(frozen=True)
class Size:
    """A measured size, or why there is none."""

    bytes: int | None  # None: could not be read
    entries: int  # files and directories seen below the mountpoint
    complete: bool  # False: the deadline cut the walk short (bytes is a lower bound)
    error: str = ""

    @property
    def holds_data(self) -> bool:
        """Whether the volume may hold data: anything in it, or it could not be read."""
        return self.bytes is None or self.entries > 0

    def describe(self) -> str:
        """`182 MB`, `>= 1.2 GB` when cut short, `size unknown` when unreadable."""
        if self.bytes is None:
            return "size unknown"
        if self.entries == 0:
            return "empty"
        return (">= " if not self.complete else "") + human_bytes(self.bytes)


def measure(
    path: str, budget: float = DEFAULT_BUDGET, clock: Callable[[], float] = time.monotonic
) -> Size:
    """The data below `path`, walking for at most `budget` seconds."""
    deadline = clock() + budget
    total = entries = 0
    seen: set[tuple[int, int]] = set()
    try:
        root = os.lstat(path)
        pending = [path]
    except OSError as exc:
        return Size(None, 0, False, exc.strerror or type(exc).__name__)
    total += root.st_blocks * 512
    while pending:
        if clock() > deadline:
            return Size(total, entries, complete=False)
        directory = pending.pop()
        try:
            with os.scandir(directory) as listing:
                for entry in listing:
                    entries += 1
                    info = entry.stat(follow_symlinks=False)
                    if info.st_nlink > 1 and not entry.is_dir(follow_symlinks=False):
                        if (info.st_dev, info.st_ino) in seen:
                            continue
                        seen.add((info.st_dev, info.st_ino))
                    total += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
        except OSError as exc:
            if directory == path:
                return Size(None, 0, False, exc.strerror or type(exc).__name__)
            # A file vanishing mid-walk (a running database) must not lose the whole figure.
            continue
    return Size(total, entries, complete=True)


def human_bytes(count: int) -> str:
    """Decimal units as `du -h --si` prints them: `182 MB`, `1.2 GB`, `4.0 kB`."""
    value, unit = float(count), "B"
    for larger in ("kB", "MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, larger
    return f"{value:.0f} {unit}" if unit == "B" or value >= 10 else f"{value:.1f} {unit}"
