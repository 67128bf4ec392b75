"""What each dump held, remembered so that each file is read once.

    ledger = Ledger.load(state_dir / LEDGER_FILE)       # empty when there is none yet
    count = ledger.lookup(file, ["User"], "app", now)  # None: count it (off the event loop)
    ledger = ledger.record(file, count, now).keep(listing.files)
    ledger.save(state_dir / LEDGER_FILE)               # atomic, like the state file

An entry is keyed by the file's name, size and mtime: a dump rewritten in place (same name,
new content) is read again. It answers only for the tables and database it was counted for,
so watching a new table recounts. Problems that say something about the file (truncated,
not a dump, another database) stand as long as the file does; problems that say something
about the moment (unreadable, out of budget) are retried after `retry_after` seconds.
"""

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from sidecar.backups.catalog import BackupFile, shown
from sidecar.backups.dump import DumpCount, ProblemKind
from sidecar.state import write_atomically

LEDGER_FILE = "backups.json"
FORMAT = 1
RETRY_AFTER = 3600.0
_TRANSIENT = (ProblemKind.UNREADABLE, ProblemKind.BUDGET)


class LedgerError(Exception):
    """The ledger file exists but cannot be used."""


@dataclass(frozen=True)
class Entry:
    """One counted dump."""

    name: str
    size: int
    mtime_ns: int
    counted_at: float  # epoch seconds
    count: DumpCount

    def to_json(self) -> dict[str, Any]:
        """The on-disk form: a name that is not UTF-8 is kept as its bytes (`nameHex`)."""
        raw = os.fsencode(self.name)
        try:
            raw.decode("utf-8")
            named: dict[str, Any] = {"name": self.name}
        except UnicodeDecodeError:
            # A lone surrogate in JSON is rejected by strict parsers: the bytes, in hex,
            # and the name as shown, for a person reading the file.
            named = {"name": shown(self.name), "nameHex": raw.hex()}
        return {
            **named,
            "size": self.size,
            "mtimeNs": self.mtime_ns,
            "countedAt": self.counted_at,
            "count": self.count.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any) -> "Entry":
        """Read `to_json()`'s form; raise ValueError when it is not that."""
        try:
            name, size, mtime_ns, at = (
                data["name"],
                data["size"],
                data["mtimeNs"],
                data["countedAt"],
            )
            if "nameHex" in data:
                name = os.fsdecode(bytes.fromhex(_text(data["nameHex"])))
            if not isinstance(name, str) or not all(
                isinstance(n, int) and not isinstance(n, bool) for n in (size, mtime_ns)
            ):
                raise TypeError("name, size or mtimeNs has the wrong type")
            if isinstance(at, bool) or not isinstance(at, int | float):
                raise TypeError("countedAt is not a number")
            return cls(name, size, mtime_ns, float(at), DumpCount.from_json(data["count"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a ledger entry ({type(exc).__name__}: {exc})") from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class Ledger:
    """Counted dumps by file name; immutable (every change returns a new ledger)."""

    entries: tuple[Entry, ...] = ()

    def lookup(
        self,
        file: BackupFile,
        tables: Sequence[str],
        database: str,
        now: float,
        retry_after: float = RETRY_AFTER,
    ) -> DumpCount | None:
        """The count recorded for this very file covering `tables` in `database`, if usable."""
        entry = self.by_name.get(file.name)
        if entry is None or (entry.size, entry.mtime_ns) != (file.size, file.mtime_ns):
            return None
        count = entry.count
        if count.database != database or not set(tables) <= set(count.tables):
            return None
        if count.problem and count.problem.kind in _TRANSIENT:
            return count if now - entry.counted_at < retry_after else None
        return count

    @cached_property
    def by_name(self) -> dict[str, Entry]:
        """The entries by file name: a lookup per dump per cycle, at a year of dumps, must not
        scan them all (8,760 dumps cost 2.7 s a cycle that way)."""
        return {e.name: e for e in self.entries}

    def record(self, file: BackupFile, count: DumpCount, now: float) -> "Ledger":
        """This ledger with `count` as what `file` holds (replacing an older entry of its name)."""
        entries = dict(self.by_name)
        entries.pop(file.name, None)  # the newest record last, as before
        entries[file.name] = Entry(file.name, file.size, file.mtime_ns, now, count)
        return Ledger(tuple(entries.values()))

    def keep(self, files: Iterable[BackupFile]) -> "Ledger":
        """This ledger without the entries of files no longer in the directory."""
        names = {f.name for f in files}
        if all(e.name in names for e in self.entries):
            return self  # every cycle: keep the index built
        return replace(self, entries=tuple(e for e in self.entries if e.name in names))

    def to_json(self) -> dict[str, Any]:
        """The on-disk form, entries sorted by name."""
        entries = sorted(self.entries, key=lambda e: e.name)
        return {"format": FORMAT, "entries": [e.to_json() for e in entries]}

    @classmethod
    def from_json(cls, data: Any) -> "Ledger":
        """Read `to_json()`'s form; raise LedgerError when it is not ours or not whole."""
        try:
            if data["format"] != FORMAT:
                raise LedgerError(f"unknown ledger format {data['format']!r}")
            return cls(tuple(Entry.from_json(e) for e in data["entries"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise LedgerError(f"the backup ledger is malformed ({exc})") from None

    @classmethod
    def load(cls, path: Path) -> "Ledger":
        """The ledger saved at `path`; empty when there is none; LedgerError when unusable."""
        try:
            text = path.read_text()
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise LedgerError(f"cannot read {path}: {exc.strerror}") from None
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError as exc:
            raise LedgerError(f"{path} is corrupt (not JSON: {exc.msg})") from None

    def save(self, path: Path) -> None:
        """Write the ledger to `path` atomically; LedgerError when that fails."""
        try:
            write_atomically(path, json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n")
        except OSError as exc:
            raise LedgerError(f"cannot write {path}: {exc.strerror}") from None
