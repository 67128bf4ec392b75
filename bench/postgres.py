"""`python -m bench.postgres`: the sidecar on PostgreSQL, measured side by side.

.venv/bin/python -m bench.postgres            # 10k vs 10M rows, 30 s windows, 10 s of wrk
.venv/bin/python -m bench.postgres --quick --output /tmp/b.md   # a smoke: small, a few seconds

In one run, on one cluster (sidecar/demo/postgres.py) whose data directory is cached
under --cache-dir (10M rows take minutes to seed; later runs reuse them), started with
`log_statement=all` and the role in every log line:
- the check cycle at each size of `"User"` (in process, median after a warm-up and after the
  background exact count), beside a plain `SELECT COUNT(*)` (the naive check, the baseline);
- the statements each role sent, read from the server's log, in equal windows: idle, the
  sidecar's /health under wrk, Debian's prometheus-postgres-exporter scraped every 5 s as
  Prometheus would, and the exporter's /metrics under wrk;
- /health throughput of a sidecar watching PostgreSQL against one watching MariaDB (the
  cached bench/dataset.py server), same settings, same wrk.
"""

import argparse
import asyncio
import collections
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from bench import dataset, measure, report
from sidecar.demo.throwaway import free_port
from tests.support.postgres_app import MONITOR, MONITOR_PASSWORD, seed
from tests.support.postgres_server import PostgresTestServer

COMMAND = "bench.postgres"
HEADING = "## PostgreSQL: the check cycle, statements caused by probes, /health throughput"
EXPORTER = "/usr/bin/prometheus-postgres-exporter"
EXPORTER_ROLE = ("exporter", "Pg-Exporter-Secret-7c3")
INTERVAL, TIMEOUT = "5s", "2s"
SCRAPE_EVERY = 5.0  # Prometheus's scrape interval in the window of scheduled scrapes
# Statement logging with the role (%u) so each line can be attributed.
LOGGING = {"log_statement": "all", "log_line_prefix": "%m [%p] %u@%d "}
# "... [pid] role@db LOG:  statement: ..." (simple protocol) or "execute <name>: ..." (extended).
_STATEMENT = re.compile(r"\[\d+\] ([^@\s]*)@\S* LOG:  (?:statement|execute [^:]*):")


@dataclass
class Cycle:
    rows: int
    cycle_ms: float
    row_count_ms: float
    count_kind: str
    status: str
    background_exact_ms: float | None
    naive_count_ms: float
    cycles: int


@dataclass
class Window:
    label: str
    seconds: float
    requests: int  # probes or scrapes served in the window
    cycles: int  # the sidecar's check cycles in the window
    by_role: dict[str, int]


@dataclass
class Throughput:
    engine: str
    runs: list[measure.WrkResult]

    @property
    def rps(self) -> float:
        return statistics.median(r.requests_per_second for r in self.runs)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.runs)


# -- the cluster --------------------------------------------------------------------------
@contextlib.contextmanager
def cached_cluster(cache_dir: Path) -> Iterator[PostgresTestServer]:
    """A cluster on `cache_dir/postgres` (kept between runs), logging every statement."""
    server = PostgresTestServer.kept_at(cache_dir / "postgres", LOGGING)
    (server.base / "server.log").unlink(missing_ok=True)  # this run's statements only
    server.start(timeout=120)
    try:
        yield server
    finally:
        server.stop()


def database_of(rows: int) -> str:
    return f"rows_{rows}"


def ensure_rows(server: PostgresTestServer, rows: int) -> str:
    """A database whose `"User"` holds exactly `rows` rows, seeded only when it does not."""
    database = database_of(rows)
    if server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'"):
        have = int(server.psql('SELECT COUNT(*) FROM "User"', database=database, timeout=600))
        if have == rows:
            return database
        server.psql(f"DROP DATABASE {database}")
    measure.log(f"seeding {rows:,} rows in {database} (cached under {server.base})")
    began = time.monotonic()
    seed(server, users=0, database=database)
    # One statement; the timestamps stay recent so latestRecord judges the data, not the seed.
    server.psql(
        "INSERT INTO \"User\" (email, \"createdAt\") SELECT 'user' || g || '@example.com',"
        " (now() AT TIME ZONE 'UTC') - g * interval '1 second'"
        f" FROM generate_series(1, {rows}) g",
        'VACUUM (ANALYZE) "User"',  # the planner's estimate and the visibility map, as in use
        database=database,
        timeout=3600,
    )
    measure.log(f"  seeded in {time.monotonic() - began:.0f}s")
    return database


def monitor_url(server: PostgresTestServer, database: str) -> str:
    return server.url(MONITOR, MONITOR_PASSWORD, database)


def add_exporter_role(server: PostgresTestServer) -> str:
    """The exporter's own role (pg_monitor, as its README grants); its DATA_SOURCE_NAME."""
    user, password = EXPORTER_ROLE
    if not server.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'"):
        server.psql(
            f"CREATE ROLE {user} LOGIN PASSWORD '{password}'", f"GRANT pg_monitor TO {user}"
        )
    return f"postgresql://{user}:{password}@127.0.0.1:{server.port}/postgres?sslmode=disable"


# -- 1. the check cycle -------------------------------------------------------------------
async def _naive_count(url: str, runs: int = 3) -> float:
    """A plain `SELECT COUNT(*)` as the monitor role: median ms of `runs` after one warm-up."""
    conn = await asyncpg.connect(url)
    try:
        await conn.fetchval('SELECT COUNT(*) FROM "User"')
        took = []
        for _ in range(runs):
            began = time.perf_counter()
            await conn.fetchval('SELECT COUNT(*) FROM "User"')
            took.append((time.perf_counter() - began) * 1000)
        return statistics.median(took)
    finally:
        await conn.close()


def cycle(server: PostgresTestServer, rows: int, runs: int, state: Path) -> Cycle:
    """The cycle's median cost on `rows` rows, and the naive count beside it."""
    url = monitor_url(server, database_of(rows))
    settings = {
        "db_url": url,
        "table": "User",
        "timestamp_column": "createdAt",
        "state_dir": str(state),
        "interval": INTERVAL,
        "timeout": TIMEOUT,
    }
    state.mkdir(parents=True, exist_ok=True)
    # The cycle loop bench/measure.py times MariaDB's with (warm-up, background count awaited).
    measured = asyncio.run(measure.cycles_in_process(settings, runs))
    cycle_ms, row_ms, details, status, exact_ms = measured
    return Cycle(
        rows,
        statistics.median(cycle_ms),
        statistics.median(row_ms),
        str(details.get("countKind", "none (failed)")),
        status,
        exact_ms,
        asyncio.run(_naive_count(url)),
        runs,
    )


# -- 2. statements per role ---------------------------------------------------------------
class StatementLog:
    """The statements each role sent, read from the server's log since the last mark."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size

    def mark(self) -> None:
        self.offset = self.path.stat().st_size

    def since_mark(self) -> dict[str, int]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            text = log.read().decode(errors="replace")
        return dict(collections.Counter(m.group(1) for m in _STATEMENT.finditer(text)))


def window(
    log: StatementLog, sidecar: str, label: str, seconds: float, load: str | None, scrape: str
) -> Window:
    """Statements per role over `seconds`: idle, wrk on `load`, or `scrape` every 5 s."""
    cycles0 = measure.sidecar_cycles(sidecar)
    log.mark()
    requests = 0
    if load is not None:
        requests = measure.wrk(load, seconds, connections=10).requests
    elif label.startswith("exporter scraped"):
        began = time.monotonic()
        with httpx.Client(timeout=SCRAPE_EVERY) as client:
            while time.monotonic() - began < seconds:
                client.get(scrape).raise_for_status()
                requests += 1
                # on the schedule, not 5 s after each answer
                time.sleep(max(0.0, SCRAPE_EVERY * requests - (time.monotonic() - began)))
    else:
        time.sleep(seconds)
    time.sleep(0.2)  # the server's last lines of the window reach its log
    by_role = log.since_mark()
    return Window(label, seconds, requests, measure.sidecar_cycles(sidecar) - cycles0, by_role)


def sidecar_env(url: str, table: str, state: Path, port: int) -> dict[str, str]:
    """One sidecar's settings; the PostgreSQL and the MariaDB one differ only in the URL."""
    return {
        "SIDECAR_DB_URL": url,
        "SIDECAR_TABLE": table,
        "SIDECAR_TIMESTAMP_COLUMN": "createdAt",
        "SIDECAR_STATE_DIR": str(state),
        "SIDECAR_INTERVAL": INTERVAL,
        "SIDECAR_TIMEOUT": TIMEOUT,
        "SIDECAR_LOG_LEVEL": "warning",
        "SIDECAR_PORT": str(port),
        "SIDECAR_HOST": "127.0.0.1",
    }


@contextlib.contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[str]:
    """`sidecar serve` with `env` until the way out; its base URL."""
    base = f"http://127.0.0.1:{env['SIDECAR_PORT']}"
    with measure.process([sys.executable, "-m", "sidecar", "serve"], env, log, f"{base}/readyz"):
        yield base


@contextlib.contextmanager
def exporter(dsn: str, log: Path) -> Iterator[str]:
    """Debian's prometheus-postgres-exporter on a free port; its /metrics URL."""
    if not Path(EXPORTER).exists():
        raise SystemExit(
            f"error: {EXPORTER} is absent: apt-get install -y prometheus-postgres-exporter"
        )
    url = f"http://127.0.0.1:{free_port()}/metrics"
    address = url.removeprefix("http://").removesuffix("/metrics")
    command = [EXPORTER, f"--web.listen-address={address}"]
    with measure.process(command, {"DATA_SOURCE_NAME": dsn}, log, url):
        yield url


def exporter_version() -> str:
    done = subprocess.run([EXPORTER, "--version"], capture_output=True, text=True, check=False)
    return ((done.stdout or done.stderr).splitlines() or ["unknown"])[0].strip()


# -- the section --------------------------------------------------------------------------
def _statements(w: Window, role: str) -> int:
    return w.by_role.get(role, 0)


def section(cycles: list[Cycle], windows: list[Window], throughput: list[Throughput]) -> list[str]:
    """The markdown section."""
    small, large = cycles[0], cycles[-1]
    exporter_user = EXPORTER_ROLE[0]
    lines = [
        HEADING,
        "",
        "### The check cycle by table size",
        "",
        f'`build_evaluator(config).run_cycle()` in process, watching `"User"` as the SELECT-only'
        f" `{MONITOR}` role, all checks, median of {small.cycles} cycles after one warm-up and"
        " after the background exact count it schedules has finished. Baseline: the naive"
        " check, a plain `SELECT COUNT(*)` as the same role (median of 3 after one warm-up).",
        "",
        "| rows | cycle ms | rowCount check ms | vs smallest | count reported as | verdict"
        " | plain `COUNT(*)` ms (naive) | background exact count ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in cycles:
        exact = f"{c.background_exact_ms:.1f}" if c.background_exact_ms else "none (exact in cycle)"
        lines.append(
            f"| {c.rows:,} | {c.cycle_ms:.2f} | {c.row_count_ms:.2f}"
            f" | {c.cycle_ms / small.cycle_ms:.2f}x | {c.count_kind} | {c.status}"
            f" | {c.naive_count_ms:.1f} | {exact} |"
        )
    met = large.cycle_ms <= 2 * small.cycle_ms
    lines += [
        "",
        f"Target: the cycle at {large.rows:,} rows within 2x of {small.rows:,}:"
        f" {large.cycle_ms / small.cycle_ms:.2f}x, {'met' if met else '**not met**'}.",
        "",
        "### Statements caused by probes: the sidecar and prometheus-postgres-exporter",
        "",
        f"The server's own log (`log_statement=all`, `%u` in `log_line_prefix`), statements per"
        f" role in equal windows. The sidecar (`sidecar serve`, interval {INTERVAL}) watches the"
        f' {small.rows:,}-row `"User"` as `{MONITOR}`; the exporter ({exporter_version()},'
        f" defaults) runs as `{exporter_user}` (`pg_monitor`). wrk: `-t2 -c10`. Scheduled"
        f" scrapes: one every {SCRAPE_EVERY:g} s, as Prometheus would.",
        "",
        f"| window | seconds | probes or scrapes | sidecar cycles | `{MONITOR}` statements"
        f" | per cycle | `{exporter_user}` statements | per scrape |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for w in windows:
        mine, theirs = _statements(w, MONITOR), _statements(w, exporter_user)
        per_cycle = f"{mine / w.cycles:.1f}" if w.cycles else "-"
        scraped = w.label.startswith("exporter")
        per_scrape = f"{theirs / w.requests:.1f}" if scraped and w.requests else "-"
        lines.append(
            f"| {w.label} | {w.seconds:g} | {w.requests:,} | {w.cycles} | {mine:,} | {per_cycle}"
            f" | {theirs:,} | {per_scrape} |"
        )
    idle = windows[0]
    hammered = next(w for w in windows if w.label.startswith("sidecar /health"))
    idle_rate = _statements(idle, MONITOR) / idle.cycles if idle.cycles else 0.0
    expected = idle_rate * hammered.cycles
    caused = _statements(hammered, MONITOR) - expected
    lines += [
        "",
        f"The sidecar under wrk: {_statements(hammered, MONITOR):,} statements for"
        f" {hammered.cycles} cycles, {expected:.0f} expected from the idle window's"
        f" {idle_rate:.1f} a cycle: {caused:+.0f} caused by {hammered.requests:,} probes"
        " (the window edges can catch one cycle more or less). The exporter's grow with every"
        " scrape.",
        "",
        "### `/health` throughput: PostgreSQL against MariaDB behind the sidecar",
        "",
        f"`wrk -t2 -c50` against two `sidecar serve` processes with the same settings (interval"
        f" {INTERVAL}, timeout {TIMEOUT}, a {small.rows:,}-row table each; MariaDB's from"
        " bench/dataset.py), alternated; median of the runs.",
        "",
        "| engine behind the sidecar | runs | req/s | vs MariaDB | p99 ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    mariadb = next(t for t in throughput if t.engine == "MariaDB")
    for t in throughput:
        lines.append(
            f"| {t.engine} | {len(t.runs)} | {t.rps:,.0f} | {t.rps / mariadb.rps:.2f}x"
            f" | {t.p99_ms:.2f} |"
        )
    pg = next(t for t in throughput if t.engine == "PostgreSQL")
    unchanged = abs(pg.rps / mariadb.rps - 1) <= 0.10
    lines += [
        "",
        f"Within 10% of MariaDB: {'yes, unchanged' if unchanged else '**no**'} (the sidecar"
        " serves the latest cycle's report; the engine is only behind the cycle).",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.postgres", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rows", default="10000,10000000", help='sizes of "User" (rows)')
    parser.add_argument("--cycles", type=int, default=21)
    parser.add_argument("--window", type=float, default=30.0, help="seconds per statement window")
    parser.add_argument("--wrk-seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per engine, alternated")
    parser.add_argument("--quick", action="store_true", help="small sizes, short windows")
    parser.add_argument("--output", type=Path, default=measure.ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/sidecar-bench-postgres"))
    options = parser.parse_args()
    if options.quick:
        options.rows, options.cycles, options.window = "1000,20000", 3, 6.0
        options.wrk_seconds, options.rounds = 2.0, 1
    sizes = sorted(int(s) for s in options.rows.split(","))
    if len(sizes) < 2 or sizes[0] < 1:
        parser.error("--rows: two or more positive sizes, comma-separated")
    command = "python -m bench.postgres " + " ".join(sys.argv[1:])
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-postgres-"))
    try:
        with cached_cluster(options.cache_dir) as server:
            version = server.psql("SHOW server_version")
            for rows in sizes:
                ensure_rows(server, rows)
            cycles = []
            for rows in sizes:
                measure.log(f"cycles on {rows:,} rows")
                cycles.append(cycle(server, rows, options.cycles, work / f"state-{rows}"))
            dsn = add_exporter_role(server)
            env = sidecar_env(
                monitor_url(server, database_of(sizes[0])), "User", work / "state-pg", free_port()
            )
            log = StatementLog(server.base / "server.log")
            with (
                serving(env, work / "sidecar-pg.log") as pg,
                exporter(dsn, work / "exporter.log") as metrics,
            ):
                windows = []
                for label, load in (
                    ("idle", None),
                    ("sidecar /health under wrk", f"{pg}/health"),
                    ("exporter scraped every 5 s", None),
                    ("exporter /metrics under wrk", metrics),
                ):
                    measure.log(f"window: {label}")
                    windows.append(window(log, pg, label, options.window, load, metrics))
                throughput = side_by_side(pg, sizes[0], options, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = section(cycles, windows, throughput)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines[2:2] = [
        f"Written by `{command.strip()}` on {stamp}. Machine: {os.cpu_count()} CPUs, load"
        f" average {load} at the end of the run (shared with other work); PostgreSQL {version}"
        " (sidecar/demo/postgres.py: fsync off, 16 MB shared_buffers).",
        "",
    ]
    report.write_section(options.output, COMMAND, "\n".join(lines))
    print("\n".join(lines))
    return 0


def side_by_side(pg: str, rows: int, options: argparse.Namespace, work: Path) -> list[Throughput]:
    """wrk on /health of the PostgreSQL sidecar `pg` and of a MariaDB one, alternated."""
    with dataset.bench_server(options.cache_dir / "mariadb") as mariadb:
        table = dataset.ensure_table(mariadb, rows, measure.log)
        url = dataset.add_monitor(mariadb)
        env = sidecar_env(url, table, work / "state-mariadb", free_port())
        with serving(env, work / "sidecar-mariadb.log") as maria:
            runs: dict[str, list[measure.WrkResult]] = {"PostgreSQL": [], "MariaDB": []}
            for round_ in range(options.rounds):
                measure.log(f"/health throughput, round {round_ + 1} of {options.rounds}")
                for engine, base in (("PostgreSQL", pg), ("MariaDB", maria)):
                    runs[engine].append(measure.wrk(f"{base}/health", options.wrk_seconds))
    return [Throughput(engine, results) for engine, results in runs.items()]


if __name__ == "__main__":
    raise SystemExit(main())
