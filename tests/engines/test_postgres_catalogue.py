"""PostgreSQL's catalogue as the checks read it: kinds, estimates, generations, index leads."""

import asyncio
from collections.abc import Iterator

import pytest

from sidecar.dburl import parse_db_url
from sidecar.engines import connect
from sidecar.engines.postgres.catalogue import estimate
from tests.support.postgres_app import monitor_url, seed
from tests.support.postgres_server import PostgresTestServer


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresTestServer]:
    server = PostgresTestServer()
    server.start()
    try:
        seed(server)
        server.psql(
            'CREATE VIEW "Active" AS SELECT * FROM "User"',
            "CREATE TABLE part (id int, at timestamptz) PARTITION BY RANGE (id)",
            "CREATE TABLE part_1 PARTITION OF part FOR VALUES FROM (0) TO (1000)",
            "CREATE TABLE indexed (a int, b int, c int)",
            "CREATE INDEX ON indexed (a)",
            "CREATE INDEX ON indexed (b) WHERE b > 0",  # partial: holds only some rows
            "CREATE INDEX ON indexed ((c + 1))",  # an expression, not the column
            "CREATE INDEX ON indexed USING hash (c)",  # no order: cannot answer MAX()
            'CREATE TABLE "user" (id int)',
            database="app",
        )
        yield server
    finally:
        server.remove()


def test_the_smaller_known_estimate_is_taken() -> None:
    assert estimate(-1.0, None) is None  # never analysed, no statistics: count exactly
    assert estimate(-1.0, 120) == 120
    assert estimate(5000.0, 2000) == 2000  # a DELETE not yet seen by autovacuum
    assert estimate(5000.0, 0) == 0  # statistics reset after a crash: a probe will confirm
    assert estimate(5000.0, None) == 5000


def test_lookup_tells_tables_from_views_and_names_exactly(cluster: PostgresTestServer) -> None:
    async def go() -> None:
        db = connect(parse_db_url(monitor_url(cluster)), 2.0)
        try:
            found = await db.dialect.lookup(db, ["User", "user", "Active", "part", "USER"])
            assert set(found) == {"User", "user", "Active", "part"}
            assert found["User"].base_table and not found["Active"].base_table
            assert found["part"].base_table and found["part"].rows is None  # counted exactly
            assert found["User"].generation != found["user"].generation
            assert found["User"].created is None  # PostgreSQL keeps no creation time
            assert await db.dialect.similar_names(db, "USER") == ("User", "user")
            pairs = [("indexed", "a"), ("indexed", "b"), ("indexed", "c"), ("User", "createdAt")]
            assert await db.dialect.leading_index(db, pairs) == {
                ("indexed", "a"),
                ("User", "createdAt"),
            }
            assert "indexed" in await db.dialect.list_tables(db, 100)
        finally:
            db.close()

    asyncio.run(go())
