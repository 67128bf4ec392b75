"""compose/postgres/: the PostgreSQL stack's files, held to what its comments promise.

Its init scripts (the app's role, the sidecar's SELECT-only role, the backup role), the example
app (compose/app/app.sh with DB_ENGINE=postgresql) and the backup job (compose/backup/backup.sh,
pg_dump) run on the host against a real PostgreSQL cluster, exactly as the image's entrypoint
and the containers run them; `sidecar check` then judges that cluster as the stack's sidecar
would. `sidecar preflight`'s judgement of the real compose files comes from the same code the
command runs. The end-to-end runs (tests/e2e/test_postgres_compose_incident.py) start the whole
stack under podman-compose and Docker Compose.
"""

import json
import os
import re
import signal
import stat
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from sidecar.backups.catalog import list_backups
from sidecar.backups.dump import count_rows
from sidecar.demo.postgres import SUPERUSER, SUPERUSER_PASSWORD, PostgresServer, bin_dir
from sidecar.preflight.engines import EngineVolume
from sidecar.preflight.sizes import Size
from sidecar.preflight.stack import Stack, load_stack
from sidecar.preflight.tools import Tool
from sidecar.preflight.verdict import Finding, Observation, judge
from sidecar.results import Status, worst
from tests.preflight.stacks import invocation
from tests.support.servers import run_cli

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
STACK = COMPOSE / "postgres"
APP_SH = COMPOSE / "app" / "app.sh"
BACKUP_SH = COMPOSE / "backup" / "backup.sh"
INIT_SCRIPTS = sorted((STACK / "initdb").glob("*.sh"))
# A quote, a backslash and a dollar sign: the scripts must pass each on literally.
PASSWORDS = {
    "app": "App-'q\\$1-secret",
    "monitor": "Mon-'q\\$2-secret",
    "backup": "Bak-'q\\$3-secret",
}
OLD = "meaningful-conversations-production"
NEW = "manualmode-production"
KEY = "postgres_production_data"
DATA = Size(48_000_000, 1200, True)
USERS = 14


def client_env(role: str, password_file: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment compose.yaml gives the app and backup containers, pointed at the host's
    cluster (PGPORT: the client's own variable, so the scripts need no flag for it)."""
    return {
        **os.environ,
        "PATH": f"{bin_dir()}:{os.environ.get('PATH', '')}",
        "DB_ENGINE": "postgresql",
        "DB_HOST": "127.0.0.1",
        "PGPORT": str(port),
        "DB_NAME": "app",
        "DB_USER": role,
        "DB_PASSWORD_FILE": str(password_file),
        **extra,
    }


def backup_once(port: int, password_file: Path, backups: Path) -> subprocess.CompletedProcess[str]:
    """`backup.sh once` as the backup service runs it, into `backups`."""
    env = client_env("backup", password_file, port, BACKUP_DIR=str(backups))
    return subprocess.run(
        ["bash", str(BACKUP_SH), "once"], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    directory = tmp_path / "backups"
    directory.mkdir()
    return directory


@pytest.fixture(scope="module")
def stack_cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PostgresServer, Path]]:
    """A cluster initialised as the image does (database app), then the stack's init scripts
    sourced in order with the entrypoint's docker_process_sql; the password files' directory."""
    secrets = tmp_path_factory.mktemp("secrets")
    for role, password in PASSWORDS.items():
        (secrets / f"{role}_db_password.txt").write_text(password + "\n")
    server = PostgresServer()
    server.start()
    try:
        server.psql("CREATE DATABASE app")
        # As the image's entrypoint defines it, over TCP here (the tests are no role's peer).
        runner = (
            f"docker_process_sql() {{ psql -v ON_ERROR_STOP=1 -X -h 127.0.0.1 -p {server.port}"
            f' --username {SUPERUSER} --no-password --dbname "$POSTGRES_DB" "$@"; }}\n'
        )
        script = runner + "".join(f'. "{path}"\n' for path in INIT_SCRIPTS)
        env = {
            **os.environ,
            "PATH": f"{bin_dir()}:{os.environ.get('PATH', '')}",
            "PGPASSWORD": SUPERUSER_PASSWORD,
            "POSTGRES_DB": "app",
            "APP_PASSWORD_FILE": str(secrets / "app_db_password.txt"),
            "MONITOR_PASSWORD_FILE": str(secrets / "monitor_db_password.txt"),
            "BACKUP_PASSWORD_FILE": str(secrets / "backup_db_password.txt"),
        }
        done = subprocess.run(
            ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        for password in PASSWORDS.values():
            assert password not in done.stdout + done.stderr
        yield server, secrets
    finally:
        server.remove()


@pytest.fixture(scope="module")
def migrated(stack_cluster: tuple[PostgresServer, Path]) -> tuple[PostgresServer, Path]:
    """The example app started once as its own role (migrations, the admin seeded), stopped
    once it says it is ready; then 13 users registered."""
    server, secrets = stack_cluster
    env = client_env("app", secrets / "app_db_password.txt", server.port)
    # A session of its own: its idle `sleep` holds the pipe open, and goes with the group.
    app = subprocess.Popen(
        ["bash", str(APP_SH)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert app.stdout is not None
        lines: list[str] = []
        while not lines or (lines[-1] and "ready:" not in lines[-1]):
            lines.append(app.stdout.readline())
    finally:
        os.killpg(app.pid, signal.SIGTERM)
        rest, _ = app.communicate(timeout=30)
    output = "".join(lines) + rest
    assert "running migrations" in output and "ready: 1 users" in output, output
    assert PASSWORDS["app"] not in output
    server.psql(
        "INSERT INTO \"User\" (email) SELECT 'user' || g || '@example.com'"
        f" FROM generate_series(1, {USERS - 1}) g",
        database="app",
    )
    return server, secrets


def as_role(server: PostgresServer, role: str, statement: str, database: str = "app") -> str:
    """`statement` as `role` over TCP: its output, or psql's error."""
    done = subprocess.run(
        [str(bin_dir() / "psql"), "-X", "-At", "-h", "127.0.0.1", "-p", str(server.port),
         "-U", role, "-d", database, "-c", statement],
        env={"PATH": os.environ.get("PATH", ""), "PGPASSWORD": PASSWORDS[role]},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return (done.stdout + done.stderr).strip()


def test_the_app_role_owns_its_database_and_is_no_superuser(
    migrated: tuple[PostgresServer, Path],
) -> None:
    server, _ = migrated
    assert server.psql("SELECT rolsuper FROM pg_roles WHERE rolname = 'app'") == "f"
    owner = "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'"
    assert server.psql(owner) == "app"
    tables = "SELECT tableowner FROM pg_tables WHERE tablename = 'User'"
    assert server.psql(tables, database="app") == "app"


def test_the_monitor_role_reads_the_app_tables_created_after_it_and_writes_nothing(
    migrated: tuple[PostgresServer, Path],
) -> None:
    server, _ = migrated
    assert as_role(server, "monitor", 'SELECT COUNT(*) FROM "User"') == str(USERS)
    for statement in (
        "INSERT INTO \"User\" (email) VALUES ('x@example.com')",
        'DELETE FROM "User"',
        "CREATE TABLE intruder (id int)",
    ):
        assert "permission denied" in as_role(server, "monitor", statement), statement


def test_the_sidecar_as_the_monitor_role_passes_with_no_privilege_warning(
    migrated: tuple[PostgresServer, Path],
) -> None:
    """`sidecar check` with the stack's settings (compose.yaml's sidecar environment)."""
    server, secrets = migrated
    env = {
        "SIDECAR_DB_URL": f"postgresql://monitor@127.0.0.1:{server.port}/app",
        "SIDECAR_DB_PASSWORD_FILE": str(secrets / "monitor_db_password.txt"),
        "SIDECAR_TABLE": "User",
        "SIDECAR_TIMESTAMP_COLUMN": "createdAt",
    }
    done = run_cli("check", "--json", env=env)
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["checks"]["database:privileges"][0]["status"] == "pass", report
    assert report["checks"]["User:rowCount"][0]["observedValue"] == USERS, report
    assert PASSWORDS["monitor"] not in done.stdout + done.stderr


def test_the_backup_role_dumps_every_user_and_can_write_nothing(
    migrated: tuple[PostgresServer, Path], backups: Path
) -> None:
    server, secrets = migrated
    done = backup_once(server.port, secrets / "backup_db_password.txt", backups)
    assert done.returncode == 0, done.stderr
    (path,) = backups.iterdir()  # no partial file beside it
    assert re.fullmatch(r"app-\d{4}-\d\d-\d\dT\d{6}Z\.sql\.gz", path.name), path.name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    count = count_rows(path, ["User"], "app")
    assert count.problem is None and count.rows("User") == USERS
    assert PASSWORDS["backup"] not in done.stdout + done.stderr
    for statement in ("UPDATE \"User\" SET email = 'x'", 'TRUNCATE "User"'):
        assert "permission denied" in as_role(server, "backup", statement), statement


def test_a_failed_pg_dump_leaves_nothing_behind(
    migrated: tuple[PostgresServer, Path], backups: Path, tmp_path: Path
) -> None:
    server, _ = migrated
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not-the-password\n")
    done = backup_once(server.port, wrong, backups)
    assert done.returncode != 0
    assert "dump of app failed; nothing was rotated" in done.stdout + done.stderr
    assert list(backups.iterdir()) == []


def test_an_unknown_engine_is_refused_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "DB_ENGINE": "oracle", "DB_NAME": "app", "BACKUP_DIR": str(tmp_path)}
    done = subprocess.run(
        ["bash", str(BACKUP_SH), "once"], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert done.stderr.strip().endswith("DB_ENGINE must be mariadb or postgresql, not 'oracle'")


# -- the compose files -------------------------------------------------------------------


def compose(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


def test_the_incident_file_differs_from_the_fix_only_by_the_project_name() -> None:
    def body(path: Path) -> list[str]:
        lines = path.read_text().splitlines()
        return [ln for ln in lines if ln and not ln.startswith("#") and not ln.startswith("name:")]

    assert compose(STACK / "compose.yaml")["name"] == OLD
    assert "name" not in compose(STACK / "incident" / "compose.yaml")
    assert body(STACK / "compose.yaml") == body(STACK / "incident" / "compose.yaml")


def test_the_stack_has_the_shape_of_the_mariadb_one() -> None:
    """The fixed name, the volume pinned, the data directory read-only, the state on a host
    path, the app gated on the sidecar's health, every password a file."""
    doc = compose(STACK / "compose.yaml")
    services = doc["services"]
    postgres, sidecar, app, backup = (services[n] for n in ("postgres", "sidecar", "app", "backup"))
    env = sidecar["environment"]
    assert env["SIDECAR_DB_URL"] == "postgresql://monitor@postgres:5432/app"
    assert env["SIDECAR_EXPECT_IDENTITY"] == f"volume={doc['name']}_{KEY}"
    assert f"{KEY}:{postgres['environment']['PGDATA']}" in postgres["volumes"]
    assert f"{KEY}:{env['SIDECAR_DATA_DIR']}:ro" in sidecar["volumes"]
    assert f"./state:{env['SIDECAR_STATE_DIR']}" in sidecar["volumes"]
    assert app["depends_on"]["sidecar"] == {"condition": "service_healthy"}
    assert "sidecar" not in backup["depends_on"]  # backups must not stop with their watcher
    # postgres's uid (the control file's owner), for both: the sidecar reads the dumps.
    assert backup["profiles"] == ["backup"] and backup["user"] == sidecar["user"] == "999:999"
    assert "./initdb:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    for service in services.values():
        for key, value in (service.get("environment") or {}).items():
            assert "PASSWORD" not in key or key.endswith("_FILE"), key
            assert "/run/secrets/" in str(value) or "PASSWORD" not in key
    assert set(doc["secrets"]) == {f"{r}_db_password" for r in PASSWORDS} | {"postgres_password"}
    # podman-compose reads the MariaDB stack's podman-compose.yaml here too (the readyz wait).
    assert (STACK / "podman-compose.yaml").resolve() == (COMPOSE / "podman-compose.yaml")


# -- sidecar preflight on the real files -------------------------------------------------


def volume(name: str) -> EngineVolume:
    labels = {"com.docker.compose.project": OLD, "io.podman.compose.project": OLD}
    return EngineVolume(name, datetime(2026, 11, 24, tzinfo=UTC), f"/v/{name}", labels, "")


def renamed(tmp_path: Path, source: Path, image: str, tool: Tool) -> Stack:
    """`source` copied into a directory named NEW (the incident's rename), its image set in
    .env as an operator sets POSTGRES_IMAGE."""
    directory = tmp_path / NEW
    directory.mkdir()
    (directory / "compose.yaml").write_text(source.read_text())
    (directory / ".env").write_text(f"POSTGRES_IMAGE={image}\n")
    return load_stack(tool, invocation(directory))


def findings_after_rename(stack: Stack) -> list[Finding]:
    old = volume(f"{OLD}_{KEY}")
    return judge(stack, Observation("podman", (old,), (), {old.name: DATA}))


@pytest.mark.parametrize(
    "image",
    ["docker.io/library/postgres:17", "postgres:16", "postgres:18", "localhost/postgres:15"],
)
@pytest.mark.parametrize("tool", [Tool.COMPOSE, Tool.PODMAN_COMPOSE])
def test_preflight_passes_the_stack_after_the_rename(
    tmp_path: Path, image: str, tool: Tool
) -> None:
    """On 18 too: the explicit PGDATA keeps the cluster on the named volume."""
    stack = renamed(tmp_path, STACK / "compose.yaml", image, tool)
    assert [s.name for s in stack.databases] == ["postgres"]
    assert [s.name for s in stack.sidecars] == ["sidecar"]
    assert [s.name for s in stack.apps] == ["app"]
    assert [s.name for s in stack.feeders] == ["backup"]
    findings = findings_after_rename(stack)
    assert worst([f.status for f in findings]) is Status.PASS, findings
    (line,) = findings
    assert line.message == f"database volume {OLD}_{KEY} exists (created 2026-11-24, 48 MB)"


def test_preflight_refuses_the_incident_file_after_the_rename(tmp_path: Path) -> None:
    stack = renamed(tmp_path, STACK / "incident" / "compose.yaml", "postgres:17", Tool.COMPOSE)
    findings = findings_after_rename(stack)
    fails = [f for f in findings if f.status is Status.FAIL]
    assert [f.code for f in fails] == ["new-empty-volume", "identity-pin"], findings
    assert fails[0].message == (
        f"this start would create a NEW, EMPTY volume {NEW}_{KEY} and PostgreSQL would"
        f" initialise a fresh cluster on it; {OLD}_{KEY} (created 2026-11-24, 48 MB, project"
        f' {OLD}) holds your data: add "name: {OLD}" to the compose file'
    )


def test_the_default_backup_glob_sees_custom_format_dumps_too(backups: Path) -> None:
    """No SIDECAR_BACKUP_GLOB in the stack: the default takes the backup service's dumps and
    `pg_dump -Fc`'s usual `*.dump` alike, and nothing else."""
    for name in ("app-2026-12-01T000000Z.sql.gz", "app-2026-12-02T000000Z.dump", "notes.txt"):
        (backups / name).write_bytes(b"x")
    names = sorted(f.name for f in list_backups(backups).files)
    assert names == ["app-2026-12-01T000000Z.sql.gz", "app-2026-12-02T000000Z.dump"]
