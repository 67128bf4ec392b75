"""The data volume mounted (read-only) into the sidecar: its volume name and directory inode.

In the incident podman-compose derived a new project prefix and mounted a new, empty named
volume; the mount table shows exactly that name:
`/var/lib/containers/storage/volumes/<project>_<volume>/_data /var/lib/mysql ro,...`.
The inode of the mounted directory changes whenever the directory is recreated, and not on a
restart or a container recreated on the same volume.
"""

import os
import re
from pathlib import Path

from sidecar.identity.reading import Absence, Reading, absent

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


def read(
    data_dir: Path | None, mountinfo_path: Path = Path("/proc/self/mountinfo")
) -> list[Reading]:
    """Readings `volume` and `inode` for the mounted data directory."""
    if data_dir is None:
        note = "SIDECAR_DATA_DIR not set"
        return [
            absent("volume", Absence.NOT_CONFIGURED, note),
            absent("inode", Absence.NOT_CONFIGURED, note),
        ]
    resolved = data_dir.resolve()
    try:
        inode = os.stat(resolved).st_ino
    except OSError as exc:
        note = f"data directory not readable: {exc.strerror}"
        return [absent("volume", Absence.ERROR, note), absent("inode", Absence.ERROR, note)]
    try:
        name = volume_name(resolved, mountinfo_path.read_text())
    except OSError:
        name = None
    volume = Reading("volume", name) if name else absent("volume", Absence.ERROR, "no mount found")
    return [volume, Reading("inode", str(inode))]
