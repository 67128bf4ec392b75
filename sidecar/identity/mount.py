"""Where the data volume mounted into the sidecar comes from, read from the mount table.

In the incident podman-compose derived a new project prefix and mounted a new, empty named
volume; the mount table shows exactly that name:
`/var/lib/containers/storage/volumes/<project>_<volume>/_data /var/lib/mysql ro,...`.
Shared by the `volume` and `inode` sources.
"""

import os
import re
from abc import abstractmethod
from pathlib import Path
from typing import Self

from sidecar.engines.base import Database
from sidecar.identity.reading import Absence, Reading, absent
from sidecar.identity.settings import IdentitySettings
from sidecar.identity.source import Source

MOUNTINFO = Path("/proc/self/mountinfo")
# A line is about 150 bytes: room for 50,000 mounts (a busy Kubernetes node has a few thousand).
MAX_BYTES = 8 * 1024 * 1024
_NAMED_VOLUME = re.compile(rb"/volumes/([^/]+)/_data$")
_OCTAL = re.compile(rb"\\([0-7]{3})")
_NUMBER = re.compile(rb"[0-9]+")
_DEVICE = re.compile(rb"[0-9]+:[0-9]+")


class MountTableError(Exception):
    """The mount table cannot be read (or is larger than anything we expect)."""


def read_mountinfo(path: Path = MOUNTINFO) -> bytes:
    """The mount table as bytes, bounded; MountTableError saying why it cannot be read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise MountTableError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise MountTableError(f"{path} is larger than {MAX_BYTES // 2**20} MiB")
    return data


def _unescape(field: bytes) -> bytes:
    # The kernel escapes space, tab, newline and backslash as octal (\040 ...); paths are bytes
    # in any encoding, so they stay bytes until shown.
    return _OCTAL.sub(lambda m: bytes([int(m.group(1), 8) & 0xFF]), field)


def shown(path: bytes) -> str:
    """`path` as text: undecodable bytes escaped (`\\xff`), never a lone surrogate that strict
    JSON parsers reject; the same bytes always show the same way."""
    return path.decode("utf-8", "backslashreplace")


def _mount(line: bytes) -> tuple[bytes, bytes] | None:
    """(root, mount point) of one mountinfo line, or None when the line is not one."""
    fields = line.split(b" ")
    # id, parent id, major:minor, root, mount point, options, [optional...], "-", type, ...
    if len(fields) < 7 or b"-" not in fields[6:]:
        return None
    if not (_NUMBER.fullmatch(fields[0]) and _NUMBER.fullmatch(fields[1])):
        return None
    if not _DEVICE.fullmatch(fields[2]):
        return None
    root, point = _unescape(fields[3]), _unescape(fields[4])
    if not (root.startswith(b"/") and point.startswith(b"/")):
        return None
    return root, point


def volume_name(data_dir: Path, mountinfo: bytes) -> str | None:
    """The named volume (or mounted source path) holding `data_dir`, from mountinfo bytes.

    A line that is not a mount (torn, truncated, garbage) is skipped: it cannot be ours, and
    it must not hide the one that is."""
    target = os.fsencode(data_dir)
    best: tuple[bytes, bytes] | None = None  # (mount point, root within the source filesystem)
    for line in mountinfo.split(b"\n"):
        mount = _mount(line)
        if mount is None:
            continue
        root, point = mount
        inside = target == point or target.startswith(point.rstrip(b"/") + b"/")
        # The longest mount point wins; among equals the later line, which is mounted over it.
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, root)
    if best is None:
        return None
    point, root = best
    match = _NAMED_VOLUME.search(root)
    if match and target == point:
        return shown(match.group(1))
    # Not a docker/podman named volume: name it by where it lives in its filesystem.
    relative = target[len(point) :].lstrip(b"/")
    return shown(os.path.join(root, relative) if relative else root)


class MountSource(Source):
    """A source read from the mounted data directory, not from the database."""

    def __init__(self, data_dir: Path | None, mountinfo: Path = MOUNTINFO) -> None:
        self.data_dir = data_dir
        self.mountinfo = mountinfo

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> Self:
        """Watch the configured data directory."""
        return cls(settings.data_dir)

    def configured(self) -> bool:
        """Configured by `SIDECAR_DATA_DIR`."""
        return self.data_dir is not None

    async def read(self, db: Database) -> Reading:
        """Silent without a data directory; the directory's error when it cannot be looked at."""
        if self.data_dir is None:
            return absent(self.name, Absence.NOT_CONFIGURED, "SIDECAR_DATA_DIR not set")
        try:
            directory = self.data_dir.resolve()
            status = os.stat(directory)
        except OSError as exc:
            where = shown(os.fsencode(self.data_dir))
            return absent(self.name, Absence.ERROR, f"SIDECAR_DATA_DIR {where}: {exc.strerror}")
        return self.read_mounted(directory, status)

    @abstractmethod
    def read_mounted(self, directory: Path, status: os.stat_result) -> Reading:
        """The reading for the (resolved, readable) data directory."""
