"""podman and podman-compose for the end-to-end runs, and the DNS state podman can leave stale.

netavark keeps one aardvark-dns file per network under /run/containers/networks/aardvark-dns/:
its first line is the network's gateway (where aardvark-dns listens), then one line per
container. A container killed without its clean-up leaves its line, so the file outlives its
network. When a network of the same name is created again, netavark appends to that file and
keeps its first line: aardvark-dns then answers on the OLD gateway while the containers ask the
new one, and no service name resolves. That is how an interrupted run with fixed project names
broke every later one. Runs now use names of their own, and a file left for a network podman
no longer has is removed before it can be reused.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

from tests.support.engines import Engine

REPO = Path(__file__).resolve().parents[2]
# podman's settings for the tests (runc, ulimits), in place of the host's containers.conf: the
# tests change no host setting. tests/e2e/run.sh and build-images.sh export the same file.
CONTAINERS_CONF = REPO / "tests" / "e2e" / "containers.conf"
AARDVARK_DIR = Path("/run/containers/networks/aardvark-dns")
# Networks of the e2e before its names became unique per run: only ever made by this suite.
LEGACY_NETWORKS = frozenset(
    {"meaningful-conversations-production_default", "manualmode-production_default"}
)
# What tests/preflight/test_real_engine.py made before its names carried a run id (a random
# suffix only): a killed run's volumes stayed, and every later preflight on the machine listed
# them as "also holding" the key, which broke the e2e's exact wording. Only this suite made them.
_LEGACY_SUFFIXED = re.compile(
    r"^(?:pod_)?(?:meaningful-conversations-production|manualmode-production)-[0-9a-f]{8}(?:_.*)?$"
)


def legacy_suffixed(name: str) -> bool:
    """Whether `name` is one of the suite's own objects from before run ids (see above)."""
    return _LEGACY_SUFFIXED.match(name) is not None


def podman_compose() -> str | None:
    """The podman-compose the e2e uses: the virtual environment's, else the one on PATH."""
    venv = REPO / ".venv" / "bin" / "podman-compose"
    return str(venv) if venv.exists() else shutil.which("podman-compose")


def environ() -> dict[str, str]:
    """What every podman and podman-compose call of the tests gets: the tests' own settings
    (an operator's CONTAINERS_CONF wins)."""
    return {"CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(CONTAINERS_CONF))}


def engine() -> Engine:
    """Rootful podman with podman-compose, on the tests' own containers.conf."""
    return Engine(
        name="podman",
        cli=("podman",),
        compose_cli=(podman_compose() or "podman-compose",),
        separator="_",
        runs_healthchecks=False,
        env=environ(),
    )


def available() -> bool:
    """Whether podman can be driven here (installed, and we are root)."""
    return os.geteuid() == 0 and shutil.which("podman") is not None


def stale_dns_files(podman: Engine, match: Callable[[str], bool]) -> list[Path]:
    """aardvark-dns files of matching networks that podman no longer has."""
    if not AARDVARK_DIR.is_dir():
        return []
    # Files first, networks second: a file listed before a network that is missing after it
    # cannot belong to a network being created right now.
    files = [p for p in AARDVARK_DIR.iterdir() if p.name != "aardvark.pid" and match(p.name)]
    networks = set(podman.names("networks"))
    return [p for p in files if p.name not in networks]


def clear_stale_dns(podman: Engine, match: Callable[[str], bool]) -> list[str]:
    """Remove stale aardvark-dns files of matching networks; what went.

    aardvark-dns re-reads its directory on SIGHUP (and exits once no network is left).
    """
    removed = []
    for path in stale_dns_files(podman, match):
        path.unlink(missing_ok=True)
        removed.append(f"aardvark-dns entry {path.name}")
    if removed:
        with contextlib.suppress(OSError, ValueError):
            pid = int((AARDVARK_DIR / "aardvark.pid").read_text().strip())
            if "aardvark-dns" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                os.kill(pid, signal.SIGHUP)
    return removed
