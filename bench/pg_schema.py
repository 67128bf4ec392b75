"""`python -m bench.pg_schema`: a cycle's cost on PostgreSQL by schema size and watched tables.

.venv/bin/python -m bench.pg_schema     # 1 vs 3,000 vs 15,000 tables, 1 vs 200 watched, incident
.venv/bin/python -m bench.pg_schema --tables 1,300 --watched 20 --cycles 3 --output /tmp/b.md

bench/schema.py's measurement on PostgreSQL, side by side in one run on one cluster whose data
directory is cached under --cache-dir (15,000 tables take a minute to create; later runs reuse
them), with pg_stat_statements loaded:
- one database per schema size, each holding `"User"` (14 rows) and small tables beside it
  (a primary key and a text column each: a table, its index, its toast table and index, as an
  app's tables have), watched as `SIDECAR_TABLE=User` by the SELECT-only monitor role: the
  cycle's and each check's ms (median) and statements per cycle (what pg_stat_statements saw
  the role run in that database, and the sidecar's own count), beside what the two catalogue
  reads that grew with the schema cost before (the lookup joined to `pg_stat_user_tables`,
  the listing of the tables beside by name);
- `"User"` alone vs 200 watched tables (a `SIDECAR_CONFIG` TOML): ms and statements per cycle;
- the incident at the largest schema: `sidecar serve` (5 s interval, 2 s timeout) on it, the
  cluster swapped for a new one that the app's migrations seed with `"User"` and one admin,
  and the seconds from then until /health fails on the identity, against interval + timeout.
"""

import argparse
import asyncio
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench import measure, report
from bench.many_tables import (
    INTERVAL,
    TIMEOUT,
    Incident,
    caught_after_swap,
    database_of,
    pg_add_tables,
    pg_add_watched,
    watching,
)
from sidecar.engines.postgres import catalogue
from tests.support.postgres_app import MONITOR, MONITOR_PASSWORD, seed
from tests.support.postgres_server import PostgresTestServer

COMMAND = "bench.pg_schema"
HEADING = "## PostgreSQL: cycle cost by schema size and by watched tables"
SETTINGS = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"}
FILLER_DDL = "CREATE TABLE IF NOT EXISTS %I (id int PRIMARY KEY, note text)"
CHECKS = ("database:connection", "User:rowCount", "User:latestRecord", "volume:identity")
# The two catalogue reads as they were before (engines/postgres/catalogue.py says why they
# changed), timed beside the cycle at each schema size.
LOOKUP_BEFORE = (
    "SELECT c.relname, c.relkind::text, c.reltuples::float8, s.n_live_tup, c.oid::int8"
    " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_catalog.pg_stat_user_tables s ON s.relid = c.oid"
    " WHERE n.nspname = current_schema() AND c.relname = ANY($1::text[])"
    " AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
)
LIST_BEFORE = (
    "SELECT c.relname FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
    " ORDER BY c.relname LIMIT $1"
)


@dataclass
class CycleCost:
    """Median cost of a cycle on one configuration."""

    tables: int
    watched: int
    cycles: int
    cycle_ms: float
    statements: float  # per cycle: what pg_stat_statements saw the monitor role run
    client_statements: float  # per cycle, as the sidecar counted them (Database.queries)
    check_ms: dict[str, float] = field(default_factory=dict)
    reads_ms: dict[str, float] = field(default_factory=dict)  # the catalogue reads, now/before
    status: str = ""
    reasons: str = ""


def url(server: PostgresTestServer, database: str) -> str:
    return server.url(MONITOR, MONITOR_PASSWORD, database)


def ensure_schema(server: PostgresTestServer, tables: int) -> str:
    """The database of `tables` tables ("User" and small ones beside it), made when missing."""
    database = database_of(tables)
    if not server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'"):
        seed(server, database=database)
    have = int(
        server.psql(
            "SELECT COUNT(*) FROM pg_class WHERE relkind = 'r'"
            " AND relnamespace = 'public'::regnamespace",
            database=database,
        )
    )
    if have < tables:
        began = time.monotonic()
        measure.log(f"creating {tables - have:,} tables in {database} (cached for later runs)")
        pg_add_tables(server, database, tables - 1, FILLER_DDL)
        server.psql("ANALYZE", database=database, timeout=1800)
        measure.log(f"  created in {time.monotonic() - began:.0f}s")
    return database


def _sent(server: PostgresTestServer, database: str) -> int:
    """Statements the monitor role has run in `database`, by pg_stat_statements."""
    return int(
        server.psql(
            "SELECT COALESCE(SUM(calls), 0) FROM pg_stat_statements s"
            " JOIN pg_database d ON d.oid = s.dbid"
            f" WHERE d.datname = '{database}' AND s.userid = '{MONITOR}'::regrole"
        )
    )


async def _timed(dsn: str, sql: str, args: list[Any], runs: int = 5) -> float:
    """Median ms of `sql` as the monitor role, after one warm-up."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.fetch(sql, *args)
        took = []
        for _ in range(runs):
            began = time.perf_counter()
            await conn.fetch(sql, *args)
            took.append((time.perf_counter() - began) * 1000)
        return statistics.median(took)
    finally:
        await conn.close()


def catalogue_reads(server: PostgresTestServer, database: str) -> dict[str, float]:
    """The lookup and the listing, as they are and as they were, median ms."""
    dsn = url(server, database)
    names = ["User", *[f"t{i:05d}" for i in range(16)]]
    return {
        "lookup": asyncio.run(_timed(dsn, catalogue.LOOKUP, [names, None])),
        "lookup before": asyncio.run(_timed(dsn, LOOKUP_BEFORE, [names])),
        "listing": asyncio.run(_timed(dsn, catalogue.LIST, [18])),
        "listing before": asyncio.run(_timed(dsn, LIST_BEFORE, [18])),
    }


def cycle_cost(
    server: PostgresTestServer,
    database: str,
    tables: int,
    settings: dict[str, Any],
    runs: int,
    state: Path,
    reads: bool,
) -> CycleCost:
    """Median cost of `runs` cycles watching `database` as configured by `settings`."""
    values = {
        "db_url": url(server, database),
        "state_dir": str(state),
        "interval": f"{INTERVAL:g}s",
        "timeout": f"{TIMEOUT:g}s",
        **settings,
    }

    def sent() -> dict[str, float]:
        return {"statements": _sent(server, database)}

    counted = asyncio.run(measure.counted_cycles(values, runs, lambda: asyncio.to_thread(sent)))
    last = counted.report
    return CycleCost(
        tables,
        sum(1 for c in last.checks if c.key.endswith(":rowCount")),
        runs,
        statistics.median(counted.cycle_ms),
        statistics.median(counted.server["statements"]),
        statistics.median(counted.client),
        counted.check_medians(),
        catalogue_reads(server, database) if reads else {},
        status=str(last.status),
        reasons="; ".join(last.reasons())[:200],
    )


@contextlib.contextmanager
def _swapped(server: PostgresTestServer) -> Iterator[None]:
    """A new cluster for the duration; the cached one (with its tables) back afterwards."""
    aside = server.swap_datadir()
    try:
        yield
    finally:
        server.stop()
        shutil.rmtree(server.datadir)
        aside.rename(server.datadir)
        server.start(timeout=120)


def incident(server: PostgresTestServer, tables: int, work: Path) -> Incident:
    """`sidecar serve` on the largest schema; the cluster swapped; seconds until it fails."""
    database = database_of(tables)

    def migrate() -> None:  # the app's migrations on the new cluster
        seed(server, users=0, database=database)
        server.psql("INSERT INTO \"User\" (email) VALUES ('admin@example.com')", database=database)

    return caught_after_swap(url(server, database), tables, work, lambda: _swapped(server), migrate)


def section(costs: list[CycleCost], watched: list[CycleCost], caught: Incident | None) -> list[str]:
    """The markdown section."""
    small = costs[0]
    lines = [
        HEADING,
        "",
        "One cluster (PostgreSQL, pg_stat_statements loaded), one database per schema size,"
        ' `SIDECAR_TABLE=User` (14 rows, `"createdAt"` indexed) watched by the SELECT-only'
        " monitor role; the other tables have a primary key and a text column (four relations"
        " each in `pg_class`: the table, its index, its toast table and the toast's index)."
        " Median of the cycles after one warm-up cycle. Statements: what pg_stat_statements saw"
        " the monitor role run in that database per cycle, and the sidecar's own count. The last"
        " four columns time the two catalogue reads whose cost grew with the schema, as they are"
        " and as they were before (median of 5, as the monitor role): the lookup of the watched"
        " table and 16 beside it, and the listing of 18 tables to choose those 16 from.",
        "",
        "| tables in the schema | cycle ms | vs smallest | "
        + " | ".join(f"`{k}` ms" for k in CHECKS)
        + " | statements/cycle | sidecar's count | verdict | lookup ms | lookup before ms"
        " | listing ms | listing before ms |",
        "| --- | --- | --- | "
        + " | ".join("---" for _ in CHECKS)
        + " | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in costs:
        reads = " | ".join(
            f"{c.reads_ms.get(k, float('nan')):.2f}"
            for k in ("lookup", "lookup before", "listing", "listing before")
        )
        lines.append(
            f"| {c.tables:,} | {c.cycle_ms:.2f} | {c.cycle_ms / small.cycle_ms:.2f}x | "
            + " | ".join(f"{c.check_ms.get(k, float('nan')):.2f}" for k in CHECKS)
            + f" | {c.statements:.0f} | {c.client_statements:.0f} | {c.status} | {reads} |"
        )
    lines += [
        "",
        f"Watched tables: `User` alone against a `SIDECAR_CONFIG` TOML of {watched[-1].watched}"
        ' tables (each 20 rows, `"createdAt"` indexed), in one database.',
        "",
        "| watched tables | cycle ms | statements/cycle | sidecar's count"
        " | per watched table, ms | verdict |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for w in watched:
        lines.append(
            f"| {w.watched:,} | {w.cycle_ms:.2f} | {w.statements:.0f} | {w.client_statements:.0f}"
            f" | {w.cycle_ms / w.watched:.2f} | {w.status} |"
        )
    if caught is not None:
        when = f"{caught.caught_after:.1f} s" if caught.caught_after is not None else "never"
        met = caught.caught_after is not None and caught.caught_after <= caught.budget
        lines += [
            "",
            f"The incident at {caught.tables:,} tables: `sidecar serve` (interval"
            f" {INTERVAL:g} s, timeout {TIMEOUT:g} s) on that database, the cluster swapped for a"
            ' new one that the app\'s migrations seed with `"User"` and one admin. /health failed'
            f" on the identity {when} after the migrated database was up (budget: interval +"
            f" timeout = {caught.budget:g} s; {'met' if met else '**not met**'}):"
            f" `{caught.reason}`",
        ]
    large = costs[-1]
    lines += [
        "",
        f"Reading: from {small.tables:,} to {large.tables:,} tables the cycle went from"
        f" {small.cycle_ms:.1f} to {large.cycle_ms:.1f} ms and the statements per cycle from"
        f" {small.statements:.0f} to {large.statements:.0f} (a schema smaller than the 16"
        " tables beside is listed every cycle, so that new tables join at once; a larger one"
        " every 10 minutes). Two reads grew with the schema before: the lookup joined"
        " `pg_stat_user_tables`, a view grouped by table that PostgreSQL computes for every"
        " table before the join (now `pg_stat_get_live_tuples(oid)` for the names asked), and"
        " the listing walked `pg_class` by name past every `pg_toast_<oid>` (now the oldest"
        " relations by OID, from the first user OID).",
    ]
    if len(watched) > 1:
        lines[-1] += (
            f" From 1 to {watched[-1].watched} watched tables the statements went from"
            f" {watched[0].statements:.0f} to {watched[-1].statements:.0f}: reads of one kind"
            " are answered together, 100 tables to a statement."
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {COMMAND}", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--tables", default="1,3000,15000", help="schema sizes (tables)")
    parser.add_argument("--watched", type=int, default=200)
    parser.add_argument("--cycles", type=int, default=7)
    parser.add_argument("--no-incident", action="store_true")
    parser.add_argument("--output", type=Path, default=measure.ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/sidecar-bench-pgschema"))
    options = parser.parse_args()
    sizes = sorted(int(s) for s in options.tables.split(","))
    command = f"python -m {COMMAND} " + " ".join(sys.argv[1:])
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-pgschema-"))
    server = PostgresTestServer.kept_at(options.cache_dir / "postgres", SETTINGS)
    server.start(timeout=120)
    try:
        server.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        databases = {n: ensure_schema(server, n) for n in sizes}
        costs = []
        for n in sizes:
            measure.log(f"cycles on {n:,} tables")
            costs.append(
                cycle_cost(
                    server,
                    databases[n],
                    n,
                    {"table": "User", "timestamp_column": "createdAt"},
                    options.cycles,
                    work / f"state-{n}",
                    reads=True,
                )
            )
        watched_db = f"watched_{options.watched}"
        if not server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{watched_db}'"):
            seed(server, database=watched_db)
            pg_add_watched(server, watched_db, options.watched)
        names = [f"w{i:03d}" for i in range(options.watched)]
        config = watching(names, work / "tables.toml")
        watched = []
        for label, settings in (
            ("1", {"table": "User", "timestamp_column": "createdAt"}),
            (str(options.watched), {"config": str(config)}),
        ):
            measure.log(f"cycles watching {label} tables")
            watched.append(
                cycle_cost(
                    server,
                    watched_db,
                    options.watched + 1,
                    settings,
                    options.cycles,
                    work / f"state-watched-{label}",
                    reads=False,
                )
            )
        caught = None
        if not options.no_incident:
            measure.log(f"the incident at {sizes[-1]:,} tables")
            caught = incident(server, sizes[-1], work)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    report.publish(options.output, COMMAND, command, section(costs, watched, caught))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
