"""The incident's compose stack, deployed and driven as an operator would, under either engine,
on either database: compose/ (MariaDB) or compose/postgres/ (PostgreSQL).

compose/ is laid out in a directory of the run's own (secrets, ./state, .env), under a name
carrying the run's id: `sidecar-e2e-<id>-<tag>-meaningful-conversations-production`, renamed to
`...-manualmode-production` like the incident's server. The compose file's own mentions of
`meaningful-conversations-production` (the fixed file's `name:`, the pinned volume identity)
become the directory's name, so the pin means the same thing it does in the repository.

The steps of the replay are here once, for tests/e2e/test_compose_incident.py (podman-compose)
and tests/e2e/test_docker_compose_incident.py (Docker Compose v2), and for both on PostgreSQL
(tests/e2e/test_postgres_compose_incident.py); each test adds what its engine's gate does.
What differs between the databases (the service, the volume's key, the secrets, the root
client, where a volume shows the app's data) is a `Database`. `sidecar preflight` and `sidecar
volumes` run as an operator runs them: the real command line on the host, in the stack's
directory, against the engine the stack runs on; their outputs are printed into the test log
(run.sh shows it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sidecar.backups.dump import count_rows
from tests.support.engines import Engine, run_command
from tests.support.servers import run_cli

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "compose"
OLD_DIR = "meaningful-conversations-production"
NEW_DIR = "manualmode-production"
USERS = 14  # as in the incident: the admin the app seeds plus 13 registered users
MARIADB_IMAGE = os.environ.get("MARIADB_IMAGE", "localhost/mariadb:local")
POSTGRES_IMAGE = os.environ.get("POSTGRES_IMAGE", "localhost/postgres:15")
# The same server in PostgreSQL 18's layout (tests/e2e/postgres/Containerfile): the trap.
POSTGRES18_IMAGE = os.environ.get("POSTGRES18_IMAGE", "localhost/postgres:18-layout")
SIDECAR_IMAGE = os.environ.get("SIDECAR_IMAGE", "localhost/sidecar:dev")
IMAGES = (MARIADB_IMAGE, POSTGRES_IMAGE, POSTGRES18_IMAGE, SIDECAR_IMAGE)
SIDECAR_UID = 10001  # the user in the sidecar's image (Containerfile)
# The checks about the dumps (docs/backups.md), which warn at most.
BACKUP_CHECKS = (":backupRows", "backup:freshness", "backup:size")
# The files a new PostgreSQL relation gets are numbered from FirstNormalObjectId up: a fresh
# cluster's databases (copies of template1) have none, the app's tables do.
_FIRST_NORMAL_OID = 16384


@dataclass(frozen=True)
class Database:
    """What differs between compose/ (MariaDB) and compose/postgres/ (PostgreSQL)."""

    service: str  # the database's service, as the compose file names it
    compose: Path  # the fixed stack; its incident/ is the one without `name:`
    volume_key: str
    image_setting: str  # the .env line that picks its image
    image: str
    secrets: tuple[str, ...]
    # Read by two non-root users each (the compose file's secrets: comment); the others 0600.
    shared_secrets: tuple[str, ...]
    root_password: str  # the secret holding the superuser's password
    sidecar_uid: int  # the sidecar's and the backup service's user: owns ./state and ./backups
    user_table: str  # "User", quoted in the engine's dialect
    # What preflight adds after naming the new volume ("and PostgreSQL would initialise ...").
    fresh_clause: str

    def root_client(self, query: str) -> tuple[tuple[str, ...], dict[str, str]]:
        """The superuser's client in the database's container, running `query`: its argv
        after `exec -e VAR CONTAINER`, and VAR (the password, never on a command line)."""
        if self.service == "postgres":
            psql = ("psql", "-U", "postgres", "-d", "app", "-XAtq", "-v", "ON_ERROR_STOP=1")
            return (*psql, "-c", query), {"PGPASSWORD": ""}
        mariadb = ("mariadb", "-uroot", "--batch", "--skip-column-names", "app")
        return (*mariadb, "-e", query), {"MYSQL_PWD": ""}

    def register_users(self, count: int) -> str:
        """The statement that registers `count` users, user1@example.com and on."""
        if self.service == "postgres":
            return (
                "INSERT INTO \"User\" (email) SELECT 'user' || g || '@example.com'"
                f" FROM generate_series(1, {count}) g"
            )
        return (
            "INSERT INTO `User` (email) SELECT CONCAT('user', seq, '@example.com')"
            f" FROM seq_1_to_{count}"
        )

    @property
    def count_app_tables(self) -> str:
        schema = "public" if self.service == "postgres" else "app"
        return f"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{schema}'"

    def holds_app_data(self, root: Path) -> bool:
        """Whether a data volume (its files at `root`) holds the app's tables."""
        if self.service != "postgres":
            return (root / "app" / "User.ibd").exists()
        if not (root / "PG_VERSION").exists():
            return False
        return any(
            f.name.isdigit() and int(f.name) >= _FIRST_NORMAL_OID
            for database in (root / "base").iterdir()
            for f in database.iterdir()
        )


MARIADB = Database(
    service="mariadb",
    compose=COMPOSE,
    volume_key="mariadb_production_data",
    image_setting="MARIADB_IMAGE",
    image=MARIADB_IMAGE,
    secrets=(
        "mariadb_root_password",
        "app_db_password",
        "monitor_db_password",
        "backup_db_password",
    ),
    shared_secrets=("monitor_db_password", "backup_db_password"),
    root_password="mariadb_root_password",
    sidecar_uid=SIDECAR_UID,
    user_table="`User`",
    fresh_clause="",
)
POSTGRES = Database(
    service="postgres",
    compose=COMPOSE / "postgres",
    volume_key="postgres_production_data",
    image_setting="POSTGRES_IMAGE",
    image=POSTGRES_IMAGE,
    secrets=("postgres_password", "app_db_password", "monitor_db_password", "backup_db_password"),
    # The init scripts read these as postgres, after the entrypoint dropped root.
    shared_secrets=("app_db_password", "monitor_db_password", "backup_db_password"),
    root_password="postgres_password",
    sidecar_uid=999,  # postgres's, to read the cluster's control file (compose.yaml)
    user_table='"User"',
    fresh_clause=" and PostgreSQL would initialise a fresh cluster on it",
)
# Kept for the MariaDB tests' names.
VOLUME_KEY = MARIADB.volume_key
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

    def __init__(
        self, engine: Engine, directory: Path, port: int, database: Database = MARIADB
    ) -> None:
        self.engine = engine
        self.dir = directory
        self.port = port
        self.database = database

    @property
    def project(self) -> str:
        return project_of(self.dir / "compose.yaml", self.dir)

    @property
    def volume(self) -> str:
        return f"{self.project}_{self.database.volume_key}"

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
        database = self.database
        secret = self.dir / "secrets" / f"{database.root_password}.txt"
        argv, variables = database.root_client(query)
        env = dict.fromkeys(variables, secret.read_text().strip())
        # `-e NAME` without a value passes the client's variable on: the password never
        # appears on a command line, nor in the message of a failed call.
        passed = [arg for name in env for arg in ("-e", name)]
        return self.engine.ok(
            "exec", *passed, self.container(database.service), *argv, env=env
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


def deploy(
    engine: Engine, source: Path, directory: Path, port: int, database: Database = MARIADB
) -> Stack:
    """Lay out a compose directory the way the compose file's header tells operators to."""
    shutil.copytree(source, directory, symlinks=False)
    compose_file = directory / "compose.yaml"
    compose_file.write_text(compose_file.read_text().replace(OLD_DIR, directory.name))
    secrets = directory / "secrets"
    secrets.mkdir(mode=0o700)
    for name in database.secrets:
        path = secrets / f"{name}.txt"
        path.write_text(os.urandom(18).hex() + "\n")
        # Read by the database image's own user and by uid 10001; secrets/ stays 0700.
        path.chmod(0o644 if name in database.shared_secrets else 0o600)
    for owned in ("state", "backups"):
        (directory / owned).mkdir(mode=0o700)
        os.chown(directory / owned, database.sidecar_uid, database.sidecar_uid)
    (directory / ".env").write_text(
        f"{database.image_setting}={database.image}\nSIDECAR_IMAGE={SIDECAR_IMAGE}\n"
        f"SIDECAR_PUBLISH=127.0.0.1:{port}\n"
    )
    return Stack(engine, directory, port, database)


def forget_state(stack: Stack) -> None:
    """Lose ./state, as a redeploy from scratch would: only the pinned identity remains."""
    shutil.rmtree(stack.dir / "state")
    (stack.dir / "state").mkdir(mode=0o700)
    uid = stack.database.sidecar_uid
    os.chown(stack.dir / "state", uid, uid)


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
    stack.root_sql(stack.database.register_users(USERS - 1))
    poll(
        f"the sidecar to count {USERS} users",
        lambda: stack.verdict("pass", rows=USERS),
        30,
        stack.diagnose,
    )


def holds_app_data(stack: Stack, volume: str) -> bool:
    """Whether a data volume holds the app's tables."""
    return stack.database.holds_app_data(stack.volume_path(volume))


def sidecar_cli(stack: Stack, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m sidecar COMMAND --engine ENGINE ARGS` on the host, in the stack's directory,
    against the engine the stack runs on; its output goes into the test log."""
    proc = run_cli(
        command, "--engine", stack.engine.name, *args, env=dict(stack.engine.env), cwd=stack.dir
    )
    print(
        f"\n$ cd {stack.dir.name} && sidecar {command} --engine {stack.engine.name}"
        f" {' '.join(args)}".rstrip()
        + f"\n{proc.stdout}{proc.stderr}(exit {proc.returncode})"
    )
    return proc


def line_starting(output: str, start: str) -> str:
    """The first line of `output` that starts with `start` (after indentation)."""
    found = [ln.strip() for ln in output.splitlines() if ln.strip().startswith(start)]
    assert found, f"no line starting with {start!r} in:\n{output}"
    return found[0]


def check_before_renamed_up(stack: Stack, old_volume: str) -> None:
    """Before `up` in the renamed directory: the data sits in the old project's volume, the
    volume compose is about to use does not exist yet, and `sidecar preflight` refuses the
    start (exit 2), naming both volumes and the `name:` line that fixes it."""
    key = stack.database.volume_key
    old_project = old_volume.removesuffix(f"_{key}")
    assert stack.volume != old_volume
    assert holds_app_data(stack, old_volume), f"{old_volume} should hold the 14 users"
    assert not stack.engine.exists("volumes", stack.volume), f"{stack.volume} exists already"

    refused = sidecar_cli(stack, "preflight")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    rules = "podman-compose" if stack.engine.name == "podman" else "docker compose v2"
    assert refused.stdout.splitlines()[0] == (
        f"project {stack.dir.name} (directory {stack.dir.name}; {rules} rules;"
        f" engine {stack.engine.name})"
    )
    fail = line_starting(refused.stdout, "fail: this start would create a NEW, EMPTY volume")
    assert fail.startswith(
        f"fail: this start would create a NEW, EMPTY volume {stack.volume}"
        f"{stack.database.fresh_clause}; {old_volume} (created "
    ), fail
    assert f" MB, project {old_project}) holds your data:" in fail, fail
    # Volumes of the same key that are not this run's (a staging stack's, another checkout's)
    # may follow the fix as "(also holding <key>: ...)"; neither of this stack's is among them.
    fix = f'add "name: {old_project}" to the compose file'
    also = f"{fix} (also holding {key}: "
    if also in fail:
        named = set(re.split(r"[ ,;]+", fail.split(also, 1)[1]))
        assert stack.volume not in named and old_volume not in named, fail
    else:
        assert fail.endswith(fix), fail
    pin = line_starting(refused.stdout, "fail: sidecar pins SIDECAR_EXPECT_IDENTITY")
    assert f"volume={old_volume}, but this start would mount {stack.volume}" in pin, pin


def stop_and_rename(stack: Stack, new_name: str, lose_state: bool = False) -> str:
    """The incident's restart: `down` (every volume kept, as on the incident's server), the
    directory renamed, ./state lost too if `lose_state`; then `check_before_renamed_up`. The
    volume that holds the data."""
    old_volume = stack.volume
    stack.compose("down")
    stack.rename(new_name)
    if lose_state:
        forget_state(stack)
    check_before_renamed_up(stack, old_volume)
    return old_volume


def check_preflight_passes(stack: Stack, volume: str) -> None:
    """`sidecar preflight` lets the start go ahead (exit 0): the database volume exists."""
    passed = sidecar_cli(stack, "preflight")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert line_starting(passed.stdout, "pass: database volume").startswith(
        f"pass: database volume {volume} exists (created "
    ), passed.stdout


def check_after_vulnerable_up(stack: Stack, old_volume: str) -> list[str]:
    """After the vulnerable stack came up: twin volumes, the data only in the old one, and
    `sidecar volumes` pointing at the old one (exit 2). The recovery steps it printed."""
    key = stack.database.volume_key
    old_project = old_volume.removesuffix(f"_{key}")
    assert stack.volume == f"{stack.dir.name}_{key}"
    assert stack.engine.exists("volumes", stack.volume), (
        f"{stack.engine.name} compose should have created a new volume for the renamed project"
    )
    assert holds_app_data(stack, old_volume), f"{old_volume} lost its data"
    assert not holds_app_data(stack, stack.volume), f"{stack.volume} should be a fresh datadir"

    found = sidecar_cli(stack, "volumes")
    assert found.returncode == 2, found.stdout + found.stderr
    old_row = line_starting(found.stdout, old_volume)
    assert "<- likely your data" in old_row and "remembered by " in old_row, old_row
    assert "<- this stack mounts it" in line_starting(found.stdout, stack.volume)
    verdict = line_starting(found.stdout, "fail:")
    # "the stack runs on NEW (its containers), but OLD looks like your data (remembered by ...)"
    assert verdict.startswith(f"fail: the stack runs on {stack.volume} ("), verdict
    assert f", but {old_volume} looks like your data (remembered by " in verdict, verdict
    steps = [m.group(1) for m in re.finditer(r"(?m)^\s+\d+\. (.*)$", found.stdout)]
    compose = Path(stack.engine.compose_cli[-1]).name  # podman-compose, or docker compose
    command = "podman-compose" if compose == "podman-compose" else "docker compose"
    assert steps[0].startswith(f"cd {stack.dir} && {command} down"), steps
    assert steps[1] == f'add "name: {old_project}" to the compose file', steps
    assert steps[3] == f"{command} up -d", steps
    return steps


def follow_recovery_steps(
    stack: Stack, steps: list[str], old_volume: str, backups_on: bool = False
) -> None:
    """Bring the stack back on its data as `sidecar volumes` said: down, the `name:` line,
    preflight passes, up; the sidecar then passes with every user and the app starts."""
    stack.compose("down")  # step 1 (no -v: every volume kept)
    name_line = re.fullmatch(r'add "(name: \S+)" to the compose file', steps[1])
    assert name_line, steps[1]
    compose_file = stack.dir / "compose.yaml"
    compose_file.write_text(f"{name_line.group(1)}\n{compose_file.read_text()}")  # step 2
    check_preflight_passes(stack, old_volume)  # step 3
    assert stack.volume == old_volume
    stack.compose("up", "-d")  # step 4
    assert_back_on_all_users(stack, backups_on)  # step 5


def enable_backups(stack: Stack) -> Path:
    """Turn the backups on as compose/README.md says, on a stack whose app created its tables:
    the backup service (a dump at start, then hourly) and the sidecar watching ./backups.
    The dump this start wrote, once it holds every user."""
    env = stack.dir / ".env"
    env.write_text(
        env.read_text() + "COMPOSE_PROFILES=backup\nSIDECAR_BACKUP_DIR=/backups\n"
        "BACKUP_INTERVAL=1h\n"
    )
    stack.compose("up", "-d")
    return poll(
        f"the backup service to write a dump of {USERS} users",
        lambda: newest_dump(stack, USERS),
        90,
        lambda: stack.logs("backup"),
    )


def newest_dump(stack: Stack, users: int | None) -> Path | None:
    """The newest dump in ./backups if it holds `users` rows of `User` (None: no `User`)."""
    dumps = sorted((stack.dir / "backups").glob("app-*.sql.gz"))
    if not dumps:
        return None
    count = count_rows(dumps[-1], ["User"], "app")
    return dumps[-1] if count.problem is None and count.rows("User") == users else None


def wait_for_backup_verdict(stack: Stack, good: Path) -> dict[str, Any]:
    """The sidecar fails the dump of the new, empty database, naming the good one to restore.

    The sidecar judges a dump once it has held still for its settle time (sidecar/backups/
    survey.py, 120 s): hence the long deadline.
    """

    def names_the_candidate() -> dict[str, Any] | None:
        doc = stack.health()
        rows = doc["checks"].get("User:backupRows", [{}])[0] if doc else {}
        return doc if f"restore candidate: {good.name}" in rows.get("output", "") else None

    doc = poll("the sidecar to fail the new dump", names_the_candidate, 240, stack.diagnose)
    return doc


def check_fresh_dump_fails_naming(stack: Stack, good: Path) -> None:
    """After the renamed start: the backup service, which does not wait for the sidecar, dumps
    the new, empty database, and the sidecar fails `User:backupRows` naming `good`."""
    poll("a dump of the new, empty database", lambda: newest_dump(stack, None), 90, stack.diagnose)
    doc = wait_for_backup_verdict(stack, good)
    rows = doc["checks"]["User:backupRows"][0]
    print(f"\nUser:backupRows: {rows['status']}: {rows['output']}")
    assert rows["status"] == "fail", rows
    assert "does not hold table User" in rows["output"], rows
    assert f"restore candidate: {good.name} ({USERS} User rows, " in rows["output"], rows


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
    assert stack.root_sql(stack.database.count_app_tables) == "0"
    app_log = stack.logs("app")
    assert "running migrations" not in app_log and "seeding" not in app_log, app_log


def check_fixed_stack_kept_its_data(stack: Stack, volume: str) -> None:
    """After the rename with `name:` pinned: the same volume, all users, the app started."""
    assert stack.volume == volume
    strays = [n for n in stack.engine.names("volumes") if n.startswith(f"{stack.dir.name}_")]
    assert not strays, strays
    assert_back_on_all_users(stack)


def assert_back_on_all_users(stack: Stack, backups_on: bool = False) -> None:
    """After a restart on the data's volume: the sidecar passes with every user and the
    pinned identity, its container is healthy, and the app starts on them.

    With the backups on, the newest finished dump is still the empty database's until the
    one this start wrote has settled (120 s): its backup checks may warn meanwhile (never
    more: they do not fail the verdict), and everything else must pass."""

    def back() -> dict[str, Any] | None:
        doc = stack.verdict("pass", rows=USERS)
        if doc is None and backups_on:
            doc = stack.verdict("warn", rows=USERS)
            failing = [
                k for k, v in (doc or {}).get("checks", {}).items() if v[0]["status"] != "pass"
            ]
            if doc is not None and not all(k.endswith(BACKUP_CHECKS) for k in failing):
                return None
        return doc

    doc = poll(
        f"the sidecar to pass on {stack.volume} with {USERS} users", back, 90, stack.diagnose
    )
    assert doc["checks"]["volume:identity"][0]["match"] == 1
    poll(
        "the sidecar container to be healthy",
        lambda: stack.health_status("sidecar") == "healthy",
        60,
        stack.diagnose,
    )
    poll(
        "the app to start on the intact database",
        lambda: f"ready: {USERS} users" in stack.logs("app"),
        90,
        stack.diagnose,
    )
    assert stack.root_sql(f"SELECT COUNT(*) FROM {stack.database.user_table}") == str(USERS)


def podman_version(workspace: Workspace) -> tuple[int, ...]:
    out = workspace.engine.ok("version", "--format", "{{.Client.Version}}").strip()
    return tuple(int(p) for p in re.findall(r"\d+", out)[:3])


def assert_podman_gate_held(stack: Stack, workspace: Workspace, up_output: str) -> None:
    """Under podman-compose: the sidecar container turned unhealthy and the app never migrated
    the empty database (podman < 4.6: the app's own /readyz wait held it)."""
    # The container's own health check turns unhealthy once its start period and retries
    # have passed (compose.yaml: start_period 30s, retries 3).
    poll(
        "the sidecar container to be unhealthy",
        lambda: stack.health_status("sidecar") == "unhealthy",
        90,
        stack.diagnose,
    )
    assert_app_never_migrated(stack)
    app_state = stack.inspect("app", "{{.State.Status}}")
    if podman_version(workspace) >= (4, 6):
        # podman-compose enforces service_healthy: the app container was never started.
        assert stack.never_started("app"), app_state
    else:
        # podman-compose said it ignored the condition; the app's own gate held it.
        assert "Ignored sidecar condition check" in up_output
        app_log = stack.logs("app")
        assert app_state == "running" and "waiting for the sidecar" in app_log, app_log


# -- PostgreSQL 18's layout mistake (tests/e2e/test_postgres_*compose_incident.py) -----------

PGDATA_LINE = "      PGDATA: /var/lib/postgresql/data\n"


def deploy_the_18_trap(workspace: Workspace, port: int) -> Stack:
    """compose/postgres/ without its PGDATA line, on the 18-layout image: a file written for
    16 or 17, its named volume at /var/lib/postgresql/data, pointed at PostgreSQL 18."""
    stack = deploy(workspace.engine, POSTGRES.compose, workspace.old, port, POSTGRES)
    compose_file = stack.dir / "compose.yaml"
    text = compose_file.read_text()
    assert text.count(PGDATA_LINE) == 1
    compose_file.write_text(text.replace(PGDATA_LINE, ""))
    env = stack.dir / ".env"
    env.write_text(env.read_text().replace(POSTGRES.image, POSTGRES18_IMAGE))
    return stack


def check_18_trap_refused_before_up(stack: Stack) -> None:
    """Before the first `up`: `sidecar preflight` exits 2, naming the data directory the image
    keeps, the volume it misses and the two fixes."""
    refused = sidecar_cli(stack, "preflight")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    key = POSTGRES.volume_key
    fail = line_starting(refused.stdout, f"fail: postgres ({POSTGRES18_IMAGE}) keeps")
    assert fail.startswith(
        f"fail: postgres ({POSTGRES18_IMAGE}) keeps its PostgreSQL data in"
        " /var/lib/postgresql/18/docker (PGDATA of postgres:18), on the image's own VOLUME"
        f" /var/lib/postgresql, not on {key} mounted at /var/lib/postgresql/data;"
    ), fail
    assert fail.endswith(
        f'mount it at /var/lib/postgresql: "- {key}:/var/lib/postgresql" or add'
        ' "PGDATA: /var/lib/postgresql/data" to postgres\'s environment'
    ), fail


def check_18_trap_caught_after_up(stack: Stack) -> None:
    """The named volume stayed empty, the sidecar fails on it at once, and `sidecar volumes`
    names the anonymous volume the cluster went to."""
    assert not (stack.volume_path(stack.volume) / "PG_VERSION").exists()

    def fails_on_the_volume() -> dict[str, Any] | None:
        # Once PostgreSQL answers (the server runs a cluster; the volume holds none).
        doc = stack.verdict("fail")
        if doc is None or doc["checks"]["database:connection"][0]["status"] != "pass":
            return None
        return doc if "holds no cluster" in doc["output"] else None

    doc = poll("the sidecar to fail on the empty volume", fails_on_the_volume, 60, stack.diagnose)
    print(f"\nsidecar /health: {doc['status']}: {doc['output']}")
    assert_app_never_migrated(stack)
    found = sidecar_cli(stack, "volumes")
    assert found.returncode == 2, found.stdout + found.stderr
    verdict = line_starting(found.stdout, "fail:")
    assert verdict.startswith(f"fail: {stack.volume} is empty, but anonymous volume "), verdict
    container = stack.container("postgres")
    assert f"cluster in 18/docker (mounted by {container} at /var/lib/postgresql)" in verdict
