"""`inode`: the inode of the mounted data directory.

It changes whenever the directory is recreated (a new volume, a wiped and re-initialised
datadir), and not on a restart, a container recreated on the same volume, or a chown.
"""

import os
from pathlib import Path

from sidecar.identity.mount import MountSource
from sidecar.identity.reading import Reading


class InodeSource(MountSource):
    """The data directory's inode number."""

    name = "inode"

    def read_mounted(self, directory: Path, status: os.stat_result) -> Reading:
        """The inode, as text."""
        return Reading(self.name, str(status.st_ino))
