"""`inode`: the inode of the mounted data directory.

It changes whenever the directory is recreated (a new volume, a wiped and re-initialised
datadir), and not on a restart or a container recreated on the same volume.
"""

from pathlib import Path
from typing import Self

from sidecar.database import Database
from sidecar.identity import mount
from sidecar.identity.reading import Absence, Reading, absent
from sidecar.identity.settings import IdentitySettings
from sidecar.identity.source import Source


class InodeSource(Source):
    """The data directory's inode number."""

    name = "inode"

    def __init__(self, data_dir: Path | None) -> None:
        self.data_dir = data_dir

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> Self:
        """Watch the configured data directory."""
        return cls(settings.data_dir)

    async def read(self, db: Database) -> Reading:
        """The inode of the data directory, as text."""
        if self.data_dir is None:
            return absent(self.name, Absence.NOT_CONFIGURED, mount.NOT_SET)
        status = mount.stat(self.data_dir)
        if isinstance(status, str):
            return absent(self.name, Absence.ERROR, status)
        return Reading(self.name, str(status.st_ino))
