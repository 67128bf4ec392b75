"""The identity's cost does not grow with the schema (issue 24), on a real server.

Before, every cycle read `information_schema.TABLES` for the whole app database: 1.8 s at
15,000 tables, then `cannot verify schema (query timed out)` for good. Now the schema source
looks up the watched tables and at most `BESIDE` others by exact name, and lists the schema
only at `LIST_EVERY`. FILLERS tables stand for the 15,000 here (creating those takes minutes;
`python -m bench.schema` measures them): the reading must hold the bounded set, not the schema.
"""

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from bench.many_tables import add_tables, filler_name
from sidecar.checks.volume_identity import IdentityObservation
from sidecar.dburl import parse_db_url
from sidecar.engines.base import Database, DatabaseError, ErrorKind, QueryResult
from sidecar.engines.mariadb import catalogue
from sidecar.engines.mariadb.database import MariaDB
from sidecar.identity.schema import BESIDE, LIST_EVERY, SchemaSource
from sidecar.results import Report, Status
from tests.support.evaluate import check, evaluator_for
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import MONITOR_PASSWORD, MONITOR_USER, incident, seed

FILLERS = 400
IDENTITY = "volume:identity"


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBTestServer]:
    """app.User and FILLERS tables beside it (they sort first), watched as the monitor."""
    server = MariaDBTestServer(tmp_path_factory.mktemp("crowded"))
    server.start()
    try:
        seed(server)
        add_tables(server, "app", FILLERS)
        yield server
    finally:
        server.stop()


class SlowListing(MariaDB):
    """An injected fault: listing the schema runs out of time, as it could at 100,000 tables."""

    listings = 0

    async def query(
        self, sql: str, args: Sequence[Any] | None = None, timeout: float | None = None
    ) -> QueryResult:
        if sql == catalogue.LIST:
            self.listings += 1
            raise DatabaseError(ErrorKind.TIMEOUT, "query timed out (max_statement_time)")
        return await super().query(sql, args, timeout)


def _monitor(server: MariaDBTestServer, kind: type[Database] = MariaDB) -> Database:
    return kind(parse_db_url(server.url(MONITOR_USER, MONITOR_PASSWORD)), timeout=2.0)


async def _read(source: SchemaSource, db: Database) -> tuple[dict[str, float], int]:
    """The schema reading's tables, and how many statements the read took."""
    before = db.queries
    reading = await source.read(db)
    assert reading.present, reading.note
    assert isinstance(reading.value, dict)
    return reading.value, db.queries - before


def _schema_of(report: Report) -> dict[str, float]:
    (observation,) = report.observations(IdentityObservation)
    (reading,) = [r for r in observation.readings if r.source == "schema"]
    assert isinstance(reading.value, dict), reading
    return reading.value


async def test_the_watched_table_and_a_bounded_set_beside_it_are_read(
    crowded: MariaDBTestServer,
) -> None:
    db = _monitor(crowded)
    try:
        source = SchemaSource(("User",))
        tables, statements = await _read(source, db)
        beside = [filler_name(i) for i in range(BESIDE)]
        assert sorted(tables) == sorted(["User", *beside])
        assert statements == 2  # the first read lists the schema once, then looks up
        for _ in range(3):
            again, statements = await _read(source, db)
            assert again == tables and statements == 1  # exact lookups only
    finally:
        db.close()


async def test_the_tables_beside_are_listed_anew_at_the_slow_cadence(
    crowded: MariaDBTestServer,
) -> None:
    now = [0.0]
    db = _monitor(crowded)
    try:
        source = SchemaSource(("User",), clock=lambda: now[0])
        await _read(source, db)
        crowded.execute("CREATE TABLE a_first (id INT PRIMARY KEY)", database="app")
        try:
            now[0] = LIST_EVERY - 1
            tables, statements = await _read(source, db)
            assert "a_first" not in tables and statements == 1
            now[0] = LIST_EVERY
            tables, statements = await _read(source, db)
            assert "a_first" in tables and len(tables) == 1 + BESIDE and statements == 2
        finally:
            crowded.execute("DROP TABLE a_first", database="app")
    finally:
        db.close()


async def test_without_a_watched_table_a_bounded_sample_is_read_and_said(
    crowded: MariaDBTestServer,
) -> None:
    db = _monitor(crowded)
    try:
        source = SchemaSource(())
        tables, _ = await _read(source, db)
        assert sorted(tables) == [filler_name(i) for i in range(BESIDE)]
        assert source.show(tables).endswith(", a sample: the first 16 by name, listed every 10m")
    finally:
        db.close()


async def test_a_listing_out_of_time_still_reads_the_watched_table(
    crowded: MariaDBTestServer,
) -> None:
    now = [0.0]
    db = _monitor(crowded, SlowListing)
    assert isinstance(db, SlowListing)
    try:
        source = SchemaSource(("User",), clock=lambda: now[0])
        for _ in range(3):
            tables, _ = await _read(source, db)
            assert list(tables) == ["User"]
        assert db.listings == 1  # tried again at the cadence, not every cycle
        now[0] = LIST_EVERY
        await _read(source, db)
        assert db.listings == 2
        alone = await SchemaSource(()).read(db)  # nothing else to read: it says why
        assert not alone.present and alone.note == "query timed out (max_statement_time)"
    finally:
        db.close()


async def test_the_incident_is_caught_in_the_first_cycle_on_the_new_datadir(
    crowded: MariaDBTestServer, tmp_path: Path
) -> None:
    """SELECT only: the schema and the row count are all there is to catch it with."""
    revoke = f"REVOKE SELECT ON mysql.gtid_slave_pos FROM '{MONITOR_USER}'@'127.0.0.1'"
    crowded.execute(revoke)
    evaluator = evaluator_for(crowded, state_dir=tmp_path / "state")
    try:
        before = [await evaluator.run_cycle() for _ in range(2)]
        assert [r.status for r in before] == [Status.PASS, Status.PASS], before[-1].reasons()
        assert len(_schema_of(before[-1])) == 1 + BESIDE
        # The same running sidecar: the new datadir holds User (one admin) and nothing else.
        aside = await asyncio.to_thread(incident, crowded)
        try:
            crowded.execute(revoke)
            after = await evaluator.run_cycle()
        finally:
            await asyncio.to_thread(crowded.restore_datadir, aside)
    finally:
        await evaluator.aclose()
    identity = check(after, IDENTITY)
    assert after.status is Status.FAIL
    assert identity.status is Status.FAIL, identity.output
    assert "every remembered table was created anew (User)" in identity.output
    assert "the database looks newly initialised" in identity.output
    assert identity.duration < 1.0  # within the cycle's budget (SIDECAR_TIMEOUT 1s)
