"""`volume`: the name of the named volume mounted (read-only) at `SIDECAR_DATA_DIR`.

Exactly the thing that changed in the incident: a renamed compose project mounts
`<new project>_<volume>` where `<old project>_<volume>` used to be.
"""

from pathlib import Path
from typing import Self

from sidecar.database import Database
from sidecar.identity import mount
from sidecar.identity.reading import Absence, Reading, absent
from sidecar.identity.settings import IdentitySettings
from sidecar.identity.source import Source


class VolumeSource(Source):
    """The mounted volume's name, from /proc/self/mountinfo."""

    name = "volume"

    def __init__(self, data_dir: Path | None, mountinfo: Path = mount.MOUNTINFO) -> None:
        self.data_dir = data_dir
        self.mountinfo = mountinfo

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> Self:
        """Watch the configured data directory."""
        return cls(settings.data_dir)

    async def read(self, db: Database) -> Reading:
        """The volume (or source path) mounted at the data directory."""
        if self.data_dir is None:
            return absent(self.name, Absence.NOT_CONFIGURED, mount.NOT_SET)
        status = mount.stat(self.data_dir)
        if isinstance(status, str):
            return absent(self.name, Absence.ERROR, status)
        try:
            name = mount.volume_name(self.data_dir.resolve(), self.mountinfo.read_text())
        except OSError:
            name = None
        if not name:
            return absent(self.name, Absence.ERROR, "no mount found")
        return Reading(self.name, name)
