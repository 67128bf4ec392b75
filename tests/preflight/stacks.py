"""Compose projects written to temporary directories, and invocations of them."""

from pathlib import Path

from sidecar.preflight.project import Invocation

# The incident's compose file, shortened to what decides the volume: no top-level `name:`.
INCIDENT = """\
services:
  mariadb:
    image: docker.io/library/mariadb:10.11
    volumes:
      - mariadb_production_data:/var/lib/mysql
volumes:
  mariadb_production_data:
"""


def write_project(root: Path, directory: str, files: dict[str, str]) -> Path:
    """Create `root/directory` holding `files` (name -> text); return the directory."""
    path = root / directory
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    return path


def invocation(cwd: Path, environ: dict[str, str] | None = None, **flags: object) -> Invocation:
    """An invocation from `cwd` with exactly `environ` (nothing of this process's)."""
    return Invocation(cwd=str(cwd), environ=dict(environ or {}), **flags)  # type: ignore[arg-type]
