"""The backup checks in a running evaluator: real dumps from the real `mariadb-dump`.

`tests/backups/` tests the reading of dumps piece by piece; here the sidecar watches a backup
directory the way an operator sets it up (`SIDECAR_BACKUP_DIR`), through the incident's
"next morning": the good dump, the datadir swapped, the dump of the fresh database.
"""

import asyncio
import gzip
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from sidecar.backups.catalog import list_backups
from sidecar.backups.ledger import LEDGER_FILE, Ledger
from sidecar.checks.base import Problem
from sidecar.config import ConfigError, load_settings
from sidecar.evaluator import Evaluator
from sidecar.metrics import report_samples
from sidecar.results import CheckResult, Report, Status
from tests.backups.dumps import mariadb_dump, write
from tests.support.evaluate import check, evaluator_for
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import incident, monitor_env, running_sidecar, wait_for

HOUR = 3600.0


async def settled(evaluator: Evaluator, key: str, done: Any, tries: int = 100) -> Report:
    """Cycles until `done(result of key)`: dumps are counted in the background, a cycle at a
    time, so the first cycles may say "not counted yet"."""
    for _ in range(tries):
        report = await evaluator.run_cycle()
        if done(check(report, key)):
            return report
        await asyncio.sleep(0.1)
    raise AssertionError(f"{key} never settled: {check(report, key)}")


def counted(result: CheckResult) -> bool:
    return "counted yet" not in result.output and "counting" not in result.output


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    directory = tmp_path / "backups"
    directory.mkdir()
    return directory


def watching(server: MariaDBTestServer, backups: Path, tmp_path: Path, **extra: Any) -> Evaluator:
    return evaluator_for(server, state_dir=tmp_path / "state", backup_dir=str(backups), **extra)


async def test_a_fresh_dump_holding_the_rows_passes_all_three(
    seeded: MariaDBTestServer, backups: Path, tmp_path: Path
) -> None:
    write(backups / "app-1.sql.gz", mariadb_dump(seeded, "app"), time.time() - HOUR)
    evaluator = watching(seeded, backups, tmp_path)
    try:
        report = await settled(evaluator, "User:backupRows", counted)
    finally:
        await evaluator.aclose()
    assert report.status is Status.PASS, report.reasons()
    freshness, size, rows = (
        check(report, k) for k in ("backup:freshness", "backup:size", "User:backupRows")
    )
    assert freshness.observed_value == pytest.approx(HOUR, abs=60)
    assert size.observed_value == (backups / "app-1.sql.gz").stat().st_size
    assert rows.observed_value == 14 and rows.expected["highWater"] == 14
    families = {s.family.name: s for s in report_samples(report)}
    assert families["sidecar_backup_rows"].value == 14
    assert families["sidecar_backup_rows"].labels == ("User",)
    assert "sidecar_backup_age_seconds" in families and "sidecar_backup_size_bytes" in families


async def test_the_next_morning_dump_of_the_fresh_database_fails_naming_the_good_one(
    seeded: MariaDBTestServer, backups: Path, tmp_path: Path
) -> None:
    """The incident: 06:00 yesterday held 14 users; the datadir swapped; 06:00 today holds 1."""
    now = time.time()
    good = write(backups / "app-2026-11-26.sql.gz", mariadb_dump(seeded, "app"), now - 25 * HOUR)
    evaluator = watching(seeded, backups, tmp_path)
    try:
        await settled(evaluator, "User:backupRows", counted)  # learns the high-water mark 14
        incident(seeded)
        write(backups / "app-2026-11-27.sql.gz", mariadb_dump(seeded, "app"), now - HOUR)
        report = await settled(
            evaluator, "User:backupRows", lambda r: "restore candidate" in r.output
        )
    finally:
        await evaluator.aclose()
    rows = check(report, "User:backupRows")
    assert rows.status is Status.FAIL and rows.observed_value == 1
    assert rows.output == (
        "the newest backup (app-2026-11-27.sql.gz) holds 1 User row; the database held 14: "
        "rotation will drop the good ones; restore candidate: app-2026-11-26.sql.gz "
        "(14 User rows, 25h old)"
    )
    assert rows.details["restoreCandidate"] == good.name
    # and the live checks say what happened to the database itself
    assert check(report, "User:rowCount").status is Status.FAIL


async def test_each_dump_is_read_once_even_across_a_restart(
    seeded: MariaDBTestServer, backups: Path, tmp_path: Path
) -> None:
    write(backups / "app.sql", mariadb_dump(seeded, "app"), time.time() - HOUR)
    first = watching(seeded, backups, tmp_path)
    try:
        await settled(first, "User:backupRows", counted)
    finally:
        await first.aclose()
    assert (tmp_path / "state" / "backups.json").exists()
    again = watching(seeded, backups, tmp_path)
    try:
        report = await again.run_cycle()  # the first cycle already knows the count
    finally:
        await again.aclose()
    assert check(report, "User:backupRows").observed_value == 14


async def test_a_dump_still_being_written_is_not_judged_yet(
    seeded: MariaDBTestServer, backups: Path, tmp_path: Path
) -> None:
    write(backups / "app-1.sql", mariadb_dump(seeded, "app"), time.time() - 25 * HOUR)
    evaluator = watching(seeded, backups, tmp_path)
    try:
        await settled(evaluator, "User:backupRows", counted)
        growing = backups / "app-2.sql"
        growing.write_bytes(mariadb_dump(seeded, "app")[:2000])  # half-written, just now
        report = await evaluator.run_cycle()
    finally:
        await evaluator.aclose()
    # The growing dump is not the newest backup yet: age, size and rows are still app-1.sql's.
    freshness = check(report, "backup:freshness")
    assert freshness.details["backup"] == "app-1.sql"
    assert freshness.observed_value == pytest.approx(25 * HOUR, abs=60)
    rows = check(report, "User:backupRows")
    assert rows.status is Status.PASS and rows.details["backup"] == "app-1.sql"


@pytest.mark.parametrize(
    ("age", "status"), [(30 * HOUR, Status.WARN), (60 * HOUR, Status.FAIL), (None, Status.FAIL)]
)
async def test_freshness_warns_past_max_age_and_fails_past_twice_it(
    seeded: MariaDBTestServer, backups: Path, tmp_path: Path, age: float | None, status: Status
) -> None:
    if age is not None:
        write(backups / "old.sql", mariadb_dump(seeded, "app"), time.time() - age)
    evaluator = watching(seeded, backups, tmp_path)
    try:
        report = await evaluator.run_cycle()
    finally:
        await evaluator.aclose()
    freshness = check(report, "backup:freshness")
    assert freshness.status is status, freshness.output
    expected = "no backup found" if age is None else "old (max_age 26h)"
    assert expected in freshness.output


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("cut.sql.gz", "truncated gzip", "truncated"),
        ("notes.sql", "not a dump", "not a SQL dump"),
        ("other.sql", "another database", "another database"),
    ],
)
async def test_a_bad_newest_dump_fails_with_its_reason_and_the_cycle_goes_on(
    seeded: MariaDBTestServer, backups: Path, tmp_path: Path, name: str, content: str, says: str
) -> None:
    now = time.time()
    write(backups / "good.sql", mariadb_dump(seeded, "app"), now - 25 * HOUR)
    sql = mariadb_dump(seeded, "app")
    if content == "truncated gzip":
        (backups / name).write_bytes(gzip.compress(sql)[:-200])
    elif content == "not a dump":
        (backups / name).write_text("shopping list: milk; bread (two)\n" * 50)
    else:
        seeded.execute("CREATE DATABASE shop", "CREATE TABLE shop.User (id INT)")
        (backups / name).write_bytes(mariadb_dump(seeded, "--databases", "shop"))
    os.utime(backups / name, (now - HOUR, now - HOUR))
    evaluator = watching(seeded, backups, tmp_path)
    try:
        report = await settled(evaluator, "User:backupRows", counted)
    finally:
        await evaluator.aclose()
    rows = check(report, "User:backupRows")
    assert rows.status is Status.FAIL and says in rows.output, rows.output
    assert "\n" not in rows.output
    assert check(report, "database:connection").status is Status.PASS


async def test_hostile_file_names_are_listed_on_one_line_and_never_opened_blindly(
    seeded: MariaDBTestServer, backups: Path, tmp_path: Path
) -> None:
    now = time.time()
    sql = mariadb_dump(seeded, "app")
    write(backups / "-rf --no-preserve-root.sql", sql, now - 2 * HOUR)
    write(backups / "new\nline.sql", sql, now - HOUR)
    (backups / "dir.sql").mkdir()
    os.mkfifo(backups / "fifo.sql")
    (backups / "escape.sql").symlink_to("/etc/passwd")
    evaluator = watching(seeded, backups, tmp_path)
    try:
        report = await settled(evaluator, "User:backupRows", counted)
    finally:
        await evaluator.aclose()
    rows = check(report, "User:backupRows")
    assert rows.status is Status.PASS and rows.observed_value == 14
    assert check(report, "backup:freshness").status is Status.PASS


def test_backup_settings_from_variables_and_toml(tmp_path: Path) -> None:
    base = {"db_url": "mysql://m@127.0.0.1/app", "table": "User"}
    config = load_settings({**base, "backup_dir": str(tmp_path), "backup_max_age": "2d"})
    assert config.backups is not None
    assert config.backups.patterns == ("*.sql", "*.sql.gz", "*.sql.zst", "*.dump")
    assert config.backups.max_age == 2 * 86400
    toml = tmp_path / "sidecar.toml"
    toml.write_text(f'[backups]\ndir = "{tmp_path}"\nglob = ["*.dump.gz"]\nmax_age = "12h"\n')
    from_toml = load_settings({**base, "config": str(toml)})
    assert from_toml.backups is not None and from_toml.backups.patterns == ("*.dump.gz",)
    assert load_settings(base).backups is None
    with pytest.raises(ConfigError) as caught:
        load_settings({**base, "backup_glob": "*.sql"})
    assert caught.value.setting == "SIDECAR_BACKUP_DIR"
    with pytest.raises(ConfigError) as bad_glob:
        load_settings({**base, "backup_dir": str(tmp_path), "backup_glob": "../*.sql"})
    assert bad_glob.value.setting == "SIDECAR_BACKUP_GLOB"


async def test_a_failing_backup_warns_the_verdict_but_never_fails_it(
    seeded: MariaDBTestServer, backups: Path, tmp_path: Path
) -> None:
    """No dump at all: the backup checks fail, the database stays in service (verdict warn)."""
    evaluator = watching(seeded, backups, tmp_path)
    try:
        report = await evaluator.run_cycle()
    finally:
        await evaluator.aclose()
    assert check(report, "backup:freshness").status is Status.FAIL
    assert check(report, "backup:freshness").output == "no backup found"
    assert report.status is Status.WARN, report.reasons()


def test_readyz_stays_200_while_the_backups_fail(
    seeded: MariaDBTestServer, backups: Path, tmp_path: Path
) -> None:
    from tests.support.servers import monitor_env, running_sidecar

    env = monitor_env(seeded, backup_dir=backups, state_dir=tmp_path / "state")
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        body = sidecar.wait_status("warn")
        assert body["checks"]["backup:freshness"][0]["status"] == "fail"
        assert sidecar.get("/readyz").status_code == 200


def strict_json(raw: bytes) -> Any:
    """`raw` parsed as strict parsers do: UTF-8 only, and no lone surrogate (`\\udcff`)."""

    def no_surrogate(value: Any) -> Any:
        if isinstance(value, str):
            value.encode("utf-8")  # raises on a lone surrogate, as serde_json or Go would
        elif isinstance(value, dict):
            for key, item in value.items():
                no_surrogate(key), no_surrogate(item)
        elif isinstance(value, list):
            for item in value:
                no_surrogate(item)
        return value

    return no_surrogate(json.loads(raw.decode("utf-8")))


def test_an_undecodable_backup_name_is_shown_escaped_everywhere(
    seeded: MariaDBTestServer, backups: Path, tmp_path: Path
) -> None:
    """The good dump's name is not UTF-8; the newest is cut short, so it is the candidate."""
    sql = mariadb_dump(seeded, "app")
    good = os.fsdecode(b"app-\xff.sql.gz")
    write(backups / good, sql, time.time() - 25 * HOUR)
    write(backups / "app-new.sql", sql[: len(sql) // 2], time.time() - HOUR)
    state = tmp_path / "state"
    env = monitor_env(seeded, state_dir=state, backup_dir=backups)
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:

        def named() -> bool:
            checks = strict_json(sidecar.get("/health").content).get("checks", {})
            rows = checks.get("User:backupRows", [{}])  # none before the first cycle
            return "restore candidate: " in rows[0].get("output", "")

        wait_for(named, 60, "the restore candidate in /health")
        body = strict_json(sidecar.get("/health").content)
        metrics = sidecar.get("/metrics").content.decode("utf-8")
        page = sidecar.get("/status")
        assert page.status_code == 200
        page.content.decode("utf-8")
    (rows,) = body["checks"]["User:backupRows"]
    assert rows["status"] == "fail"
    assert rows["output"].endswith(r"restore candidate: app-\udcff.sql.gz (14 User rows, 25h old)")
    assert rows["restoreCandidate"] == r"app-\udcff.sql.gz"
    assert "\udcff" not in metrics
    ledger = strict_json((state / LEDGER_FILE).read_bytes())
    assert {e["name"] for e in ledger["entries"]} == {"app-new.sql", r"app-\udcff.sql.gz"}
    # The ledger keeps the name's bytes: read back, it still answers for the very file.
    listing = list_backups(backups)
    loaded = Ledger.load(state / LEDGER_FILE)
    assert all(loaded.lookup(f, ["User"], "app", time.time()) for f in listing.files)


async def test_a_backup_directory_that_cannot_be_listed_is_a_file_problem_not_a_database_one(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    """The evaluator's one seam for "could not observe": a file error passes as itself."""
    evaluator = watching(seeded, tmp_path / "absent", tmp_path)
    try:
        report = await evaluator.run_cycle()
    finally:
        await evaluator.aclose()
    freshness = check(report, "backup:freshness")
    assert freshness.status is Status.FAIL
    assert freshness.output == "cannot list the backup directory: No such file or directory"
    assert isinstance(freshness.observation, Problem) and freshness.observation.origin == "file"
    assert report.status is Status.WARN, report.reasons()
