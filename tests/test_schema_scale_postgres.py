"""On PostgreSQL too, a cycle's cost does not grow with the schema (issue 24), on a real cluster.

The statements a cycle sends are counted by the server (pg_stat_statements, per database and
role), so "the same statements at N tables as at one" is what PostgreSQL saw, not what the
sidecar meant to send. And the same statement can cost more with the schema: the catalogue
lookup once joined `pg_stat_user_tables`, a view that computes a row for every table of the
database, so the plan of each catalogue read is held to the rows it touches. FILLERS tables
stand for 15,000 here (`python -m bench.pg_schema` measures those).
"""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.many_tables import WATCHED_ROWS, pg_add_tables, pg_add_watched, watching
from sidecar.dburl import parse_db_url
from sidecar.engines import connect
from sidecar.engines.postgres import catalogue
from sidecar.evaluator import Evaluator
from sidecar.identity.relations import RelationsSource
from sidecar.identity.schema import BESIDE
from sidecar.results import Status
from tests.support.evaluate import check
from tests.support.postgres_app import MONITOR, MONITOR_PASSWORD, evaluator_for, incident, seed
from tests.support.postgres_server import PostgresTestServer

FILLERS = 400
WATCHED = 200
# Statements a cycle may take for 200 watched tables: what one table takes plus a few per
# hundred tables for each kind of read (as tests/test_many_watched_tables.py on MariaDB).
BOUND = 20
STATEMENTS = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresTestServer]:
    """Databases `one` (User alone), `many` (User and FILLERS tables) and `watched` (User and
    WATCHED watched tables), counted by pg_stat_statements."""
    server = PostgresTestServer(settings=STATEMENTS)
    server.start()
    try:
        for database in ("one", "many", "watched"):
            seed(server, database=database)
        pg_add_tables(server, "many", FILLERS)
        pg_add_watched(server, "watched", WATCHED)
        server.psql("CREATE EXTENSION pg_stat_statements")
        yield server
    finally:
        server.remove()


def _evaluator(server: PostgresTestServer, database: str, **settings: Any) -> Evaluator:
    url = server.url(MONITOR, MONITOR_PASSWORD, database)
    return evaluator_for(server, None, db_url=url, **settings)


def _sent(server: PostgresTestServer, database: str) -> dict[str, int]:
    """What the monitor role has run in `database`: calls by normalised statement."""
    rows = server.psql(
        "SELECT query, calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
        f" WHERE d.datname = '{database}' AND s.userid = '{MONITOR}'::regrole"
    )
    sent: dict[str, int] = {}
    for line in rows.splitlines():
        query, _, calls = line.rpartition("|")
        sent[query] = sent.get(query, 0) + int(calls)
    return sent


async def _cycles(
    server: PostgresTestServer, database: str, evaluator: Evaluator
) -> dict[str, int]:
    """The statements of two cycles after a warm-up one (connections, the first listing)."""
    report = await evaluator.run_cycle()
    assert report.status is Status.PASS, report.reasons()[:3]
    before = await asyncio.to_thread(_sent, server, database)
    for _ in range(2):
        report = await evaluator.run_cycle()
        assert report.status is Status.PASS, report.reasons()[:3]
    after = await asyncio.to_thread(_sent, server, database)
    return {q: n - before.get(q, 0) for q, n in after.items() if n != before.get(q, 0)}


async def test_a_cycle_at_many_tables_sends_the_statements_it_sends_at_one(
    cluster: PostgresTestServer,
) -> None:
    sent = {}
    for database in ("one", "many"):
        evaluator = _evaluator(cluster, database)
        try:
            sent[database] = await _cycles(cluster, database, evaluator)
        finally:
            await evaluator.aclose()
    # A schema with fewer tables than BESIDE is listed every cycle (identity/schema.py: new
    # tables join at once, and the listing costs nothing there); a large one every 10 minutes.
    listing = next(q for q in sent["one"] if "ORDER BY c.oid LIMIT" in q)
    assert sent["many"] == {q: n for q, n in sent["one"].items() if q != listing}
    assert 0 < sum(sent["many"].values()) <= 2 * 12  # two cycles, a dozen statements each


def _plan_rows(server: PostgresTestServer, sql: str, database: str) -> int:
    """Rows every node of `sql`'s plan produced, summed over its loops: the work it did."""
    text = server.psql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", database=database)

    def rows(node: dict[str, Any]) -> int:
        own = int(node.get("Actual Rows", 0)) * int(node.get("Actual Loops", 1))
        return own + sum(rows(child) for child in node.get("Plans", []))

    return rows(json.loads(text)[0]["Plan"])


def test_the_catalogue_reads_touch_the_names_asked_for_not_the_schema(
    cluster: PostgresTestServer,
) -> None:
    names = "ARRAY['User', 't00001', 't00002']"
    lookup = catalogue.LOOKUP.replace("$1::text[]", names).replace("$2::text", "NULL")
    index = catalogue.LEADS_INDEX.replace("$1::text[]", names)
    listing = catalogue.LIST.replace("$1", str(BESIDE + 2))
    # A plan that walks the schema produces a row for each of the FILLERS tables at least.
    for sql in (lookup, index, listing):
        assert _plan_rows(cluster, sql, "many") <= FILLERS // 4, sql
    # What the lookup once joined, and the listing by name: what they cost, for the record.
    assert _plan_rows(cluster, "SELECT relid FROM pg_stat_user_tables", "many") > FILLERS
    by_name = listing.replace("ORDER BY c.oid", "ORDER BY c.relname")
    assert _plan_rows(cluster, by_name.replace("AND c.oid >= 16384", ""), "many") > FILLERS


async def test_two_hundred_watched_tables_cost_a_bounded_number_of_statements(
    cluster: PostgresTestServer, tmp_path: Path
) -> None:
    names = [f"w{i:03d}" for i in range(WATCHED)]
    config = watching(names, tmp_path / "tables.toml")
    evaluator = _evaluator(cluster, "watched", table=None, timestamp_column=None, config=config)
    try:
        sent = await _cycles(cluster, "watched", evaluator)
        report = await evaluator.run_cycle()
    finally:
        await evaluator.aclose()
    assert sum(sent.values()) <= 2 * BOUND, sent
    for name in (names[0], names[99], names[100], names[-1]):
        assert check(report, f"{name}:rowCount").observed_value == WATCHED_ROWS
        latest = check(report, f"{name}:latestRecord")
        assert latest.status is Status.PASS and latest.details["indexed"] is True


async def test_the_incident_is_caught_in_the_first_cycle_among_many_tables(
    tmp_path: Path,
) -> None:
    server = PostgresTestServer()
    server.start()
    try:
        seed(server)
        pg_add_tables(server, "app", FILLERS)
        evaluator = evaluator_for(server, tmp_path / "state", timeout="1s")
        try:
            before = [await evaluator.run_cycle() for _ in range(2)]
            assert [r.status for r in before] == [Status.PASS] * 2, before[-1].reasons()
            await asyncio.to_thread(incident, server)  # a new cluster: User and one admin
            after = await evaluator.run_cycle()
        finally:
            await evaluator.aclose()
    finally:
        server.remove()
    identity = check(after, "volume:identity")
    assert after.status is Status.FAIL and identity.status is Status.FAIL, identity.output
    assert identity.duration < 1.0  # within the cycle's budget (SIDECAR_TIMEOUT 1s)


async def test_without_a_watched_table_the_oldest_tables_are_read_and_said(
    cluster: PostgresTestServer,
) -> None:
    db = connect(parse_db_url(cluster.url(MONITOR, MONITOR_PASSWORD, "many")), 2.0)
    try:
        source = RelationsSource(())
        reading = await source.read(db)
    finally:
        db.close()
    assert isinstance(reading.value, dict)
    # `User` was created first (seed), then the fillers in order: the oldest, by OID.
    assert sorted(reading.value) == sorted(["User", *[f"t{i:05d}" for i in range(BESIDE - 1)]])
    said = source.show(reading.value)
    assert said.endswith(", a sample: the 16 oldest (by OID), listed every 10m")
