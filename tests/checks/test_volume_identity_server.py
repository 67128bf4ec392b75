"""volume:identity and memory: changes when the datadir is replaced, and only then."""

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from sidecar.results import Status
from sidecar.state import STATE_FILE
from tests.support.evaluate import check, cycle, evaluator_for, once
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import MONITOR_USER, add_users, incident, monitor_env, run_cli, seed

IDENTITY = "volume:identity"


def _identity(report: object) -> str:
    return str(check(report, IDENTITY).observed_value)  # type: ignore[arg-type]


@pytest.fixture
def full(seeded: MariaDBTestServer, tmp_path: Path) -> dict[str, str]:
    """Settings with every source: mounted datadir, datadir grant, lineage query."""
    seeded.execute(
        "CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY, started_at DATETIME)",
        "INSERT INTO _prisma_migrations VALUES (UUID(), NOW())",
        database="app",
    )
    return {
        "data_dir": str(seeded.datadir),
        "state_dir": str(tmp_path / "state"),
        "identity_query": "SELECT id FROM _prisma_migrations ORDER BY started_at, id LIMIT 1",
    }


async def test_benign_events_keep_identity_and_pass(
    seeded: MariaDBTestServer, full: dict[str, str]
) -> None:
    first = await once(seeded, **full)
    assert first.status is Status.PASS, first.reasons()
    assert check(first, IDENTITY).output == "baseline recorded now (trust on first use)"
    baseline = _identity(first)
    for source in ("lineage=", "volume=", "inode=", "datadir="):
        assert source in baseline

    async def still_same(event: str) -> None:
        report = await once(seeded, **full)  # a new evaluator each time: a sidecar restart
        assert report.status is Status.PASS, (event, report.reasons())
        assert _identity(report) == baseline, event

    seeded.restart()
    await still_same("server restart")
    seeded.execute("ALTER TABLE User ADD COLUMN nickname VARCHAR(20)", database="app")  # instant
    await still_same("instant ALTER TABLE")
    seeded.execute("ALTER TABLE User FORCE", database="app")  # table rebuild
    await still_same("rebuilding ALTER TABLE")
    add_users(seeded, 5)
    seeded.execute("DELETE FROM User WHERE id = 1", database="app")
    await still_same("inserts and deletes")
    upgrade = await asyncio.to_thread(
        subprocess.run,
        ["mariadb-upgrade", "--force", "-uroot", "-h127.0.0.1", f"-P{seeded.port}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    await still_same("mariadb-upgrade --force")


async def test_incident_without_any_floor_fails_naming_identity_and_drop(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    """The least the sidecar can have: SELECT on app.* only, no volume, no extra grant."""
    seeded.execute(f"REVOKE SELECT ON mysql.gtid_slave_pos FROM '{MONITOR_USER}'@'127.0.0.1'")
    state = {"state_dir": str(tmp_path / "state")}
    assert (await once(seeded, **state)).status is Status.PASS
    incident(seeded)
    seeded.execute(f"REVOKE SELECT ON mysql.gtid_slave_pos FROM '{MONITOR_USER}'@'127.0.0.1'")
    # A new evaluator: the sidecar restarted mid-incident, its memory comes from disk.
    report = await once(seeded, **state)
    assert report.status is Status.FAIL
    rows = check(report, "User:rowCount")
    assert rows.output == "1 row, down 93% from the remembered 14 (max_drop 50%)"
    identity = check(report, IDENTITY)
    assert identity.status is Status.FAIL
    assert "every remembered table was created anew (User)" in identity.output
    assert "the database looks newly initialised" in identity.output


async def test_incident_with_every_source_names_each_change(
    seeded: MariaDBTestServer, full: dict[str, str]
) -> None:
    assert (await once(seeded, **full)).status is Status.PASS
    incident(seeded)
    seeded.execute(
        "CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY, started_at DATETIME)",
        "INSERT INTO _prisma_migrations VALUES (UUID(), NOW())",
        database="app",
    )
    report = await once(seeded, **full)
    output = check(report, IDENTITY).output
    for source in ("lineage changed", "inode changed", "datadir changed"):
        assert source in output
    assert "newly initialised (datadir initialised" in output
    # The memory was not overwritten by the foreign database.
    saved = json.loads((Path(full["state_dir"]) / STATE_FILE).read_text())
    assert saved["tables"]["User"]["high_water"] == 14


async def test_sentinel_planted_by_adopt_is_missing_from_a_fresh_datadir(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    from sidecar.commands.adopt import adopt
    from sidecar.config import load_settings

    state_dir = tmp_path / "state"
    config = load_settings(
        {
            "db_url": seeded.url("monitor", "Mon1tor-Secret-7c1e"),
            "admin_url": seeded.url("root", "", "app"),
            "table": "User",
            "state_dir": str(state_dir),
        }
    )
    # adopt runs its own event loop, as the CLI does
    code = await asyncio.to_thread(adopt, config, True)
    assert code == 0
    planted = seeded.execute("SELECT id FROM _sidecar_identity", database="app")
    assert len(planted) == 1
    report = await once(seeded, state_dir=str(state_dir))
    assert f"sentinel={planted[0][0]}" in _identity(report)
    incident(seeded)
    failed = check(await once(seeded, state_dir=str(state_dir)), IDENTITY)
    assert failed.status is Status.FAIL
    assert "sentinel" in failed.output and "is gone (baseline)" in failed.output


async def test_unverifiable_source_warns_instead_of_passing(
    seeded: MariaDBTestServer, full: dict[str, str]
) -> None:
    await once(seeded, **full)
    seeded.execute(f"REVOKE SELECT ON mysql.gtid_slave_pos FROM '{MONITOR_USER}'@'127.0.0.1'")
    identity = check(await once(seeded, **full), IDENTITY)
    assert identity.status is Status.WARN
    assert "cannot verify datadir" in identity.output


async def test_corrupt_state_is_reported_and_set_aside_never_replaced(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / STATE_FILE).write_text('{"format": 1, "identity": {"sour')
    evaluator = evaluator_for(seeded, state_dir=state_dir)
    try:
        report = await cycle(evaluator)
    finally:
        await evaluator.aclose()
    state = check(report, "sidecar:state")
    assert state.status is Status.FAIL and "state file is corrupt: not JSON" in state.output
    assert not (state_dir / STATE_FILE).exists()  # nothing new was written in its place
    assert (state_dir / "state.json.corrupt").read_text() == '{"format": 1, "identity": {"sour'


async def test_first_start_on_an_empty_database_warns_so_migrations_can_run(
    mariadb: MariaDBTestServer, tmp_path: Path
) -> None:
    """A compose stack's first bring-up: no table yet. Warn (ready), never block the app."""
    seed(mariadb, users=0)
    mariadb.execute("DROP TABLE User", database="app")
    report = await once(mariadb, state_dir=str(tmp_path / "state"), data_dir=str(mariadb.datadir))
    assert report.status is Status.WARN, report.reasons()


def test_a_typo_in_the_data_dir_warns_on_the_first_run_and_the_next(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    """`sidecar check --data-dir /var/lib/mysq` used to pass silently on `schema` alone."""
    typo = tmp_path / "mysq"
    env = monitor_env(seeded, state_dir=tmp_path / "state")
    for run in ("first", "later"):
        result = run_cli("check", "--data-dir", str(typo), env=env)
        assert result.returncode == 1, (run, result.stdout, result.stderr)  # WARNING
        assert (
            f"cannot read volume, inode (SIDECAR_DATA_DIR {typo}: No such file or directory)"
            in result.stdout
        ), (run, result.stdout)
    assert (tmp_path / "state" / STATE_FILE).exists()  # the rest was still learned
    fixed = run_cli("check", "--data-dir", str(seeded.datadir), env=env)
    assert fixed.returncode == 0, fixed.stdout
