"""Where the data volume mounted into the sidecar comes from, read from the mount table.

In the incident podman-compose derived a new project prefix and mounted a new, empty named
volume; the mount table shows exactly that name:
`/var/lib/containers/storage/volumes/<project>_<volume>/_data /var/lib/mysql ro,...`.
Shared by the `volume` and `inode` sources.
"""

import os
import re
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
NOT_SET = "SIDECAR_DATA_DIR not set"
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


def stat(data_dir: Path) -> os.stat_result | str:
    """The data directory's status, or why it cannot be looked at."""
    try:
        return os.stat(data_dir.resolve())
    except OSError as exc:
        return f"data directory not readable: {exc.strerror}"
