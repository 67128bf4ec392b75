"""The contract both engines keep, each case run on a real MariaDB and a real PostgreSQL cluster.

The sidecar watches `User` as a new user would set it up, with a SELECT-only account, and a
case says what happens to the data, never how an engine is driven (tests/support/app_servers.py
says that). Dangerous: the incident, down, hung, 60% deleted, the table dropped, another
server with the same schema, an older dump restored in one go and table by table, an account
that can write, an older copy of the newest records. Benign: the newest rows deleted, a restart.
Named: an empty table, a missing column, a newest record in the future or older than max_age.
What only one engine has (a streaming replica's failover, VACUUM FULL, pg_control; InnoDB's
estimates, LOCK TABLES, the datadir grant) stays with that engine's tests.
"""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sidecar.results import Report, Status
from tests.support.app_servers import AppServer
from tests.support.evaluate import check

CYCLES = 10


def _statuses(reports: list[Report]) -> list[str]:
    return [
        f"{r.status}: {'; '.join(r.reasons())}" if r.reasons() else str(r.status) for r in reports
    ]


def _assert_all(reports: list[Report], status: Status, event: str) -> None:
    assert all(r.status is status for r in reports), f"{event}: {_statuses(reports)}"


def test_the_incident_fails_within_interval_plus_timeout_with_select_only(
    app_server: AppServer, tmp_path: Path
) -> None:
    """A new datadir or cluster, the schema migrated anew and one admin: the first cycle of the
    sidecar fails, within interval + timeout, the storage identity with it; and it stays so."""
    app_server.seed()
    state = tmp_path / "state"
    _assert_all(app_server.run(2, state), Status.PASS, "before")
    app_server.incident()
    started = time.monotonic()
    first = app_server.run(1, state)[0]
    assert time.monotonic() - started < 2 + 1  # interval + timeout
    reports = [first, *app_server.run(2, state)]
    _assert_all(reports, Status.FAIL, "the incident")
    rows = check(first, "User:rowCount")
    assert rows.status is Status.FAIL and rows.observed_value == 1
    identity = check(first, "volume:identity")
    assert identity.status is Status.FAIL and identity.details["match"] == 0
    assert "the database looks newly initialised" in identity.output
    for secret in app_server.secrets:
        assert secret not in repr(reports)


def test_a_server_that_is_down_fails_naming_no_host_or_account(app_server: AppServer) -> None:
    app_server.seed()
    app_server.stop()
    connection = check(app_server.run()[0], "database:connection")
    assert connection.status is Status.FAIL
    assert connection.output.startswith("cannot connect"), connection.output
    assert "connection refused" in connection.output
    assert "127.0.0.1" not in connection.output and "monitor" not in connection.output


def test_a_hung_server_fails_within_its_budget(app_server: AppServer) -> None:
    app_server.seed()
    app_server.hang()
    try:
        started = time.monotonic()
        report = app_server.run()[0]
        assert time.monotonic() - started < 1 + 1.5  # the 1 s timeout and a little
        connection = check(report, "database:connection")
        assert connection.status is Status.FAIL and "timed out" in connection.output
    finally:
        app_server.resume()
    assert app_server.run()[0].status is Status.PASS


def test_most_rows_deleted_fails_naming_the_remembered_count(
    app_server: AppServer, tmp_path: Path
) -> None:
    app_server.seed()
    state = tmp_path / "state"
    _assert_all(app_server.run(1, state), Status.PASS, "before")
    app_server.sql(f"DELETE FROM {app_server.q('User')} WHERE id > 4")
    rows = check(app_server.run(1, state)[0], "User:rowCount")
    assert rows.status is Status.FAIL
    assert rows.output == "4 rows, down 71% from the remembered 14 (max_drop 50%)"
    assert rows.expected["atLeast"] == 7


def test_a_small_drop_within_max_drop_passes(app_server: AppServer, tmp_path: Path) -> None:
    app_server.seed()
    state = tmp_path / "state"
    app_server.run(1, state)
    app_server.sql(f"DELETE FROM {app_server.q('User')} WHERE id > 10")
    rows = check(app_server.run(1, state)[0], "User:rowCount")
    assert rows.status is Status.PASS and rows.details["highWater"] == 14


def test_an_empty_table_warns_without_a_floor_and_fails_with_one(app_server: AppServer) -> None:
    app_server.seed(users=0)
    report = app_server.run()[0]
    assert check(report, "User:rowCount").status is Status.WARN
    assert "table is empty" in check(report, "User:rowCount").output
    assert "table is empty" in check(report, "User:latestRecord").output
    floored = check(app_server.run(min_rows=1)[0], "User:rowCount")
    assert floored.status is Status.FAIL and "table is empty" in floored.output


def test_a_missing_column_is_named(app_server: AppServer) -> None:
    app_server.seed()
    latest = check(app_server.run(timestamp_column="updatedAt")[0], "User:latestRecord")
    assert latest.status is Status.FAIL
    assert latest.output.startswith("column updatedAt does not exist"), latest.output


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def test_a_newest_record_in_the_future_is_named(app_server: AppServer) -> None:
    app_server.seed()
    q = app_server.q
    future = _utc(datetime.now(UTC) + timedelta(days=3))
    app_server.sql(f"INSERT INTO {q('User')} (email, {q('createdAt')}) VALUES ('t@x', '{future}')")
    latest = check(app_server.run()[0], "User:latestRecord")
    assert latest.status is Status.WARN and "in the future" in latest.output


def test_a_stale_newest_record_warns_with_max_age(app_server: AppServer) -> None:
    app_server.seed()
    old = _utc(datetime.now(UTC) - timedelta(hours=40))
    app_server.sql(f"UPDATE {app_server.q('User')} SET {app_server.q('createdAt')} = '{old}'")
    latest = check(app_server.run(max_age="36h")[0], "User:latestRecord")
    assert latest.status is Status.WARN and "older than max_age 36h" in latest.output
    assert latest.observed_value == pytest.approx(40 * 3600, abs=120)


def test_the_newest_record_moving_backwards_with_no_row_deleted_fails(
    app_server: AppServer, tmp_path: Path
) -> None:
    """An older copy of the data: every record older than what was seen, as many rows."""
    app_server.seed()
    state = tmp_path / "state"
    _assert_all(app_server.run(1, state), Status.PASS, "before")
    old = _utc(datetime.now(UTC) - timedelta(days=1))
    app_server.sql(f"UPDATE {app_server.q('User')} SET {app_server.q('createdAt')} = '{old}'")
    latest = check(app_server.run(1, state)[0], "User:latestRecord")
    assert latest.status is Status.FAIL and "moved backwards" in latest.output


def test_a_dropped_table_is_named(app_server: AppServer, tmp_path: Path) -> None:
    """Remembered, or with a floor: fail. Neither: warn, as a table not yet made would."""
    app_server.seed()
    state = tmp_path / "state"
    _assert_all(app_server.run(1, state), Status.PASS, "before")
    app_server.sql(f"DROP TABLE {app_server.q('User')}")
    report = app_server.run(1, state)[0]
    rows = check(report, "User:rowCount")
    assert rows.status is Status.FAIL and rows.output.startswith("table does not exist")
    assert "table does not exist" in check(report, "User:latestRecord").output
    floored = check(app_server.run(min_rows=1)[0], "User:rowCount")
    assert floored.status is Status.FAIL and floored.output.startswith("table does not exist")
    unfloored = check(app_server.run()[0], "User:rowCount")
    assert unfloored.status is Status.WARN


@pytest.mark.parametrize("access", ["select-only", "volume mounted"])
def test_another_server_with_the_same_schema_and_rows(
    app_server: AppServer, tmp_path: Path, access: str
) -> None:
    """Same schema, same 14 users (a staging copy restored by hand): only the storage identity
    can tell. PostgreSQL's cluster id needs no grant; to MariaDB's SELECT-only account (no grant
    on `mysql.gtid_slave_pos`, no volume) a table made anew with every row in it looks like a
    rebuilding migration, and it passes: the blind spot docs/postgresql.md's table names."""
    app_server.seed()
    state = tmp_path / "state"
    settings = {"data_dir": str(app_server.datadir)} if access == "volume mounted" else {}
    _assert_all(app_server.run(2, state, **settings), Status.PASS, "before")
    app_server.swap()
    app_server.seed()
    report = app_server.run(1, state, **settings)[0]
    assert check(report, "User:rowCount").status is Status.PASS
    blind = (app_server.engine, access) == ("mariadb", "select-only")
    expected = Status.PASS if blind else Status.FAIL
    assert check(report, "volume:identity").status is expected, report.reasons()
    assert report.status is expected


@pytest.mark.parametrize("load", ["in one go", "table by table over many cycles"])
@pytest.mark.parametrize("tables", [1, 3], ids=["one-table", "three-table"])
def test_an_older_dump_restored_over_the_data_fails(
    app_server: AppServer, tmp_path: Path, load: str, tables: int
) -> None:
    """15 users back to the 10 of last night's dump, no timestamp column: 33%, within max_drop;
    the table recreated by the restore says it. Table by table: once `User` is back, every
    cycle fails (the other tables passing before that is fine: their rows are not watched)."""
    app_server.seed(users=10, tables=tables)
    q = app_server.q
    dumps = tmp_path / "last-night"
    dumps.mkdir()
    parts = app_server.dump_by_table(dumps) if load != "in one go" else []
    whole = dumps / "whole-night.sql"
    app_server.dump(whole)
    app_server.add_users(5, prefix="today")
    if tables == 3:
        app_server.sql(f"INSERT INTO {q('Order')} SELECT id, id, 1 FROM {q('User')} WHERE id > 10")
    state = tmp_path / "state"
    settings = {"timestamp_column": None}
    _assert_all(app_server.run(2, state, **settings), Status.PASS, "before")
    app_server.after_creation()
    during: list[Report] = []
    if load == "in one go":
        app_server.restore(whole)
    else:
        assert len(parts) == tables, parts
        for part in parts:  # Order, Session, then User: a few cycles apart
            app_server.restore(part)
            during += app_server.run(3, state, **settings)
    after = app_server.run(CYCLES, state, **settings) + app_server.run(CYCLES, state, **settings)
    rows = check(after[-1], "User:rowCount")
    assert rows.status is Status.FAIL, _statuses(after)
    assert "table was created anew" in rows.output and "holds 10 rows where 15 were" in rows.output
    _assert_all(after, Status.FAIL, f"restore ({load})")
    user_back = [r for r in during if check(r, "User:rowCount").observed_value == 10]
    _assert_all(user_back, Status.FAIL, "restore under way")


def test_an_account_that_can_write_is_warned_about(app_server: AppServer) -> None:
    app_server.seed()
    privileges = check(app_server.run()[0], "database:privileges")
    assert (privileges.status, privileges.observed_value) == (Status.PASS, "read-only")
    app_server.grant("INSERT, DELETE")
    writing = check(app_server.run()[0], "database:privileges")
    assert writing.status is Status.WARN
    assert writing.output.startswith("the sidecar's account can write to the app database")
    assert "DELETE, INSERT" in writing.output, writing.output


@pytest.mark.parametrize(("users", "deleted"), [(14, 1), (1000, 10)])
def test_deleting_the_newest_rows_is_not_going_back_in_time(
    app_server: AppServer, tmp_path: Path, users: int, deleted: int
) -> None:
    """Rows created a minute apart up to a minute ago; the newest deleted: the newest record
    moves back, but rows went with it: pass, over ten cycles and across a sidecar restart."""
    app_server.seed(users=0)
    start = datetime.now(UTC) - timedelta(minutes=users + 1)
    app_server.add_users(users, created=[start + timedelta(minutes=i) for i in range(users)])
    state = tmp_path / "state"
    _assert_all(app_server.run(2, state), Status.PASS, "before")
    q = app_server.q
    app_server.sql(
        f"DELETE FROM {q('User')} WHERE id IN (SELECT id FROM (SELECT id FROM {q('User')}"
        f" ORDER BY {q('createdAt')} DESC LIMIT {deleted}) AS newest)"
    )
    event = f"the newest {deleted} of {users} deleted"
    _assert_all(app_server.run(CYCLES, state), Status.PASS, event)
    reports = app_server.run(CYCLES, state)
    _assert_all(reports, Status.PASS, f"{event}, after a sidecar restart")
    latest = check(reports[-1], "User:latestRecord")
    assert latest.expected["notBefore"] == latest.details["newestRecord"]


def test_a_restart_of_the_server_passes(app_server: AppServer, tmp_path: Path) -> None:
    app_server.seed()
    state = tmp_path / "state"
    _assert_all(app_server.run(2, state), Status.PASS, "before")
    app_server.restart()
    _assert_all(app_server.run(CYCLES, state), Status.PASS, "a restart")
    _assert_all(app_server.run(2, state), Status.PASS, "a restart, after a sidecar restart")
