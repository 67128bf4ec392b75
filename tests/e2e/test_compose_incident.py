"""The 27.11.2025 incident replayed with real podman-compose, and the fix proven the same way.

The stack is compose/ as an operator deploys it: MariaDB, the sidecar (image built from this
repository) and an example app that migrates and seeds on start. The incident: the compose
file has no top-level `name:`, its directory is renamed between two `up`s, compose derives a
new project and a new, empty data volume, MariaDB initialises it, and (before the sidecar)
the app seeded an admin user into it and everything looked healthy.

Run through tests/e2e/run.sh (root, podman, images from build-images.sh).

This machine has no systemd, so podman never runs container health checks by itself (it
would use systemd timers); the tests run `podman healthcheck run` themselves, as the timer
would. podman-compose also skips `depends_on: condition: service_healthy` when podman is
older than 4.6 (Debian 12 ships 4.3): there the app's own /readyz gate (compose/app/app.sh)
is what keeps it from migrating, and the test checks whichever gate applies.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "compose"
OLD_DIR = "meaningful-conversations-production"
NEW_DIR = "manualmode-production"
VOLUME_KEY = "mariadb_production_data"
USERS = 14  # as in the incident: the admin the app seeds plus 13 registered users
MARIADB_IMAGE = os.environ.get("MARIADB_IMAGE", "localhost/mariadb:local")
SIDECAR_IMAGE = os.environ.get("SIDECAR_IMAGE", "localhost/sidecar:dev")
SECRETS = ("mariadb_root_password", "app_db_password", "monitor_db_password")
SIDECAR_UID = 10001  # the user in the sidecar's image (Containerfile)

T = TypeVar("T")


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run podman; output captured as text."""
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, check=check, timeout=120
    )


def podman_version() -> tuple[int, ...]:
    out = podman("version", "--format", "{{.Client.Version}}").stdout.strip()
    return tuple(int(p) for p in re.findall(r"\d+", out)[:3])


def podman_compose() -> str:
    venv = REPO / ".venv" / "bin" / "podman-compose"
    found = str(venv) if venv.exists() else shutil.which("podman-compose")
    if found is None:
        pytest.fail("podman-compose not found: run tests/e2e/build-images.sh")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def poll(what: str, fn: Callable[[], T | None], timeout: float, why: Callable[[], str]) -> T:
    """Call fn until it returns something truthy; fail naming `what` and the state after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{why()}")
        time.sleep(1)


def project_of(compose_file: Path, directory: Path) -> str:
    """The project name compose derives: the top-level `name:`, else the directory's name."""
    match = re.search(r"(?m)^name:\s*(\S+)\s*$", compose_file.read_text())
    return match.group(1) if match else directory.name


class Stack:
    """One compose project in a directory of its own, driven like an operator would."""

    def __init__(self, directory: Path, port: int) -> None:
        self.dir = directory
        self.port = port

    @property
    def project(self) -> str:
        return project_of(self.dir / "compose.yaml", self.dir)

    @property
    def volume(self) -> str:
        return f"{self.project}_{VOLUME_KEY}"

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def compose(self, *args: str) -> str:
        proc = subprocess.run(
            [podman_compose(), *args],
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"podman-compose {' '.join(args)} failed:\n{output}"
        return output

    def rename(self, name: str) -> None:
        self.dir = self.dir.rename(self.dir.with_name(name))

    def health(self) -> dict[str, Any] | None:
        """The sidecar's /health document (200 or 503), or None while it does not answer."""
        url = f"http://127.0.0.1:{self.port}/health"
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                body = resp.read()
        except urllib.error.HTTPError as err:
            body = err.read()
        except OSError:
            return None
        doc: dict[str, Any] = json.loads(body)
        return doc

    def verdict(self, status: str, rows: int | None = None) -> dict[str, Any] | None:
        """/health when its status is `status` (and it counts `rows` users, if given)."""
        doc = self.health()
        if doc is None or doc["status"] != status:
            return None
        if rows is not None and doc["checks"]["User:rowCount"][0]["observedValue"] != rows:
            return None
        return doc

    def healthcheck(self, service: str) -> str:
        """Run the container's health check once (what the systemd timer would do): its status."""
        podman("healthcheck", "run", self.container(service), check=False)
        return podman(
            "inspect", self.container(service), "--format", "{{.State.Healthcheck.Status}}"
        ).stdout.strip()

    def root_sql(self, query: str) -> str:
        password = (self.dir / "secrets" / "mariadb_root_password.txt").read_text().strip()
        return podman(
            "exec",
            "-e",
            f"MYSQL_PWD={password}",
            self.container("mariadb"),
            "mariadb",
            "-uroot",
            "--batch",
            "--skip-column-names",
            "app",
            "-e",
            query,
        ).stdout.strip()

    def logs(self, service: str) -> str:
        proc = podman("logs", self.container(service), check=False)
        return proc.stdout + proc.stderr

    def diagnose(self) -> str:
        ps = podman("ps", "-a", "--format", "{{.Names}} {{.Status}}", check=False).stdout
        sidecar = self.logs("sidecar")[-3000:]
        app = self.logs("app")[-1500:]
        return f"podman ps:\n{ps}\n/health: {self.health()}\nsidecar:\n{sidecar}\napp:\n{app}"


def deploy(source: Path, directory: Path, port: int) -> Stack:
    """Lay out a compose directory the way compose/compose.yaml's header tells operators to."""
    shutil.copytree(source, directory, symlinks=False)
    secrets = directory / "secrets"
    secrets.mkdir(mode=0o700)
    for name in SECRETS:
        path = secrets / f"{name}.txt"
        path.write_text(os.urandom(18).hex() + "\n")
        # Read by mysql in the mariadb image and by the sidecar's user; secrets/ stays 0700.
        path.chmod(0o644 if name == "monitor_db_password" else 0o600)
    state = directory / "state"
    state.mkdir(mode=0o700)
    os.chown(state, SIDECAR_UID, SIDECAR_UID)
    (directory / ".env").write_text(
        f"MARIADB_IMAGE={MARIADB_IMAGE}\nSIDECAR_IMAGE={SIDECAR_IMAGE}\n"
        f"SIDECAR_PUBLISH=127.0.0.1:{port}\n"
    )
    return Stack(directory, port)


def remove_project(project: str) -> None:
    """Remove everything podman-compose made for a project: containers, pods, network, volumes."""
    label = f"label=io.podman.compose.project={project}"
    ids = podman("ps", "-a", "-q", "--filter", label, check=False).stdout.split()
    if ids:
        podman("rm", "-f", "-t", "2", *ids, check=False)
    podman("pod", "rm", "-f", "--ignore", f"pod_{project}", check=False)
    podman("network", "rm", "-f", f"{project}_default", check=False)
    for volume in podman("volume", "ls", "--format", "{{.Name}}").stdout.split():
        if volume.startswith(f"{project}_"):
            podman("volume", "rm", "-f", volume, check=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    """A scratch parent directory; every project the test may have made is removed afterwards."""
    if os.geteuid() != 0 or shutil.which("podman") is None:
        pytest.skip("needs root and podman")
    for image in (MARIADB_IMAGE, SIDECAR_IMAGE):
        if podman("image", "exists", image, check=False).returncode != 0:
            pytest.fail(f"image {image} is missing: run tests/e2e/build-images.sh")
    projects = [OLD_DIR, NEW_DIR, project_of(COMPOSE / "compose.yaml", COMPOSE)]
    names = podman("volume", "ls", "--format", "{{.Name}}").stdout.split()
    leftovers = [v for v in names if any(v.startswith(f"{p}_") for p in projects)]
    if leftovers:
        # They may be someone's data: never removed unasked.
        pytest.fail(f"volumes from an earlier run exist, remove them first: {leftovers}")
    try:
        yield tmp_path
    finally:
        for project in projects:
            remove_project(project)


def bring_up_and_fill(stack: Stack) -> None:
    """First deployment: the app migrates and seeds, users register, the sidecar sees them."""
    stack.compose("up", "-d")
    poll(
        "the first deployment to settle: app seeded, sidecar passing",
        lambda: stack.verdict("pass", rows=1),
        90,
        stack.diagnose,
    )
    poll(
        "the sidecar's container health check to pass",
        lambda: stack.healthcheck("sidecar") == "healthy",
        30,
        stack.diagnose,
    )
    stack.root_sql(
        f"INSERT INTO `User` (email) SELECT CONCAT('user', seq, '@example.com') "
        f"FROM seq_1_to_{USERS - 1}"
    )
    poll(
        f"the sidecar to count {USERS} users",
        lambda: stack.verdict("pass", rows=USERS),
        30,
        stack.diagnose,
    )


def test_incident_file_differs_from_the_fix_only_by_the_project_name() -> None:
    """compose/incident/compose.yaml is the fixed file minus `name:`, so the replay is faithful."""

    def body(path: Path) -> list[str]:
        lines = path.read_text().splitlines()
        return [ln for ln in lines if ln and not ln.startswith("#") and not ln.startswith("name:")]

    fixed = COMPOSE / "compose.yaml"
    assert re.search(r"(?m)^name:\s*\S+", fixed.read_text()), "compose.yaml must pin `name:`"
    assert not re.search(r"(?m)^name:", (COMPOSE / "incident" / "compose.yaml").read_text())
    assert body(fixed) == body(COMPOSE / "incident" / "compose.yaml")


@pytest.mark.parametrize("state", ["kept", "lost"])
def test_renamed_directory_creates_empty_volume_and_sidecar_fails(
    workspace: Path, state: str
) -> None:
    """The incident: a new empty volume after the rename; the sidecar fails, the app never seeds.

    With ./state kept, the remembered baseline and row count catch it; with it lost too, the
    identity pinned in the compose file still does.
    """
    stack = deploy(COMPOSE / "incident", workspace / OLD_DIR, free_port())
    bring_up_and_fill(stack)
    old_volume = stack.volume
    stack.compose("down")  # volumes kept, as on the incident's server
    assert podman("volume", "exists", old_volume, check=False).returncode == 0

    stack.rename(NEW_DIR)
    if state == "lost":
        shutil.rmtree(stack.dir / "state")
        (stack.dir / "state").mkdir(mode=0o700)
        os.chown(stack.dir / "state", SIDECAR_UID, SIDECAR_UID)
    up_output = stack.compose("up", "-d")
    assert stack.volume == f"{NEW_DIR}_{VOLUME_KEY}"
    assert podman("volume", "exists", stack.volume, check=False).returncode == 0, (
        "podman-compose should have created a new volume for the renamed project"
    )
    assert stack.volume != old_volume

    def names_fresh_datadir() -> dict[str, Any] | None:
        # The mount alone fails it at once; once MariaDB answers, the reason also names the
        # fresh datadir, which is what the operator must read at a glance.
        doc = stack.verdict("fail")
        return doc if doc and "newly initialised" in doc.get("output", "") else None

    doc = poll("the sidecar to name the fresh datadir", names_fresh_datadir, 60, stack.diagnose)
    identity = doc["checks"]["volume:identity"][0]
    assert identity["status"] == "fail" and identity["match"] == 0, identity
    # Against the pin always; against the remembered baseline too while ./state is kept.
    against = "pin, baseline" if state == "kept" else "pin"
    assert f"volume changed from {old_volume} to {stack.volume} ({against})" in identity["output"]
    assert "newly initialised" in identity["output"], identity["output"]
    if state == "kept":
        assert doc["checks"]["User:rowCount"][0]["status"] == "fail"

    # The container's own health check turns unhealthy once its start period and retries
    # have passed (compose.yaml: start_period 30s, retries 3).
    poll(
        "the sidecar container to be unhealthy",
        lambda: stack.healthcheck("sidecar") == "unhealthy",
        90,
        stack.diagnose,
    )

    # The app never ran its migrations or seed against the empty database.
    assert (
        stack.root_sql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app'")
        == "0"
    )
    app_log = stack.logs("app")
    assert "running migrations" not in app_log and "seeding" not in app_log, app_log
    app_state = podman(
        "inspect", stack.container("app"), "--format", "{{.State.Status}}", check=False
    ).stdout.strip()
    if podman_version() >= (4, 6):
        # podman-compose enforces service_healthy: the app container was never started.
        assert app_state in ("", "created"), app_state
    else:
        # podman-compose said it ignored the condition; the app's own gate held it.
        assert "Ignored sidecar condition check" in up_output
        assert app_state == "running" and "waiting for the sidecar" in app_log, app_log


def test_fixed_project_name_survives_the_rename(workspace: Path) -> None:
    """The fix: with `name:` pinned, the renamed directory reuses the volume; all users remain."""
    stack = deploy(COMPOSE, workspace / OLD_DIR, free_port())
    bring_up_and_fill(stack)
    volume = stack.volume
    stack.compose("down")

    stack.rename(NEW_DIR)
    stack.compose("up", "-d")
    assert stack.volume == volume
    names = podman("volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert not [n for n in names if n.startswith(f"{NEW_DIR}_")], names

    doc = poll(
        "the sidecar to pass on the same volume after the restart",
        lambda: stack.verdict("pass", rows=USERS),
        60,
        stack.diagnose,
    )
    assert doc["checks"]["volume:identity"][0]["match"] == 1
    poll(
        "the sidecar container to be healthy",
        lambda: stack.healthcheck("sidecar") == "healthy",
        30,
        stack.diagnose,
    )
    poll(
        "the app to start on the intact database",
        lambda: f"ready: {USERS} users" in stack.logs("app"),
        60,
        stack.diagnose,
    )
    assert stack.root_sql("SELECT COUNT(*) FROM `User`") == str(USERS)
