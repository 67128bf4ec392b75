"""What only PostgreSQL has, on a real cluster, as the SELECT-only monitor role.

Every kind of grant that lets the role write is named; the newest record is read from every
time type; names are matched case and all; large tables are estimated and bounded; the
maintenance PostgreSQL operators do every week (VACUUM FULL, CLUSTER, a rewriting ALTER, ...)
passes, cycle after cycle and across a restart of the sidecar; a failover to a streaming replica
passes; the data volume must hold the cluster the server runs. The cases both engines share
(the incident, down, hung, deletions, a dropped table, another cluster, restored dumps, a
restart) are in tests/engines/test_contract.py.
"""

import asyncio
from pathlib import Path

import pytest

from sidecar.demo.postgres import SUPERUSER_PASSWORD
from sidecar.evaluator import Evaluator
from sidecar.results import Report
from tests.support.evaluate import check
from tests.support.postgres_app import (
    MONITOR,
    MONITOR_PASSWORD,
    evaluator_for,
    statuses,
)
from tests.support.postgres_server import PostgresTestServer


async def run(evaluator: Evaluator, cycles: int = 1) -> Report:
    """`cycles` cycles on one evaluator (its connections kept); the last report."""
    report = await evaluator.run_cycle()
    for _ in range(cycles - 1):
        report = await evaluator.run_cycle()
    return report


async def fresh(
    server: PostgresTestServer, state: Path | None = None, **settings: object
) -> Report:
    """One cycle of a new evaluator (a sidecar started anew), closed afterwards."""
    evaluator = evaluator_for(server, state, **settings)
    try:
        return await evaluator.run_cycle()
    finally:
        await evaluator.aclose()


def run_fresh(server: PostgresTestServer, state: Path | None = None, **settings: object) -> Report:
    """`fresh`, from a test that is not itself async."""
    return asyncio.run(fresh(server, state, **settings))


def _no_secret(report: Report) -> None:
    text = repr(report)
    assert MONITOR_PASSWORD not in text and SUPERUSER_PASSWORD not in text


def test_a_healthy_cluster_passes_every_check_with_select_only(
    cluster: PostgresTestServer, tmp_path: Path
) -> None:
    report = run_fresh(cluster, tmp_path)
    assert dict(statuses(report)) == {
        "database:connection": "pass",
        "database:privileges": "pass",
        "User:rowCount": "pass",
        "User:latestRecord": "pass",
        "volume:identity": "pass",
    }
    assert check(report, "User:rowCount").observed_value == 14
    assert check(report, "User:latestRecord").details["indexed"] is True
    identity = check(report, "volume:identity")
    assert str(identity.observed_value).startswith("cluster=")
    _no_secret(report)


@pytest.mark.parametrize(
    ("grant", "named"),
    [
        ('GRANT INSERT, UPDATE ON "User" TO {role}', "INSERT, UPDATE"),
        ('GRANT DELETE ON "User" TO {role}', "DELETE"),
        ("ALTER ROLE {role} SUPERUSER", "SUPERUSER"),
        ("ALTER ROLE {role} BYPASSRLS", "BYPASSRLS"),
        ('ALTER TABLE "User" OWNER TO {role}', "OWNER"),
        ("GRANT CREATE ON SCHEMA public TO {role}", "CREATE (on the schema)"),
        ("GRANT pg_write_all_data TO {role}", "INSERT"),
    ],
)
def test_what_lets_the_role_write_is_named(
    cluster: PostgresTestServer, grant: str, named: str
) -> None:
    cluster.psql(grant.format(role=MONITOR), database="app")
    privileges = check(run_fresh(cluster), "database:privileges")
    assert privileges.status == "warn"
    assert named in privileges.output, privileges.output


@pytest.mark.parametrize(
    ("column_type", "value"),
    [
        ("timestamp(3)", "now() AT TIME ZONE 'UTC'"),
        ("timestamptz", "now()"),
        ("date", "current_date"),
        ("bigint", "extract(epoch from now())::bigint"),
        ("bigint", "(extract(epoch from now()) * 1000)::bigint"),
        ("double precision", "extract(epoch from now())"),
    ],
)
def test_the_newest_record_is_read_from_every_time_type(
    cluster: PostgresTestServer, column_type: str, value: str
) -> None:
    cluster.psql(
        f'CREATE TABLE "Event" (id serial PRIMARY KEY, at {column_type} NOT NULL)',
        f'INSERT INTO "Event" (at) SELECT {value} FROM generate_series(1, 3)',
        database="app",
    )
    newest = check(
        run_fresh(cluster, table="Event", timestamp_column="at", max_age="2d"), "Event:latestRecord"
    )
    assert newest.status == "pass", newest.output
    assert newest.details["indexed"] is False  # no index on `at`: said, and read anyway


def test_names_are_matched_exactly(cluster: PostgresTestServer) -> None:
    """`user` is not Prisma's `"User"`: PostgreSQL folds unquoted names, we never do."""
    rows = check(run_fresh(cluster, table="user", timestamp_column=None), "user:rowCount")
    assert rows.status == "fail"
    assert rows.output.startswith("table does not exist")
    assert '"User"' in rows.output  # the table it may have meant


async def test_a_large_table_is_estimated_and_a_mass_delete_is_seen(
    cluster: PostgresTestServer, tmp_path: Path
) -> None:
    """Above `exact_count_below` the count is the server's estimate: before any ANALYZE
    (reltuples -1) it is counted exactly; after, estimated; a 60% DELETE shows at once (the
    statistics system's live tuples) and a bounded probe confirms it below the line."""
    cluster.psql(
        "INSERT INTO \"User\" (email) SELECT 'bulk' || g FROM generate_series(1, 5000) g",
        database="app",
    )
    settings: dict[str, object] = {"exact_count_below": 1000, "timestamp_column": None}
    evaluator = evaluator_for(cluster, tmp_path, **settings)
    try:
        first = check(await run(evaluator), "User:rowCount")
        assert first.status == "pass", first.output
        cluster.psql('ANALYZE "User"', database="app")
        estimated = check(await run(evaluator), "User:rowCount")
        assert estimated.details["countKind"] == "estimate"
        assert 4500 <= int(str(estimated.observed_value)) <= 5500
        cluster.psql('DELETE FROM "User" WHERE id % 10 < 6', database="app")
        # psql's session flushes its statistics as it exits; the server shows them at once.
        live = "SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'User'"
        assert int(cluster.psql(live, database="app")) < 2500
        after = check(await run(evaluator), "User:rowCount")
        assert after.status == "fail", after.output
        assert "down" in after.output
    finally:
        await evaluator.aclose()


# A restart and the newest row deleted: tests/engines/test_contract.py, on both engines.
BENIGN = [
    ("vacuum full", 'VACUUM FULL "User"'),
    ("add column", 'ALTER TABLE "User" ADD COLUMN nickname text'),
    ("rewriting alter type", 'ALTER TABLE "User" ALTER COLUMN email TYPE varchar(200)'),
    ("cluster", 'CLUSTER "User" USING "User_pkey"'),
    ("reindex", 'REINDEX TABLE "User"'),
    ("analyze", 'ANALYZE "User"'),
    ("inserts and deletes", "INSERT INTO \"User\" (email) VALUES ('new@example.com')"),
]


async def test_maintenance_passes_every_cycle_and_across_a_sidecar_restart(
    cluster: PostgresTestServer, tmp_path: Path
) -> None:
    """Each event, then two cycles, then a new sidecar on the same state: every check passes."""
    evaluator = evaluator_for(cluster, tmp_path)
    try:
        assert (await run(evaluator)).status == "pass"
        for name, statement in BENIGN:
            cluster.psql(statement, database="app")
            report = await run(evaluator, cycles=2)
            failing = [(k, s) for k, s in statuses(report) if s != "pass"]
            assert not failing, (name, [check(report, k).output for k, _ in failing])
    finally:
        await evaluator.aclose()
    assert (await fresh(cluster, tmp_path)).status == "pass"


async def test_a_failover_to_a_streaming_replica_passes(
    cluster: PostgresTestServer, tmp_path: Path
) -> None:
    """The standby shares the primary's system identifier and table OIDs: promoted in its
    place, the data carried over, and every check passes (the volume, were it mounted, would be
    the standby's: a pinned volume would fail, and should, as a pin names one volume)."""
    standby = PostgresTestServer()
    try:
        standby.standby_of(cluster)
        evaluator = evaluator_for(cluster, tmp_path)
        try:
            assert (await run(evaluator)).status == "pass"
            standby.take_over(cluster)
            report = await run(evaluator, cycles=2)
            failing = [
                check(report, key).output for key, status in statuses(report) if status != "pass"
            ]
            assert not failing, failing
            assert check(report, "User:rowCount").observed_value == 14
        finally:
            await evaluator.aclose()
    finally:
        standby.remove()


def test_the_data_volume_must_hold_the_cluster_the_server_runs(
    cluster: PostgresTestServer, tmp_path: Path
) -> None:
    """With the data volume mounted (SIDECAR_DATA_DIR), the cluster on it (its pg_control) is
    held against the one the server runs: an empty volume (postgres:18's trap: the data went to
    an anonymous volume) and another cluster's volume fail at once, before any memory."""
    on_volume = check(run_fresh(cluster, data_dir=str(cluster.datadir)), "volume:identity")
    assert on_volume.status == "pass", on_volume.output
    empty = tmp_path / "named-volume"
    empty.mkdir()
    trap = check(run_fresh(cluster, data_dir=str(empty)), "volume:identity")
    assert trap.status == "fail"
    assert "holds no cluster, but the server runs cluster " in trap.output
    assert "mount the volume at /var/lib/postgresql" in trap.output
    layout18 = tmp_path / "var-lib-postgresql"
    (layout18 / "18").mkdir(parents=True)
    (layout18 / "18" / "docker").symlink_to(cluster.datadir)
    assert check(run_fresh(cluster, data_dir=str(layout18)), "volume:identity").status == "pass"
    other = PostgresTestServer()
    try:
        other.initialise()
        elsewhere = check(run_fresh(cluster, data_dir=str(other.datadir)), "volume:identity")
        assert elsewhere.status == "fail"
        assert "its data is not on this volume" in elsewhere.output
    finally:
        other.remove()
