"""`controlfile`: the cluster on the data volume (its `global/pg_control`), held against the
cluster the server runs (`cluster`, identity/cluster.py). PostgreSQL only.

`volume` and `inode` say which volume is mounted at `SIDECAR_DATA_DIR`; this says whether the
server's data is on it. They differ in PostgreSQL 18's trap: its image keeps the data in
`/var/lib/postgresql/18/docker` (`VOLUME /var/lib/postgresql`), so a compose file from 16 or 17
that mounts its named volume at `/var/lib/postgresql/data` leaves that volume empty and puts the
cluster on an anonymous volume the next `down` throws away, while every check of the server
passes. Here the volume holds no cluster while the server runs one: that fails at once.

The control file's first 8 bytes are the system identifier (src/include/catalog/pg_control.h:
`ControlFileData.system_identifier`, then `pg_control_version`), in the server's byte order.
PGDATA is `0700` for its owner: the sidecar reads it when it runs as that user (uid 999 in the
official image); otherwise the reading says so and nothing is judged on it.
"""

import errno
import os
from collections.abc import Mapping
from pathlib import Path

from sidecar.identity.mount import MountSource, shown
from sidecar.identity.reading import Absence, Reading, absent

_CONTROL = ("global", "pg_control")
_SIZE = 8192  # PG_CONTROL_FILE_SIZE: a file of another size is not a control file
# pg_control_version of PostgreSQL 9.6 (960) to a few majors past 18 (1800): a number outside
# says the bytes are something else (or another byte order).
_VERSIONS = range(900, 2500)
_LAYOUTS = ("", "data", "*/docker", "*/main")  # <=17 images, PGDATA=.../data, 18+, Debian


def _candidates(directory: Path) -> list[Path]:
    """Where a cluster may sit under the mount, in the layouts images use (bounded: a glob of
    one level each)."""
    found: list[Path] = []
    for layout in _LAYOUTS:
        found += [directory] if not layout else sorted(directory.glob(layout))[:8]
    return found


def read_control(pgdata: Path) -> str:
    """The system identifier in `pgdata`'s control file, as decimal text; OSError or
    ValueError when it cannot be read or is not a control file."""
    with open(pgdata.joinpath(*_CONTROL), "rb") as control:
        head = control.read(12)
        size = os.fstat(control.fileno()).st_size
    if size != _SIZE or len(head) < 12:
        raise ValueError("is not a control file (wrong size)")
    identifier = int.from_bytes(head[:8], "little")
    if int.from_bytes(head[8:12], "little") not in _VERSIONS:
        raise ValueError("is not a control file this sidecar knows")
    return str(identifier)


class ControlFileSource(MountSource):
    """The system identifier of the cluster on the data volume."""

    name = "controlfile"
    pinnable = False  # the same number as `cluster`, which is pinned

    def read_mounted(self, directory: Path, status: os.stat_result) -> Reading:
        """The first cluster found in the known layouts."""
        where = shown(os.fsencode(directory))
        try:
            pgdata = next((p for p in _candidates(directory) if (p / "PG_VERSION").exists()), None)
        except PermissionError:
            pgdata = directory
        if pgdata is None:
            return absent(self.name, Absence.GONE, f"the data volume at {where} holds no cluster")
        try:
            return Reading(self.name, read_control(pgdata))
        except PermissionError:
            return absent(
                self.name,
                Absence.NOT_GRANTED,
                f"cannot read {where}: run the sidecar as the user owning the data"
                " (uid 999 in the official image)",
            )
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return absent(self.name, Absence.GONE, f"no pg_control under {where}")
            return absent(self.name, Absence.ERROR, f"pg_control under {where}: {exc.strerror}")
        except ValueError as exc:
            return absent(self.name, Absence.ERROR, f"pg_control under {where} {exc}")

    def contradicts(self, readings: Mapping[str, Reading]) -> str | None:
        """The server runs a cluster that is not the one on the data volume."""
        ours, server = readings.get(self.name), readings.get("cluster")
        if ours is None or server is None or not server.present:
            return None
        if ours.present and ours.value != server.value:
            return (
                f"the server runs cluster {server.value} but the data volume holds cluster "
                f"{ours.value}: its data is not on this volume"
            )
        if ours.absence is Absence.GONE:
            return (
                f"{ours.note}, but the server runs cluster {server.value}: its data is elsewhere"
                " (an anonymous volume? postgres:18 keeps it in /var/lib/postgresql/18/docker:"
                " mount the volume at /var/lib/postgresql or set PGDATA to the mounted path)"
            )
        return None
