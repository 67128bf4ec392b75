"""`volume`: the name of the named volume mounted (read-only) at `SIDECAR_DATA_DIR`.

Exactly the thing that changed in the incident: a renamed compose project mounts
`<new project>_<volume>` where `<old project>_<volume>` used to be.
"""

import os
from pathlib import Path

from sidecar.identity.mount import MountSource, MountTableError, read_mountinfo, volume_name
from sidecar.identity.reading import Absence, Reading, absent


class VolumeSource(MountSource):
    """The mounted volume's name, from /proc/self/mountinfo."""

    name = "volume"

    def read_mounted(self, directory: Path, status: os.stat_result) -> Reading:
        """The volume (or source path) mounted at the data directory."""
        try:
            name = volume_name(directory, read_mountinfo(self.mountinfo))
        except MountTableError as exc:
            return absent(self.name, Absence.ERROR, str(exc))
        if not name:
            return absent(self.name, Absence.ERROR, "no mount found")
        return Reading(self.name, name)
