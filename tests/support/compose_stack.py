"""The incident's compose stack, deployed and driven as an operator would, under either engine.

compose/ is laid out in a directory of the run's own (secrets, ./state, .env), under a name
carrying the run's id: `sidecar-e2e-<id>-<tag>-meaningful-conversations-production`, renamed to
`...-manualmode-production` like the incident's server. The compose file's own mentions of
`meaningful-conversations-production` (the fixed file's `name:`, the pinned volume identity)
become the directory's name, so the pin means the same thing it does in the repository.

The steps of the replay are here once, for tests/e2e/test_compose_incident.py (podman-compose)
and tests/e2e/test_docker_compose_incident.py (Docker Compose v2); each test adds what its
engine's gate does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.engines import Engine, run_command

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "compose"
OLD_DIR = "meaningful-conversations-production"
NEW_DIR = "manualmode-production"
VOLUME_KEY = "mariadb_production_data"
USERS = 14  # as in the incident: the admin the app seeds plus 13 registered users
MARIADB_IMAGE = os.environ.get("MARIADB_IMAGE", "localhost/mariadb:local")
SIDECAR_IMAGE = os.environ.get("SIDECAR_IMAGE", "localhost/sidecar:dev")
IMAGES = (MARIADB_IMAGE, SIDECAR_IMAGE)
SECRETS = ("mariadb_root_password", "app_db_password", "monitor_db_password")
SIDECAR_UID = 10001  # the user in the sidecar's image (Containerfile)
NEVER_STARTED = ("0001-01-01T00:00:00Z", "0001-01-01 00:00:00 +0000 UTC")

T = TypeVar("T")


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


@dataclass(frozen=True)
class Workspace:
    """Directory names for one test's stacks: the incident's two names, carrying the run id."""

    engine: Engine
    parent: Path
    prefix: str

    @property
    def old(self) -> Path:
        return self.parent / f"{self.prefix}-{OLD_DIR}"

    @property
    def new_name(self) -> str:
        return f"{self.prefix}-{NEW_DIR}"


class Stack:
    """One compose project in a directory of its own, driven like an operator would."""

    def __init__(self, engine: Engine, directory: Path, port: int) -> None:
        self.engine = engine
        self.dir = directory
        self.port = port

    @property
    def project(self) -> str:
        return project_of(self.dir / "compose.yaml", self.dir)

    @property
    def volume(self) -> str:
        return f"{self.project}_{VOLUME_KEY}"

    def container(self, service: str) -> str:
        return self.engine.container(self.project, service)

    def run_compose(self, *args: str, timeout: float = 300) -> tuple[int, str]:
        """Run compose in the stack's directory: its exit status and output."""
        proc = run_command(
            [*self.engine.compose_cli, *args], env=self.engine.env, cwd=self.dir, timeout=timeout
        )
        return proc.returncode, proc.stdout + proc.stderr

    def compose(self, *args: str) -> str:
        """Run compose in the stack's directory; its output, failing the test if it failed."""
        status, output = self.run_compose(*args)
        assert status == 0, f"{' '.join(self.engine.compose_cli)} {' '.join(args)}:\n{output}"
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

    def health_status(self, service: str) -> str:
        """The container's health as the engine sees it (healthy, unhealthy, starting).

        podman without systemd runs a health check only when asked: ask it, as its timer would.
        """
        if not self.engine.runs_healthchecks:
            self.engine.run("healthcheck", "run", self.container(service))
        return self.inspect(service, "{{.State.Health.Status}}")

    def inspect(self, service: str, template: str) -> str:
        """A field of the service's container (empty if there is no such container)."""
        return self.engine.run(
            "inspect", "--format", template, self.container(service)
        ).stdout.strip()

    def never_started(self, service: str) -> bool:
        """Whether the service's container exists but was never started."""
        return self.inspect(service, "{{.State.StartedAt}}") in NEVER_STARTED

    def root_sql(self, query: str) -> str:
        password = (self.dir / "secrets" / "mariadb_root_password.txt").read_text().strip()
        # `-e NAME` without a value passes the client's variable on: the password never
        # appears on a command line, nor in the message of a failed call.
        return self.engine.ok(
            "exec",
            "-e",
            "MYSQL_PWD",
            self.container("mariadb"),
            "mariadb",
            "-uroot",
            "--batch",
            "--skip-column-names",
            "app",
            "-e",
            query,
            env={"MYSQL_PWD": password},
        ).strip()

    def logs(self, service: str) -> str:
        proc = self.engine.run("logs", self.container(service))
        return proc.stdout + proc.stderr

    def volume_path(self, volume: str) -> Path:
        """Where a volume's files are on the host."""
        return Path(
            self.engine.ok("volume", "inspect", "--format", "{{.Mountpoint}}", volume).strip()
        )

    def diagnose(self) -> str:
        ps = self.engine.run("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout
        sidecar = self.logs("sidecar")[-3000:]
        app = self.logs("app")[-1500:]
        health = self.health()
        return f"{self.engine.name} ps:\n{ps}\n/health: {health}\nsidecar:\n{sidecar}\napp:\n{app}"


def deploy(engine: Engine, source: Path, directory: Path, port: int) -> Stack:
    """Lay out a compose directory the way compose/compose.yaml's header tells operators to."""
    shutil.copytree(source, directory, symlinks=False)
    compose_file = directory / "compose.yaml"
    compose_file.write_text(compose_file.read_text().replace(OLD_DIR, directory.name))
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
    return Stack(engine, directory, port)


def forget_state(stack: Stack) -> None:
    """Lose ./state, as a redeploy from scratch would: only the pinned identity remains."""
    shutil.rmtree(stack.dir / "state")
    (stack.dir / "state").mkdir(mode=0o700)
    os.chown(stack.dir / "state", SIDECAR_UID, SIDECAR_UID)


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
        lambda: stack.health_status("sidecar") == "healthy",
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


def holds_app_data(stack: Stack, volume: str) -> bool:
    """Whether a MariaDB datadir volume holds the app's `User` table."""
    return (stack.volume_path(volume) / "app" / "User.ibd").exists()


def check_before_renamed_up(stack: Stack, old_volume: str) -> None:
    """Before `up` in the renamed directory: the data sits in the old project's volume, and
    the volume compose is about to use does not exist yet. (`sidecar preflight` goes here.)"""
    assert stack.volume != old_volume
    assert holds_app_data(stack, old_volume), f"{old_volume} should hold the 14 users"
    assert not stack.engine.exists("volumes", stack.volume), f"{stack.volume} exists already"


def check_after_vulnerable_up(stack: Stack, old_volume: str) -> None:
    """After the vulnerable stack came up: twin volumes, the data only in the old one.
    (`sidecar volumes` goes here.)"""
    assert stack.volume == f"{stack.dir.name}_{VOLUME_KEY}"
    assert stack.engine.exists("volumes", stack.volume), (
        f"{stack.engine.name} compose should have created a new volume for the renamed project"
    )
    assert holds_app_data(stack, old_volume), f"{old_volume} lost its data"
    assert not holds_app_data(stack, stack.volume), f"{stack.volume} should be a fresh datadir"


def wait_for_fresh_datadir_verdict(stack: Stack, old_volume: str, against: str) -> dict[str, Any]:
    """The sidecar fails, naming the volume change and the newly initialised datadir."""

    def names_fresh_datadir() -> dict[str, Any] | None:
        # The mount alone fails it at once; once MariaDB answers, the reason also names the
        # fresh datadir, which is what the operator must read at a glance.
        doc = stack.verdict("fail")
        return doc if doc and "newly initialised" in doc.get("output", "") else None

    doc = poll("the sidecar to name the fresh datadir", names_fresh_datadir, 60, stack.diagnose)
    identity = doc["checks"]["volume:identity"][0]
    assert identity["status"] == "fail" and identity["match"] == 0, identity
    assert f"volume changed from {old_volume} to {stack.volume} ({against})" in identity["output"]
    assert "newly initialised" in identity["output"], identity["output"]
    return doc


def assert_app_never_migrated(stack: Stack) -> None:
    """The empty database got no schema and no seed: the app never ran its migrations."""
    tables = "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app'"
    assert stack.root_sql(tables) == "0"
    app_log = stack.logs("app")
    assert "running migrations" not in app_log and "seeding" not in app_log, app_log


def check_fixed_stack_kept_its_data(stack: Stack, volume: str) -> None:
    """After the rename with `name:` pinned: the same volume, all users, the app started."""
    assert stack.volume == volume
    strays = [n for n in stack.engine.names("volumes") if n.startswith(f"{stack.dir.name}_")]
    assert not strays, strays
    doc = poll(
        "the sidecar to pass on the same volume after the restart",
        lambda: stack.verdict("pass", rows=USERS),
        60,
        stack.diagnose,
    )
    assert doc["checks"]["volume:identity"][0]["match"] == 1
    poll(
        "the sidecar container to be healthy",
        lambda: stack.health_status("sidecar") == "healthy",
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
