"""The backup directory looked at once a cycle, at a cost that does not grow with the old dumps.

    lister = Lister(Path("/backups"), patterns)
    look = lister.look(now=time.time(), settle=120.0, hot={"app-0412.sql.gz"})
    look.listing    # a Listing, as list_backups() gives it (newest first, skipped entries)
    look.writing    # names that may still grow: changed since the last look, or too young
    look.changed    # False: look.listing is the very object of the last look

A year of dumps is 8,760 files. Listed the way `list_backups` lists (scandir, an lstat each,
a sort), 10,000 of them cost ~50 ms a cycle, and the Python around it as much again, for an
answer that is last cycle's. What a look does instead:

- The directory's own mtime tells whether names came or went (a create, a delete or a rename
  changes it). When it is what it was at the last scan, and had not changed within RACY
  seconds before that scan (a change in the same timestamp tick could hide behind it: git's
  "racy" rule), the names are the last scan's; otherwise they are read again, names only,
  with a pattern match only for a name not seen before.
- A dump is stat'ed when it is new, when it is among the newest HOT, when the caller names
  it (what the last verdict consulted: the judged dump, the restore candidate, what is being
  counted), when it is a symlink or was skipped; the others in turn, SWEEP a look, so an old
  dump rewritten in place (its own mtime changes, not the directory's) is seen within a round
  of the sweep. A round's end also reads the names again, whatever the mtime said.
- An unchanged dump keeps its BackupFile, and the order is updated for what changed only.

A directory of at most HOT + SWEEP dumps is read whole every look, as `list_backups` reads it.
"""

import bisect
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sidecar.backups.catalog import BackupFile, Listing, Skipped, matches, regular

HOT = 64
SWEEP = 256
BULK = 512  # changes in one look past which the order is sorted anew, not bisected
RACY = 2.0  # seconds: coarser than any filesystem's timestamps we expect (FAT keeps 2 s)


@dataclass(frozen=True)
class Look:
    """One look at the directory."""

    listing: Listing
    writing: frozenset[str]
    changed: bool  # whether the files differ from the last look's (same objects otherwise)
    stated: int  # how many entries were stat'ed: the look's cost


def _order(file: BackupFile) -> tuple[int, str]:
    return file.mtime_ns, file.name


class Lister:
    """Looks at one backup directory, remembering the last look (one per watch)."""

    def __init__(
        self,
        directory: Path,
        patterns: Sequence[str],
        hot: int = HOT,
        sweep: int = SWEEP,
        racy: float = RACY,
    ) -> None:
        self.directory = directory
        self.patterns = tuple(patterns)
        self.hot, self.sweep, self.racy = hot, sweep, racy
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._matching: dict[str, bool] = {}  # every entry at the last scan: whether it matches
        self._scanned: tuple[tuple[int, int, int], float] | None = None  # stamp, wall clock
        self._rescan = True
        self._files: dict[str, BackupFile] = {}
        self._skipped: dict[str, str] = {}
        self._ascending: list[BackupFile] = []  # oldest first: bisect's order
        self._links: set[str] = set()  # names whose path is where their symlink resolves
        self._listing: Listing | None = None
        self._cursor = 0
        self._bulk = False

    def look(self, now: float, settle: float, hot: Iterable[str] = ()) -> Look:
        """The directory as it is now (see the module docstring for what is read)."""
        # One look at a time: a cycle out of time leaves its look running in its thread while
        # the next cycle's begins.
        with self._lock:
            return self._look(now, settle, hot)

    def _look(self, now: float, settle: float, hot: Iterable[str]) -> Look:
        try:
            root = self.directory.resolve(strict=True)
            names = self._names(root)
        except OSError as exc:
            self._reset()
            problem = f"cannot list the backup directory: {exc.strerror}"
            listing = Listing(self.directory, self.patterns, problem=problem)
            return Look(listing, frozenset(), True, 0)
        if names is not None:
            gone = [n for n in (*self._files, *self._skipped) if n not in names]
        else:
            gone = []
        due = self._due(names, hot)
        # Many changes at once (the first look, a mass delete): one sort, not a bisect each.
        self._bulk = len(gone) + len(due) > BULK
        for name in gone:
            self._forget(name)
        changed, stated = bool(gone), 0
        moved: set[str] = set()
        placed: list[BackupFile] = []
        prefix = os.path.join(root, "")
        for name in due:
            stated += 1
            try:
                kept = regular(root, name)
            except FileNotFoundError:
                self._forget(name)  # gone since the names were read: read them next look
                self._rescan = changed = True
                continue
            except OSError as exc:
                kept = f"cannot stat it: {exc.strerror}"
            changed |= self._keep(prefix, name, kept, moved, placed)
        if self._bulk:
            self._ascending = sorted(self._files.values(), key=_order)
        else:
            for file in placed:
                bisect.insort(self._ascending, file, key=_order)
        if changed or self._listing is None:
            self._listing = Listing(
                self.directory,
                self.patterns,
                files=tuple(reversed(self._ascending)),
                skipped=tuple(Skipped(n, r) for n, r in sorted(self._skipped.items())),
            )
        return Look(self._listing, self._writing(moved, now, settle), changed, stated)

    def _names(self, root: Path) -> set[str] | None:
        """The matching names, read again when they may have changed; None: as last look."""
        info = os.stat(root)
        stamp = (info.st_dev, info.st_ino, info.st_mtime_ns)
        if (
            not self._rescan
            and self._scanned is not None
            and self._scanned[0] == stamp
            and self._scanned[1] - info.st_mtime_ns / 1e9 > self.racy
        ):
            return None
        began = time.time()  # the filesystem's clock, not the cycle's (a seam for tests)
        with os.scandir(root) as entries:
            seen = [entry.name for entry in entries]
        known = self._matching
        self._matching = {n: known[n] if n in known else matches(n, self.patterns) for n in seen}
        self._scanned, self._rescan = (stamp, began), False
        return {n for n, matching in self._matching.items() if matching}

    def _due(self, names: set[str] | None, hot: Iterable[str]) -> list[str]:
        """The names to stat this look."""
        new = [n for n in names if n not in self._files] if names is not None else []
        ascending = self._ascending
        if len(ascending) <= self.hot + self.sweep:
            due = dict.fromkeys(new + [f.name for f in ascending])
        else:
            due = dict.fromkeys(new + [f.name for f in ascending[-self.hot :]])
            due.update(dict.fromkeys(n for n in hot if n in self._files))
            start = self._cursor % len(ascending)
            swept = ascending[start : start + self.sweep]
            self._cursor = start + len(swept)
            if self._cursor >= len(ascending):
                self._cursor, self._rescan = 0, True  # a round done: read the names again
            due.update(dict.fromkeys(f.name for f in swept))
        due.update(dict.fromkeys(self._links))
        due.update(dict.fromkeys(n for n in self._skipped if names is None or n in names))
        return list(due)

    def _keep(
        self,
        prefix: str,
        name: str,
        kept: BackupFile | str,
        moved: set[str],
        placed: list[BackupFile],
    ) -> bool:
        """Record what a stat found (a file to place in the order into `placed`); whether the
        listing changed."""
        before = self._files.get(name)
        if isinstance(kept, BackupFile):
            if before is not None and (before.size, before.mtime_ns) == (kept.size, kept.mtime_ns):
                return False
            if before is not None:
                moved.add(name)  # changed since the last look: it may still be growing
                self._remove(before)
            self._skipped.pop(name, None)
            self._files[name] = kept
            placed.append(kept)
            if kept.path != prefix + name:
                self._links.add(name)
            return True
        if before is not None:
            self._forget(name)
        changed = self._skipped.get(name) != kept
        self._skipped[name] = kept
        return changed

    def _forget(self, name: str) -> None:
        before = self._files.pop(name, None)
        if before is not None:
            self._remove(before)
        self._skipped.pop(name, None)
        self._links.discard(name)

    def _remove(self, file: BackupFile) -> None:
        if self._bulk:
            return  # the order is sorted anew from the files at the end of the look
        at = bisect.bisect_left(self._ascending, _order(file), key=_order)
        assert self._ascending[at] is file
        del self._ascending[at]

    def _writing(self, moved: set[str], now: float, settle: float) -> frozenset[str]:
        """Changed since the last look, or modified less than `settle` before `now`: the
        listing is newest first, so the young ones are its head."""
        young: list[str] = []
        for file in reversed(self._ascending):
            if now - file.mtime >= settle:
                break
            young.append(file.name)
        return frozenset(moved.union(young))
