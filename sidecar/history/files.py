"""The history on disk, beside `state.json`: a snapshot replaced atomically, and a journal of
what happened since, appended to with a checksum on every line.

- `history.json.gz`: everything up to journal line `through`, written to a temporary file,
  fsynced and renamed over the old one (as `state.json` is), so a crash leaves the old or the
  new snapshot. gzip's own CRC tells a damaged one.
- `history.log`: one line per cycle, event or change of marks, `<crc32> <json>`, numbered.
  Events are fsynced at once; cycle samples at least every minute (a crash may lose the last
  minute of chart, never an event). A line torn by a crash fails its checksum and is dropped.

Compaction writes a new snapshot and only then empties the journal; lines numbered at or below
the snapshot's `through` are skipped when read, so a crash between the two loses nothing.
A reader takes the journal first and the snapshot second, so a compaction in between cannot
hide a line from it. Files that cannot be read are reported, set aside (`*.corrupt`, one copy
each, replaced by the next) by the service, and never break the verdict.
"""

import gzip
import json
import logging
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidecar.state import fsync_directory, write_atomically

log = logging.getLogger("sidecar.history")

SNAPSHOT = "history.json.gz"
JOURNAL = "history.log"
FORMAT = 1
# Bounds on what is read (a damaged or hostile file costs at most this much memory, then is
# reported). A journal holds at most COMPACT_LINES lines between compactions, each a few KB
# (a cycle of 200 watched tables is about 16 KB); a year's snapshot of one table is about 1.5 MB
# of JSON, so 256 MiB leaves room for well over a hundred tables and all the events.
MAX_LINE = 1024 * 1024
MAX_JOURNAL = 64 * 1024 * 1024
MAX_SNAPSHOT = 256 * 1024 * 1024  # decompressed; the compressed file is smaller still
MAX_SEQ = 2**63 - 1


@dataclass
class OnDisk:
    """What was read: the snapshot (if usable), the journal lines after it, and problems."""

    snapshot: dict[str, Any] | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)  # names of files to set aside
    journal_lines: int = 0  # lines in the journal, good or not (compaction is due by them)


def encode(entry: dict[str, Any]) -> bytes:
    """One journal line: the CRC-32 of the JSON, then the JSON."""
    text = json.dumps(entry, separators=(",", ":"), allow_nan=False).encode()
    return b"%08x %s\n" % (zlib.crc32(text), text)


def parse_json(data: bytes) -> Any:
    """JSON from bytes, or ValueError: bad UTF-8, too deep (the C parser's recursion limit,
    about a thousand levels, where ours are five deep) and integers of more than 4300 digits
    (Python's own limit) all come out as ValueError."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def decode(line: bytes) -> dict[str, Any] | None:
    """The entry of a journal line, or None when its size, checksum or JSON is wrong."""
    if len(line) > MAX_LINE:
        return None
    crc, _, text = line.partition(b" ")
    try:
        if len(crc) != 8 or int(crc, 16) != zlib.crc32(text):
            return None
        entry = parse_json(text)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    number = entry.get("seq")
    if isinstance(number, bool) or not isinstance(number, int) or not 0 < number <= MAX_SEQ:
        return None
    return entry


def read_bounded(path: Path, most: int) -> bytes | None:
    """The file's bytes, None when it is missing; ValueError when it holds more than `most`."""
    try:
        with path.open("rb") as file:
            data = file.read(most + 1)
    except FileNotFoundError:
        return None
    if len(data) > most:
        raise ValueError(f"larger than {most // (1024 * 1024)} MiB")
    return data


def unpack(packed: bytes, most: int) -> bytes:
    """Gunzip with a cap on the output (a small bomb would otherwise expand without bound)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(packed, most + 1)
    except zlib.error as exc:
        raise ValueError(f"not gzip ({exc})") from None
    if len(data) > most:
        raise ValueError(f"expands past {most // (1024 * 1024)} MiB")
    if not inflater.eof:
        raise ValueError("truncated")
    return data


class HistoryFiles:
    """The snapshot and the journal in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.snapshot_path = directory / SNAPSHOT
        self.journal_path = directory / JOURNAL

    def read(self) -> OnDisk:
        """Journal first, then the snapshot (see the module docstring)."""
        found = OnDisk()
        journal = b""
        try:
            journal = read_bounded(self.journal_path, MAX_JOURNAL) or b""
        except OSError as exc:
            found.problems.append(f"cannot read {JOURNAL}: {exc.strerror}")
        except ValueError as exc:
            found.problems.append(f"{JOURNAL} is {exc}: not read")
            found.corrupt.append(JOURNAL)
        packed = None
        try:
            packed = read_bounded(self.snapshot_path, MAX_SNAPSHOT)
        except OSError as exc:
            found.problems.append(f"cannot read {SNAPSHOT}: {exc.strerror}")
        except ValueError as exc:
            found.problems.append(f"{SNAPSHOT} is corrupt ({exc})")
            found.corrupt.append(SNAPSHOT)
        through = 0
        if packed is not None:
            try:
                snapshot = parse_json(unpack(packed, MAX_SNAPSHOT))
                if not isinstance(snapshot, dict) or snapshot.get("format") != FORMAT:
                    raise ValueError("not a sidecar history")
                mark = snapshot.get("through")
                if isinstance(mark, bool) or not isinstance(mark, int) or not 0 <= mark <= MAX_SEQ:
                    raise ValueError("no journal line number")
                through, found.snapshot = mark, snapshot
            except ValueError as exc:
                found.problems.append(f"{SNAPSHOT} is corrupt ({exc})")
                found.corrupt.append(SNAPSHOT)
                through = 0
        raw_lines = journal.split(b"\n")
        torn = raw_lines.pop() if raw_lines else b""  # after the last newline: a torn write
        found.journal_lines = len(raw_lines) + bool(torn)
        damaged = 0
        for raw in raw_lines:
            entry = decode(raw)
            if entry is None:
                damaged += 1
            elif entry["seq"] > through:
                found.lines.append(entry)
        if torn:
            log.info("dropped a torn last line of %s (a crash mid-write)", JOURNAL)
        if damaged:
            found.problems.append(f"{damaged} damaged lines of {JOURNAL} skipped")
            found.corrupt.append(JOURNAL)
        return found

    def set_aside(self, name: str) -> str:
        """Rename a file that could not be read to `<name>.corrupt`; return the new name."""
        aside = f"{name}.corrupt"
        os.replace(self.directory / name, self.directory / aside)
        fsync_directory(self.directory)
        return aside

    def append(self, entries: list[dict[str, Any]], sync: bool) -> None:
        """Append `entries` to the journal; fsync when `sync`.

        The journal is opened for each append and closed again: a file held open for writing
        would keep the filesystem from being remounted read-only under the service."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"".join(encode(entry) for entry in entries))
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def sync(self) -> None:
        """Make what was appended durable (fsync reaches every write to the file)."""
        try:
            fd = os.open(self.journal_path, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def compact(self, snapshot: dict[str, Any]) -> int:
        """Replace the snapshot, then empty the journal; return the snapshot's size in bytes."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = gzip.compress(
            json.dumps({**snapshot, "format": FORMAT}, separators=(",", ":")).encode(),
            compresslevel=6,
            mtime=0,
        )
        write_atomically(self.snapshot_path, data)
        write_atomically(self.journal_path, b"")
        return len(data)
