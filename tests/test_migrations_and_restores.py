"""No false alarm on a migration, no missed restore: each event on a MariaDB server of its own
(what both engines share, the newest rows deleted and older dumps restored among them, is in
tests/engines/test_contract.py).

Every event runs against a one-table app (`User`) and a three-table app (`Order`, `Session`,
`User`), watched as a new user would watch it: `SIDECAR_TABLE=User` with a monitoring account
that has `SELECT ON app.*` only ("select-only"), or with the datadir grant and the datadir
mounted too ("every source"). The sidecar runs ten cycles after the event, then restarts on its
state directory and runs ten more: the verdict must hold across both.
"""

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sidecar.results import Report, Status
from tests.support.evaluate import check, evaluator_for
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import MONITOR_USER, add_users, incident, seed

CYCLES = 10
SHAPES = ("one-table", "three-table")
ACCESS = ("select-only", "every source")


@dataclass
class App:
    """A seeded server and how the sidecar watches it."""

    server: MariaDBTestServer
    settings: dict[str, Any]
    created: float  # when the tables were created (CREATE_TIME has one-second resolution)

    def after_creation(self) -> None:
        """Wait until a table altered now gets a creation time other than the original's."""
        time.sleep(max(0.0, 1.1 - (time.time() - self.created)))

    def run(self, cycles: int = CYCLES) -> list[Report]:
        """`cycles` cycles of a sidecar started now on the state directory (then stopped)."""

        async def go() -> list[Report]:
            evaluator = evaluator_for(self.server, **self.settings)
            try:
                return [await evaluator.run_cycle() for _ in range(cycles)]
            finally:
                await evaluator.aclose()

        return asyncio.run(go())

    def sql(self, *statements: str) -> None:
        self.server.execute(*statements, database="app")


def _make_app(
    server: MariaDBTestServer, tmp_path: Path, shape: str, access: str, users: int = 14
) -> App:
    seed(server, users=users, grant_datadir=access == "every source")
    if shape == "three-table":
        server.execute(
            "CREATE TABLE `Order` (id INT AUTO_INCREMENT PRIMARY KEY, userId INT, total INT)",
            "CREATE TABLE Session (id INT AUTO_INCREMENT PRIMARY KEY, userId INT)",
            "INSERT INTO `Order` (userId, total) SELECT id, id * 10 FROM User",
            "INSERT INTO Session (userId) SELECT id FROM User",
            database="app",
        )
    settings: dict[str, Any] = {"state_dir": tmp_path / "state"}
    if access == "every source":
        settings["data_dir"] = str(server.datadir)
    return App(server, settings, time.time())


@pytest.fixture(params=[(s, a) for s in SHAPES for a in ACCESS], ids=lambda p: f"{p[0]}, {p[1]}")
def app(
    request: pytest.FixtureRequest, mariadb: MariaDBTestServer, tmp_path: Path
) -> Iterator[App]:
    shape, access = request.param
    yield _make_app(mariadb, tmp_path, shape, access)


def _statuses(reports: list[Report]) -> list[str]:
    return [
        f"{r.status}: {'; '.join(r.reasons())}" if r.reasons() else str(r.status) for r in reports
    ]


def _assert_all(reports: list[Report], status: Status, event: str) -> None:
    seen = _statuses(reports)
    assert all(r.status is status for r in reports), f"{event}: {seen}"


def _healthy_then(app: App, event: str, *statements: str) -> None:
    """Learn the healthy database, apply `statements`, expect pass before and after a restart."""
    _assert_all(app.run(2), Status.PASS, "before")
    app.after_creation()
    app.sql(*statements)
    _assert_all(app.run(), Status.PASS, event)
    _assert_all(app.run(), Status.PASS, f"{event}, after a sidecar restart")


def _every_table(app: App) -> list[str]:
    rows = app.server.execute(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app'"
    )
    return [str(row[0]) for row in rows]


def test_an_instant_add_column_passes(app: App) -> None:
    _healthy_then(app, "instant ADD COLUMN", "ALTER TABLE User ADD COLUMN nickname VARCHAR(20)")


def test_a_rebuilding_alter_passes(app: App) -> None:
    _healthy_then(app, "ALTER TABLE FORCE", "ALTER TABLE User FORCE")


def test_optimize_passes(app: App) -> None:
    _healthy_then(app, "OPTIMIZE TABLE", "OPTIMIZE TABLE User")


def test_a_migration_altering_every_table_passes(app: App) -> None:
    tables = _every_table(app)
    statements = [f"ALTER TABLE `{t}` ADD COLUMN migrated INT NULL, FORCE" for t in tables]
    _healthy_then(app, f"migration of {', '.join(sorted(tables))}", *statements)


def test_a_no_op_chown_of_the_datadir_across_a_restart_passes(app: App) -> None:
    _assert_all(app.run(2), Status.PASS, "before")
    app.after_creation()
    app.server.stop()
    # What container entrypoints do on every start: chown to the owner it already has. It
    # moves every file's ctime, which is what CREATE_TIME reports.
    owner = app.server.datadir.stat()
    subprocess.run(
        ["chown", "-R", f"{owner.st_uid}:{owner.st_gid}", str(app.server.datadir)], check=True
    )
    app.server.start()
    reports = app.run()
    _assert_all(reports, Status.PASS, "chown -R of the datadir")
    _assert_all(app.run(), Status.PASS, "chown, after a sidecar restart")


def test_unwatched_tables_renamed_and_truncated_pass(
    mariadb: MariaDBTestServer, tmp_path: Path
) -> None:
    app = _make_app(mariadb, tmp_path, "three-table", "select-only")
    _healthy_then(
        app, "RENAME and TRUNCATE", "TRUNCATE TABLE Session", "RENAME TABLE `Order` TO Purchase"
    )


def _dated_app(server: MariaDBTestServer, tmp_path: Path, users: int) -> App:
    """A User table whose rows were created a minute apart, up to a minute ago."""
    app = _make_app(server, tmp_path, "one-table", "select-only", users=0)
    start = datetime.now(UTC) - timedelta(minutes=users + 1)
    add_users(server, users, created=[start + timedelta(minutes=i) for i in range(users)])
    app.settings["timestamp_column"] = "createdAt"
    return app


def test_an_older_copy_of_the_newest_rows_still_fails(
    mariadb: MariaDBTestServer, tmp_path: Path
) -> None:
    """Time going back with no row deleted is not a deletion: an older copy of the data."""
    app = _dated_app(mariadb, tmp_path, 14)
    _assert_all(app.run(2), Status.PASS, "before")
    app.sql("UPDATE User SET createdAt = createdAt - INTERVAL 1 DAY")
    reports = app.run() + app.run()
    _assert_all(reports, Status.FAIL, "every record a day older")
    assert "while no rows were deleted" in check(reports[-1], "User:latestRecord").output


@pytest.mark.parametrize("access", ["datadir grant", "volume mounted"])
def test_the_incident_is_still_caught(
    mariadb: MariaDBTestServer, tmp_path: Path, access: str
) -> None:
    """With every source MariaDB offers (SELECT only: tests/engines/test_contract.py)."""
    seed(mariadb)
    settings: dict[str, Any] = {"state_dir": tmp_path / "state"}
    if access == "volume mounted":
        settings["data_dir"] = str(mariadb.datadir)
    app = App(mariadb, settings, time.time())
    _assert_all(app.run(2), Status.PASS, "before")
    incident(mariadb)
    reports = app.run() + app.run()
    _assert_all(reports, Status.FAIL, f"incident, {access}")
    identity = check(reports[-1], "volume:identity")
    assert identity.status is Status.FAIL and identity.details["match"] == 0
    assert "the database looks newly initialised" in identity.output


def test_adopt_while_the_service_runs_takes_effect_and_is_never_overwritten(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    """The real CLI against a running `sidecar serve` on the same state directory."""

    from sidecar.state import STATE_FILE
    from tests.support.servers import monitor_env, run_cli, running_sidecar, wait_for

    add_users(seeded, 6)  # 20 users
    env = monitor_env(seeded, state_dir=tmp_path / "state")
    state = tmp_path / "state" / STATE_FILE
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        wait_for(
            lambda: json.loads(state.read_text())["tables"]["User"]["high_water"] == 20,
            5,
            "mark 20",
        )
        seeded.execute("DELETE FROM User WHERE id > 8", database="app")  # 60% gone
        sidecar.wait_status("fail")
        adopted = run_cli("adopt", env=env)
        assert adopted.returncode == 0, adopted.stdout + adopted.stderr
        # Within a cycle (1 s) the running service judges against the adopted baseline.
        began = time.monotonic()
        body = sidecar.wait_status("pass", timeout=5)
        assert time.monotonic() - began < 2.5
        assert body["checks"]["User:rowCount"][0]["highWater"] == 8
        # ... and never writes its older memory over the adopted file.
        for _ in range(5):
            saved = json.loads(state.read_text())
            assert saved["adopted_at"] is not None
            assert saved["tables"]["User"]["high_water"] == 8
            time.sleep(0.5)
    assert "the state file was replaced" in sidecar.log()


def test_an_identity_of_table_creation_times_alone_is_never_shown_empty(
    seeded: MariaDBTestServer,
) -> None:
    from tests.support.servers import monitor_env, run_cli

    seeded.execute(f"REVOKE SELECT ON mysql.gtid_slave_pos FROM '{MONITOR_USER}'@'127.0.0.1'")
    checked = run_cli("check", env=monitor_env(seeded))
    line = next(ln for ln in checked.stdout.splitlines() if ln.startswith("volume:identity"))
    assert "schema: 1 tables, digest " in line, checked.stdout
    as_json = run_cli("check", "--json", env=monitor_env(seeded))
    identity = json.loads(as_json.stdout)["checks"]["volume:identity"][0]
    assert identity["observedValue"].startswith("schema: 1 tables, digest ")
