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


def invocation(cwd: Path, environ: dict[str, str] | None = None, /, **flags: object) -> Invocation:
    """An invocation from `cwd` with exactly `environ` (nothing of this process's)."""
    return Invocation(cwd=str(cwd), environ=dict(environ or {}), **flags)  # type: ignore[arg-type]


# The incident on a PostgreSQL stack: the official image before 18, its named volume where
# that image keeps the cluster, no top-level `name:`.
POSTGRES_INCIDENT = """\
services:
  postgres:
    image: docker.io/library/postgres:16
    volumes:
      - postgres_data:/var/lib/postgresql/data
volumes:
  postgres_data:
"""


def postgres_stack(image: str, target: str, pgdata: str = "", name: str = "") -> str:
    """A one-service PostgreSQL stack: `image`, its volume at `target`, PGDATA if given."""
    environment = f"    environment:\n      PGDATA: {pgdata}\n" if pgdata else ""
    top = f"name: {name}\n" if name else ""
    return (
        f"{top}services:\n  postgres:\n    image: {image}\n{environment}"
        f"    volumes:\n      - postgres_data:{target}\nvolumes:\n  postgres_data:\n"
    )
