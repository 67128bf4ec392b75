"""The sidecar's memory: identity baseline and per-table marks, kept in `SIDECAR_STATE_DIR`.

The file is replaced atomically (write a temporary file, fsync it, rename it over the old one,
fsync the directory), so a crash or kill -9 at any moment leaves the old or the new state,
never a torn one. A file that cannot be read or parsed is reported, never silently replaced:
the operator decides (`sidecar adopt`) whether to start over.
"""

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"
FORMAT = 1


class StateError(Exception):
    """The state file exists but cannot be used, or cannot be written."""


@dataclass
class TableMemory:
    """What we remember of one table."""

    high_water: int | None = None  # the largest row count seen while healthy
    newest: float | None = None  # the newest record time seen, epoch seconds


@dataclass
class Memory:
    """Everything remembered between cycles and across restarts."""

    identity: dict[str, Any] = field(default_factory=dict)  # source -> value
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
                name: {"high_water": t.high_water, "newest": t.newest}
                for name, t in sorted(self.tables.items())
            },
            "adopted_at": self.adopted_at,
        }

    @classmethod
    def from_json(cls, data: Any) -> "Memory":
        """Parse the on-disk form; raise StateError when it is not ours or not whole."""
        try:
            if data["format"] != FORMAT:
                raise StateError(f"unknown state format {data['format']!r}")
            identity = data["identity"]
            tables = {
                str(name): TableMemory(_opt_int(t["high_water"]), _opt_float(t["newest"]))
                for name, t in data["tables"].items()
            }
            sources = identity["sources"]
            if not isinstance(sources, dict):
                raise TypeError("identity sources must be an object")
            return cls(
                identity=dict(sources),
                identity_recorded_at=_opt_float(identity["recorded_at"]),
                tables=tables,
                adopted_at=_opt_float(data.get("adopted_at")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"state file is malformed ({type(exc).__name__}: {exc})") from None


def _opt_int(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


class StateStore:
    """Loads and atomically saves `Memory` in a directory (or keeps it in memory only)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._last_written: str | None = None

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
            text = path.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read {path}: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateError(f"{path} is corrupt (not JSON: {exc.msg})") from None
        memory = Memory.from_json(data)
        self._last_written = _serialise(memory)
        return memory

    def save(self, memory: Memory) -> bool:
        """Write `memory` atomically if it changed; return whether a write happened."""
        path = self.path
        if path is None or self.directory is None:
            return False
        text = _serialise(memory)
        if text == self._last_written:
            return False
        try:
            write_atomically(path, text)
        except OSError as exc:
            raise StateError(f"cannot write state in {self.directory}: {exc.strerror}") from None
        self._last_written = text
        return True


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a crash leaves the old or the new file, never a torn one.

    Creates the directory if needed; raises OSError. The temporary file is named
    `.<stem>-*.tmp` beside `path` (`.state-*.tmp` for `state.json`).
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _serialise(memory: Memory) -> str:
    return json.dumps(memory.to_json(), indent=2, sort_keys=True) + "\n"


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry itself is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
