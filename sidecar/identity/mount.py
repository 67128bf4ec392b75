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

from sidecar.database import Database
from sidecar.identity.reading import Absence, Reading, absent
from sidecar.identity.settings import IdentitySettings
from sidecar.identity.source import Source

MOUNTINFO = Path("/proc/self/mountinfo")
_NAMED_VOLUME = re.compile(r"/volumes/([^/]+)/_data$")


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal (\040 ...).
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def volume_name(data_dir: Path, mountinfo: str) -> str | None:
    """The named volume (or mounted source path) holding `data_dir`, from mountinfo text."""
    target = str(data_dir)
    best: tuple[str, str] | None = None  # (mount point, root within the source filesystem)
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) < 5:
            continue
        root, point = _unescape(fields[3]), _unescape(fields[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) > len(best[0])):
            best = (point, root)
    if best is None:
        return None
    point, root = best
    match = _NAMED_VOLUME.search(root)
    if match and target == point:
        return match.group(1)
    # Not a docker/podman named volume: name it by where it lives in its filesystem.
    relative = target[len(point) :].lstrip("/")
    return os.path.join(root, relative) if relative else root


class MountSource(Source):
    """A source read from the mounted data directory, not from the database."""

    def __init__(self, data_dir: Path | None, mountinfo: Path = MOUNTINFO) -> None:
        self.data_dir = data_dir
        self.mountinfo = mountinfo

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> Self:
        """Watch the configured data directory."""
        return cls(settings.data_dir)

    async def read(self, db: Database) -> Reading:
        """Silent without a data directory; the directory's error when it cannot be looked at."""
        if self.data_dir is None:
            return absent(self.name, Absence.NOT_CONFIGURED, "SIDECAR_DATA_DIR not set")
        directory = self.data_dir.resolve()
        try:
            status = os.stat(directory)
        except OSError as exc:
            return absent(self.name, Absence.ERROR, f"data directory not readable: {exc.strerror}")
        return self.read_mounted(directory, status)

    @abstractmethod
    def read_mounted(self, directory: Path, status: os.stat_result) -> Reading:
        """The reading for the (resolved, readable) data directory."""
