"""The backup directory: which files are dumps, newest first, and which are still being written.

    listing = list_backups(Path("/backups"))  # patterns: *.sql, *.sql.gz, *.sql.zst, *.dump
    listing.files                             # BackupFile tuples, newest mtime first
    writing = still_being_written(listing, previous, now=time.time(), settle=60.0)
    sizes = compare_sizes(listing.files)      # the newest against the median before it

The directory is mounted read-only and written by someone else's cron job, so nothing in it
is trusted: names may hold spaces, newlines, leading dashes or undecodable bytes (`shown()`
renders them on one line); a directory or FIFO named like a dump is skipped, never opened
(opening a FIFO would block); a symlink is followed only when it resolves inside the
directory, and the file's resolved path is what gets opened. Listing never opens a file.
Hidden files (a leading dot, like `.app.sql.tmp` or rsync's partial files) match only a
pattern that itself starts with a dot, as in the shell.
"""

import os
import stat
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from itertools import islice
from pathlib import Path

# `*.dump`: pg_dump -Fc's usual suffix (a MariaDB stack has none, so it costs nothing there).
DEFAULT_PATTERNS = ("*.sql", "*.sql.gz", "*.sql.zst", "*.dump")


@dataclass(frozen=True)
class BackupFile:
    """One dump in the directory, as seen when it was listed."""

    name: str  # the directory entry (a symlink's own name)
    # What to open: the entry, or where its symlink resolves inside the directory. A plain
    # entry keeps a str: at 10,000 dumps, a Path each cost 0.1 s of every listing.
    path: Path | str
    size: int
    mtime_ns: int

    @property
    def mtime(self) -> float:
        """Modification time, epoch seconds."""
        return self.mtime_ns / 1e9

    @property
    def kind(self) -> str:
        """`gzip`, `zstd`, `custom` or `plain` by name: sizes compare only within one kind."""
        if self.name.endswith(".dump"):
            return "custom"
        if self.name.endswith(".gz"):
            return "gzip"
        if self.name.endswith(".zst"):
            return "zstd"
        return "plain"


@dataclass(frozen=True)
class Skipped:
    """An entry named like a dump that is not read, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class Listing:
    """The dumps of one directory at one moment."""

    directory: Path
    patterns: tuple[str, ...]
    files: tuple[BackupFile, ...] = ()  # newest first
    skipped: tuple[Skipped, ...] = ()
    problem: str | None = None  # the directory itself could not be read

    @property
    def newest(self) -> BackupFile | None:
        """The most recently modified dump, if any."""
        return self.files[0] if self.files else None


def shown(name: str) -> str:
    """A file name on one line: control characters and undecodable bytes escaped."""
    if name.isprintable():
        return name
    return repr(name)[1:-1]


def matches(name: str, patterns: Iterable[str]) -> bool:
    """Whether `name` matches one of the shell-style `patterns` (case-sensitive)."""
    return any(
        fnmatchcase(name, pattern)
        for pattern in patterns
        if pattern.startswith(".") or not name.startswith(".")
    )


def list_backups(directory: Path, patterns: Sequence[str] = DEFAULT_PATTERNS) -> Listing:
    """The regular files in `directory` matching `patterns`, newest first; never opens one."""
    listing = Listing(directory=directory, patterns=tuple(patterns))
    try:
        root = directory.resolve(strict=True)
        with os.scandir(root) as entries:
            found = [entry.name for entry in entries if matches(entry.name, patterns)]
    except OSError as exc:
        return replace(listing, problem=f"cannot list the backup directory: {exc.strerror}")
    files: list[BackupFile] = []
    skipped: list[Skipped] = []
    for name in found:
        try:
            kept = regular(root, name)
        except OSError as exc:
            kept = f"cannot stat it: {exc.strerror}"
        if isinstance(kept, BackupFile):
            files.append(kept)
        else:
            skipped.append(Skipped(name, kept))
    files.sort(key=lambda f: (f.mtime_ns, f.name), reverse=True)
    skipped.sort(key=lambda s: s.name)
    return replace(listing, files=tuple(files), skipped=tuple(skipped))


def regular(root: Path, name: str) -> BackupFile | str:
    """The entry `name` of the (resolved) directory `root` as a BackupFile, or why it is
    skipped; OSError when it cannot be stat'ed."""
    path: Path | str = os.path.join(root, name)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        target = Path(os.path.realpath(path))
        if not target.is_relative_to(root):
            return "a symlink pointing outside the backup directory"
        try:
            info = target.stat()
        except OSError:
            return "a broken symlink"
        path = target
    if not stat.S_ISREG(info.st_mode):
        return f"not a regular file ({_file_type(info.st_mode)})"
    return BackupFile(name, path, info.st_size, info.st_mtime_ns)


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "unknown type"


def still_being_written(
    listing: Listing, previous: Listing | None, now: float, settle: float
) -> frozenset[str]:
    """Names of the dumps that may still grow: changed since the last look, or too young.

    A dump is settled once its size and mtime are what they were at the previous listing and
    it was last modified more than `settle` seconds before `now`. A file first seen already
    older than `settle` counts as settled: it was copied in whole, or written while we slept.
    """
    before = {f.name: f for f in previous.files} if previous else {}
    writing = set()
    for file in listing.files:
        seen = before.get(file.name)
        changed = seen is not None and (seen.size, seen.mtime_ns) != (file.size, file.mtime_ns)
        if changed or now - file.mtime < settle:
            writing.add(file.name)
    return frozenset(writing)


@dataclass(frozen=True)
class SizeComparison:
    """The newest dump's size against the median of the ones before it (of the same kind)."""

    newest: int
    median: float
    compared: int  # how many earlier dumps the median is of

    def drop(self) -> float:
        """The fraction the newest is below the median (negative when it grew)."""
        return 1 - self.newest / self.median if self.median else 0.0


def compare_sizes(files: Iterable[BackupFile], window: int = 7) -> SizeComparison | None:
    """The first of `files` (newest first) against up to `window` earlier ones of its kind
    (read only as far as those: at a year of dumps, the rest is never reached)."""
    them = iter(files)
    newest = next(them, None)
    if newest is None:
        return None
    earlier = list(islice((f.size for f in them if f.kind == newest.kind), window))
    if not earlier:
        return None
    return SizeComparison(newest.size, statistics.median(earlier), len(earlier))


def size_text(size: float) -> str:
    """A size for people: `512 B`, `1.2 KiB`, `24.0 MiB`."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size:.0f} B"
