"""The sidecar's memory: identity baseline and per-table marks, kept in `SIDECAR_STATE_DIR`.

The file is replaced atomically (write a temporary file, fsync it, rename it over the old one,
fsync the directory), so a crash or kill -9 at any moment leaves the old or the new state,
never a torn one. A file that cannot be read or parsed is reported, never silently replaced:
the operator decides (`sidecar adopt`) whether to start over. The read is bounded (`MAX_BYTES`,
`MAX_DEPTH`) and every way a file can be damaged is one `StateError`; the service sets a
damaged file aside (`state.json.corrupt`, renamed, never deleted) and keeps reporting it, also
after a restart, until `sidecar adopt` writes a new one.

One writer: `sidecar adopt` may write while `sidecar serve` runs on the same directory. Writes
hold an exclusive lock (flock) on the state directory itself, and the service writes only over
the file it last read or wrote itself; a file changed by someone else is read back at the next
cycle instead of being overwritten with older memory. A second `sidecar serve` is another
matter (two loops learning and saving in turn, two journals): `serving` holds `serve.lock` in
the directory for the service's life, a lock of its own so adopt's short writes never wait
on it, and the kernel drops it however the process ends.
"""

import contextlib
import fcntl
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sidecar import boundedjson

log = logging.getLogger("sidecar.state")

STATE_FILE = "state.json"
SERVE_LOCK = "serve.lock"
FORMAT = 1
# A state of 15,000 tables with a schema baseline is about 3 MB: room for five times that, and
# a 3 GB file costs one bounded read instead of the memory of the host.
MAX_BYTES = 16 * 1024 * 1024
# Ours nests four levels (identity, sources, schema, table).
MAX_DEPTH = 8
ASIDE_SUFFIX = ".corrupt"


class StateError(Exception):
    """The state file exists but cannot be used, or cannot be written."""

    remedy = "fix it, move it aside, or run sidecar adopt"

    def line(self) -> str:
        """The reason with what the operator can do about it."""
        return f"{self} ({self.remedy})"


class StateCorrupt(StateError):
    """The state file was read but does not hold our memory."""


class StateDirectoryBusy(StateError):
    """Another `sidecar serve` holds the state directory."""


class StateSetAside(StateError):
    """A damaged state file was set aside and nothing has replaced it yet."""

    remedy = "run sidecar adopt to start a new baseline, or repair it and move it back"


# An identity source's value: text for most sources, table -> creation time for `schema`.
IdentityValue = str | dict[str, float]


@dataclass
class TableMemory:
    """What we remember of one table."""

    high_water: int | None = None  # the largest row count seen while healthy
    newest: float | None = None  # the newest record time seen, epoch seconds
    count: int | None = None  # the exact count of the last healthy cycle
    created: float | None = None  # the table's creation time in the last healthy cycle
    generation: str | None = None  # what changes when it is created anew (its OID on PostgreSQL)


@dataclass
class Memory:
    """Everything remembered between cycles and across restarts."""

    identity: dict[str, IdentityValue] = field(default_factory=dict)  # source -> value
    identity_recorded_at: float | None = None
    tables: dict[str, TableMemory] = field(default_factory=dict)
    adopted_at: float | None = None

    def table(self, name: str) -> TableMemory:
        """The memory of `name`, created empty on first use."""
        return self.tables.setdefault(name, TableMemory())

    def to_json(self) -> dict[str, Any]:
        """The on-disk form."""
        return {
            "format": FORMAT,
            "identity": {"recorded_at": self.identity_recorded_at, "sources": self.identity},
            "tables": {
                name: {
                    "high_water": t.high_water,
                    "newest": t.newest,
                    "count": t.count,
                    "created": t.created,
                    "generation": t.generation,
                }
                for name, t in sorted(self.tables.items())
            },
            "adopted_at": self.adopted_at,
        }

    @classmethod
    def from_json(cls, data: Any) -> "Memory":
        """Parse the on-disk form; raise StateError when it is not ours or not whole."""
        try:
            if data["format"] != FORMAT:
                # Not damage: a newer sidecar's memory, kept where it is for that version.
                raise StateError(f"state file has unknown format {data['format']!r}")
            identity = data["identity"]
            tables = {
                str(name): TableMemory(
                    _opt_int(t["high_water"]),
                    optional_float(t["newest"]),
                    # Absent in state written before these were remembered.
                    _opt_int(t.get("count")),
                    optional_float(t.get("created")),
                    _opt_text(t.get("generation")),
                )
                for name, t in data["tables"].items()
            }
            sources = identity["sources"]
            if not isinstance(sources, dict):
                raise TypeError("identity sources must be an object")
            return cls(
                identity={str(name): _identity_value(value) for name, value in sources.items()},
                identity_recorded_at=optional_float(identity["recorded_at"]),
                tables=tables,
                adopted_at=optional_float(data.get("adopted_at")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateCorrupt(f"state file is corrupt: {type(exc).__name__}: {exc}") from None


class Lesson(Protocol):
    """Something a check learned in a cycle; the evaluator applies it to the memory it keeps."""

    def apply(self, memory: Memory) -> None:
        """Change `memory` accordingly."""
        ...


@dataclass(frozen=True)
class SetHighWater:
    """The table's high-water mark is now `value`."""

    table: str
    value: int | None

    def apply(self, memory: Memory) -> None:
        """Record the mark."""
        memory.table(self.table).high_water = self.value


@dataclass(frozen=True)
class SetNewest:
    """The table's newest remembered record is now `value` (epoch seconds)."""

    table: str
    value: float | None

    def apply(self, memory: Memory) -> None:
        """Record the newest record."""
        memory.table(self.table).newest = self.value


@dataclass(frozen=True)
class SetLastSeen:
    """The table held `count` rows (None: not counted exactly), was created at `created` and
    is of `generation`."""

    table: str
    count: int | None
    created: float | None
    generation: str | None = None

    def apply(self, memory: Memory) -> None:
        """Record what was seen; an estimate keeps the last exact count."""
        table = memory.table(self.table)
        if self.count is not None:
            table.count = self.count
        table.created = self.created
        table.generation = self.generation


@dataclass(frozen=True)
class SetIdentity:
    """The identity baseline is now `sources`, recorded at `recorded_at`."""

    sources: Mapping[str, IdentityValue]
    recorded_at: float | None

    def apply(self, memory: Memory) -> None:
        """Record the baseline."""
        memory.identity = dict(self.sources)
        memory.identity_recorded_at = self.recorded_at


def _identity_value(value: Any) -> IdentityValue:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        times = {str(table): optional_float(created) for table, created in value.items()}
        return {table: created for table, created in times.items() if created is not None}
    raise TypeError(f"expected an identity value, got {value!r}")


def _opt_int(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _opt_text(value: Any) -> str | None:
    # A generation is short text (an OID, a creation second): anything longer is not ours.
    if value is not None and (not isinstance(value, str) or len(value) > 64):
        raise TypeError(f"expected a short string, got {value!r}")
    return value


def optional_float(value: Any) -> float | None:
    """A JSON number (or null) as a float; TypeError for anything else (a bool included)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


class StateStore:
    """Loads and atomically saves `Memory` in a directory (or keeps it in memory only).

    With `set_aside` (the service) a damaged file is renamed out of the way when read, so the
    operator finds it whole beside the new state `sidecar adopt` writes."""

    def __init__(self, directory: Path | None, set_aside: bool = False) -> None:
        self.directory = directory
        self._sets_aside = set_aside
        self._last_written: str | None = None
        # (inode, mtime, size) of the file as we last read or wrote it: anything else on disk
        # was written by someone else (`sidecar adopt`).
        self._known: tuple[int, int, int] | None = None

    @property
    def path(self) -> Path | None:
        """The state file, or None when memory is not persisted."""
        return self.directory / STATE_FILE if self.directory else None

    def load(self) -> Memory | None:
        """The saved memory; None when there is none yet; StateError when it is unusable."""
        path = self.path
        if path is None:
            return None
        try:
            data, identity = _read_regular(path, MAX_BYTES)
        except FileNotFoundError:
            self._refuse_a_fresh_start()
            return None
        except OSError as exc:
            raise StateError(f"cannot read {path}: {exc.strerror}") from None
        self._known = identity
        try:
            if len(data) > MAX_BYTES:
                raise StateCorrupt(f"state file is corrupt: larger than {MAX_BYTES // 2**20} MiB")
            try:
                parsed = boundedjson.loads(data, MAX_DEPTH)
            except boundedjson.JSONRefused as exc:
                raise StateCorrupt(f"state file is corrupt: {exc}") from None
            memory = Memory.from_json(parsed)
        except StateCorrupt as exc:
            if self._sets_aside:
                raise self._put_aside(path, identity, str(exc)) from None
            raise
        self._last_written = _serialise(memory)
        return memory

    def _refuse_a_fresh_start(self) -> None:
        """No state file, but one was set aside: starting over is the operator's decision."""
        assert self.directory is not None
        aside = list(self.directory.glob(f"{STATE_FILE}{ASIDE_SUFFIX}*"))
        if aside:
            newest = max(aside, key=lambda found: found.lstat().st_mtime_ns)
            raise StateSetAside(f"a damaged state file was set aside as {newest}")

    def _put_aside(self, path: Path, identity: tuple[int, int, int], why: str) -> StateError:
        """Rename the damaged file we read (not one adopt wrote since) to a free name."""
        assert self.directory is not None
        try:
            with self._locked():
                if _identity(os.stat(path)) != identity:
                    return StateCorrupt(why)  # replaced meanwhile: the next cycle reads that
                aside = set_aside(path)
        except OSError as exc:
            return StateCorrupt(f"{why}; could not set it aside: {exc.strerror}")
        return StateSetAside(f"{why}; set aside as {aside}")

    def changed_on_disk(self) -> bool:
        """Whether someone else replaced the file since we last read or wrote it."""
        path = self.path
        if path is None:
            return False
        try:
            now = _identity(os.stat(path))
        except FileNotFoundError:
            return False  # nothing newer to read; our next write creates it
        except OSError:
            return True  # let `load` say what is wrong
        return now != self._known

    def reload_if_changed(self) -> Memory | None:
        """The memory someone else wrote since we last looked, or None; StateError if unusable."""
        if not self.changed_on_disk():
            return None
        return self.load() or Memory()

    def save(self, memory: Memory, force: bool = False) -> bool:
        """Write `memory` atomically if it changed; return whether a write happened.

        Without `force` nothing is written over a file someone else changed since we last
        read or wrote it: that file is newer than our memory (`reload_if_changed` picks it up).
        """
        path = self.path
        if path is None or self.directory is None:
            return False
        text = _serialise(memory)
        if text == self._last_written and not force:
            return False
        if len(text) > MAX_BYTES:  # it could not be read back
            raise StateError(f"memory of {len(text) // 2**20} MiB is over {MAX_BYTES // 2**20} MiB")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._locked():
                if not force and self.changed_on_disk():
                    return False
                write_atomically(path, text)
                self._known = _identity(os.stat(path))
        except OSError as exc:
            raise StateError(f"cannot write state in {self.directory}: {exc.strerror}") from None
        self._last_written = text
        return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        assert self.directory is not None
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def serving(directory: Path | None) -> Iterator[None]:
    """Hold `directory` for one service while the block runs; StateDirectoryBusy naming the
    holder's pid when another service holds it."""
    if directory is None:
        yield
        return
    path = directory / SERVE_LOCK
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Held read-only: a file open for writing would keep the filesystem from being
        # remounted read-only under the service (the faults tests do just that).
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        # A read-only state directory still serves (its writes warn each cycle); it just
        # cannot be claimed. Say so rather than refuse what worked before.
        log.warning(
            "cannot lock %s (%s): a second sidecar serve would not be stopped", path, exc.strerror
        )
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            holder = f"pid {pid}" if pid.isdigit() else "its pid not yet written"
            raise StateDirectoryBusy(
                f"{directory} is in use by another sidecar serve ({holder}): one service per "
                "state directory; stop that one or give this one a directory of its own"
            ) from None
        with contextlib.suppress(OSError):  # the pid only helps the message
            path.write_text(f"{os.getpid()}\n")
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _identity(status: os.stat_result) -> tuple[int, int, int]:
    return status.st_ino, status.st_mtime_ns, status.st_size


def _read_regular(path: Path, cap: int) -> tuple[bytes, tuple[int, int, int]]:
    """Up to `cap + 1` bytes of a regular file (more than `cap`: too large, whatever its size);
    a FIFO, device or directory is refused, never waited on."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(0, "not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(cap + 1), _identity(status)
    finally:
        os.close(fd)


def set_aside(path: Path) -> Path:
    """Rename a damaged `path` to `<name>.corrupt` (`.corrupt.2`, ... when taken: an earlier
    one is never overwritten), durably; return the new path. OSError when it cannot be."""
    aside = path.with_name(f"{path.name}{ASIDE_SUFFIX}")
    number = 1
    while aside.exists():
        number += 1
        aside = path.with_name(f"{path.name}{ASIDE_SUFFIX}.{number}")
    os.rename(path, aside)
    fsync_directory(path.parent)
    return aside


def write_atomically(path: Path, data: str | bytes) -> None:
    """Replace `path` with `data` so that a crash leaves the old or the new file, never a torn one.

    Creates the directory if needed; raises OSError. The temporary file is named
    `.<stem>-*.tmp` beside `path` (`.state-*.tmp` for `state.json`).
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name.split('.')[0]}-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)


def _serialise(memory: Memory) -> str:
    return json.dumps(memory.to_json(), indent=2, sort_keys=True) + "\n"


def fsync_directory(directory: Path) -> None:
    """Make renames and new files in `directory` durable."""
    # The rename is durable only once the directory entry itself is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
