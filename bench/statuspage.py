"""`python -m bench.statuspage`: what the status page and the history cost, by measurement.

    .venv/bin/python -m bench.statuspage            # full: a simulated year of 5 s cycles
    .venv/bin/python -m bench.statuspage --quick --output /tmp/b.md   # CI smoke: 3 days

Side by side in one run, against the named baseline (the `/health` body rendered from the same
report, which is what every probe costs on a cache miss):

1. render time of the status page from a real cycle's report (a passing one, and a failing one
   with the runbook), with the history of a simulated year (24 h and 7 days charts), and with
   an empty history; and a cached page;
2. the history after a simulated year of 5 s cycles, fed through `History.record` as the
   scheduler's listener feeds it: bytes in its arrays, resident memory grown, the snapshot on
   disk, the journal's bound, how long compacting and loading take;
3. what recording one cycle costs with the journal on disk.
"""

import argparse
import asyncio
import datetime
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import dataset, measure, report
from bench.dataset import add_monitor
from bench.measure import log, machine, rss_mib
from sidecar import health
from sidecar.access import DetailsGate
from sidecar.config import load_settings
from sidecar.engines import dialect_of
from sidecar.history import History, Recorder
from sidecar.history.files import HistoryFiles, encode
from sidecar.history.history import COMPACT_LINES, MAX_EVENTS, CycleSample, TableSample
from sidecar.history.series import DAY, bound
from sidecar.identity.registry import build_sources
from sidecar.results import Report, Status
from sidecar.scheduler import Scheduler
from sidecar.service import build_evaluator
from sidecar.state import Memory, TableMemory
from sidecar.statuspage.page import StatusPage

COMMAND = "bench.statuspage"
ROWS = 10_000
INTERVAL = 5.0


@dataclass(frozen=True)
class Timing:
    label: str
    median_ms: float
    p95_ms: float
    size: int


def timed(label: str, work: Callable[[], bytes], runs: int) -> Timing:
    """Median and 95th percentile of `runs` calls, after two warm-ups."""
    work(), work()
    took, size = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        size = len(work())
        took.append((time.perf_counter() - began) * 1000)
    took.sort()
    return Timing(label, statistics.median(took), took[int(0.95 * (len(took) - 1))], size)


def reports(url: str, table: str) -> tuple[Report, Report]:
    """A passing report from a real cycle, and a failing one: the same database held against a
    memory that remembers ten times its rows and another storage (what the incident reads as)."""
    config = load_settings({"db_url": url, "table": table, "timestamp_column": "createdAt"})

    async def cycle(memory: Memory) -> Report:
        evaluator = build_evaluator(config, memory)
        try:
            await evaluator.run_cycle()  # the first cycle records the baseline
            return await evaluator.run_cycle()
        finally:
            await evaluator.aclose()

    passing = asyncio.run(cycle(Memory()))
    foreign = Memory(
        identity={"datadir": "20240101T000000Z", "inode": "1"},
        identity_recorded_at=time.time() - 30 * DAY,
        tables={table: TableMemory(high_water=ROWS * 10, count=ROWS * 10)},
    )
    failing = asyncio.run(cycle(foreign))
    assert passing.status is Status.PASS, passing.reasons()
    assert failing.status is Status.FAIL
    return passing, failing


def simulate(history: History, table: str, days: float, end: float) -> int:
    """`days` of 5 s cycles ending at `end`, through the listener's path; the cycle count.

    The table grows by a row a minute; its newest record ages and is renewed; the last day
    holds the incident (14 rows' worth of data gone: the count falls to 1 and stays there)."""
    cycles = int(days * DAY / INTERVAL)
    start = end - cycles * INTERVAL

    async def feed() -> None:
        for n in range(cycles):
            t = start + n * INTERVAL
            incident = t > end - 6 * 3600
            rows = 1 if incident else 10_000 + n // 12
            age = (n * INTERVAL) % 3600
            table_sample = TableSample(rows, 10_000 + min(n, cycles - 4320) // 12, 0, 5_000, age)
            verdict = Status.FAIL if incident else Status.PASS
            duration = 0.002 + (n % 13) / 10_000
            await history.record(
                CycleSample(t, duration, verdict, {table: table_sample}), [], False
            )

    asyncio.run(feed())
    return cycles


def render(results: dict[str, object], command: str, started: datetime.datetime) -> str:
    """The section for docs/benchmarks.md."""
    timings: list[Timing] = results["timings"]  # type: ignore[assignment]
    baseline = timings[0]
    lines = [
        "## Status page and history: render time, memory and disk after a simulated year",
        "",
        f"Written by `python -m {COMMAND}` (bench/statuspage.py), every figure from one run;"
        " the baseline is the `/health` body rendered from the same report (what a probe costs"
        " on a cache miss).",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- command: `{command}`",
    ]
    lines += [f"- {key}: {value}" for key, value in machine().items()]
    lines += [
        f"- report: a real cycle against a {ROWS:,}-row table (connection, privileges, rowCount,"
        " latestRecord, identity); the failing one holds it against a memory of ten times the"
        " rows and another storage",
        f"- history: {results['cycles']:,} cycles of {INTERVAL:g} s ({results['days']:g} days)"
        " fed through `History.record`, the scheduler listener's path",
        "",
        "| rendering | median ms | p95 ms | vs `/health` body | bytes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for timing in timings:
        ratio = timing.median_ms / baseline.median_ms
        name = f"{timing.label} (baseline)" if timing is baseline else timing.label
        shown = f"{ratio:,.1f}x" if ratio >= 1 else f"{ratio:.3f}x"
        lines.append(
            f"| {name} | {timing.median_ms:.3g} | {timing.p95_ms:.3g} | {shown} | {timing.size:,} |"
        )
    lines += [
        "",
        "| history after the simulated year | measured | bound |",
        "| --- | --- | --- |",
        f"| samples in memory (arrays: 1 table and the cycles) | {results['nbytes']:,} bytes |"
        f" {results['bound']:,} bytes (3 tiers x (capacity + slack) x columns x 8) |",
        f"| resident memory grown while feeding it | {results['rss']:.1f} MiB | |",
        f"| buckets per tier (5 s / 1 min / 1 h) | {results['buckets']} | 17,281 / 10,081 / 8,761"
        " (+1/16 slack) |",
        f"| events kept | {results['events']:,} | {MAX_EVENTS:,} |",
        f"| snapshot on disk (`history.json.gz`) | {results['snapshot']:,} bytes | |",
        f"| journal on disk (`history.log`) | at most {results['journal']:,} bytes |"
        f" {COMPACT_LINES:,} lines of {results['line']:,} bytes |",
        f"| compacting (snapshot written, journal emptied) | {results['compact_ms']:.0f} ms | once"
        f" every {COMPACT_LINES:,} lines (~{COMPACT_LINES * INTERVAL / 3600:.1f} h), in a thread |",
        f"| loading at start | {results['load_ms']:.0f} ms | once |",
        f"| feeding the year, per cycle (in memory) | {results['feed_us']:.1f} us | |",
        f"| recording one cycle with the journal on disk | {results['record_us']:.0f} us"
        " (median) | |",
        "",
        "Reading these numbers: the page is rendered once per cycle at most (it is cached per"
        " report and history revision, like the `/health` body), so a browser refreshing every"
        " few seconds costs the render above once per cycle, never the database anything; the"
        " charts read at most 240 points per window whatever the history holds. The history's"
        " memory is fixed by its tiers, not by how long the sidecar runs.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {COMMAND}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="CI smoke: 3 days, few renders")
    parser.add_argument("--output", type=Path, default=measure.ROOT / "docs" / "benchmarks.md")
    # Its own server directory: another benchmark may be running on the shared one.
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/sidecar-bench-statuspage"))
    options = parser.parse_args()
    days = 3.0 if options.quick else 365.0
    runs = 20 if options.quick else 200
    command = f"python -m {COMMAND} " + shlex.join(sys.argv[1:])
    started = datetime.datetime.now(datetime.UTC)
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-page-"))

    with dataset.bench_server(options.cache_dir / "mariadb") as server:
        table = dataset.ensure_table(server, ROWS, log)
        url = add_monitor(server)
        log("two real cycles: a passing report and a failing one")
        passing, failing = reports(url, table)

    config = load_settings({"db_url": url, "table": table})
    end = failing.finished
    empty = History(None, [table])
    rss_before = rss_mib_self()
    history = History(None, [table])
    log(f"feeding {days:g} days of {INTERVAL:g} s cycles through History.record")
    began = time.perf_counter()
    cycles = simulate(history, table, days, end)
    feed_us = (time.perf_counter() - began) / cycles * 1e6
    rss = rss_mib_self() - rss_before
    recorder = Recorder(
        history, build_sources(config.identity, dialect_of(config.db)), lambda: Memory()
    )
    asyncio.run(recorder.on_report(passing))
    asyncio.run(recorder.on_report(failing))  # the events of the transition

    def page_for(h: History) -> StatusPage:
        return StatusPage(Scheduler(_Idle(), INTERVAL, 2.0), h, DetailsGate(None), INTERVAL)

    full, bare = page_for(history), page_for(empty)
    log(f"rendering, {runs} runs each")
    timings = [
        timed("`/health` body, failing report", lambda: health.render(failing), runs),
        timed(
            "status page, failing report, a year of history",
            lambda: full.build(failing, True),
            runs,
        ),
        timed(
            "status page, passing report, a year of history",
            lambda: full.build(passing, True),
            runs,
        ),
        timed(
            "status page, failing report, empty history", lambda: bare.build(failing, True), runs
        ),
        timed("status page, anonymous (verdict only)", lambda: full.build(failing, False), runs),
        timed("status page from its cache", lambda: full.render(failing, True), runs),
    ]
    log("compacting and loading the year")
    files = HistoryFiles(work / "state")
    began = time.perf_counter()
    snapshot = files.compact(history.snapshot())
    compact_ms = (time.perf_counter() - began) * 1000
    began = time.perf_counter()
    History(work / "state", [table]).load()
    load_ms = (time.perf_counter() - began) * 1000
    line = len(encode({"seq": 10**7, "cycle": _cycle(end, table).to_json()}))
    on_disk = History(work / "disk", [table])
    record_us = _record_cost(on_disk, table, end, 300 if options.quick else 2000)
    results: dict[str, object] = {
        "timings": timings,
        "cycles": cycles,
        "days": days,
        "nbytes": history.nbytes,
        "bound": bound(6) + bound(2),
        "rss": rss,
        "buckets": " / ".join(f"{len(t):,}" for t in history.tables[table].tiers),
        "events": len(history.events),
        "snapshot": snapshot,
        "journal": COMPACT_LINES * line,
        "line": line,
        "compact_ms": compact_ms,
        "load_ms": load_ms,
        "feed_us": feed_us,
        "record_us": record_us,
    }
    section = render(results, command.strip(), started)
    report.write_section(options.output, COMMAND, section)
    log(f"wrote its section of {options.output}")
    print(section)
    return 0


class _Idle:
    """The page reads only `current()`; no cycle ever runs here."""

    async def run_cycle(self) -> Report:
        raise AssertionError("the bench never runs the loop")


def _cycle(t: float, table: str) -> CycleSample:
    return CycleSample(
        t, 0.0023, Status.PASS, {table: TableSample(10_123, 10_123, 0, 5_062, 1234.5)}
    )


def _record_cost(history: History, table: str, end: float, cycles: int) -> float:
    """Median microseconds of `History.record` with the journal on disk (a thread hop, one
    append, an fsync at most once a minute)."""
    took: list[float] = []

    async def run() -> None:
        for n in range(cycles):
            began = time.perf_counter()
            await history.record(_cycle(end + n * INTERVAL, table), [], False)
            took.append((time.perf_counter() - began) * 1e6)

    asyncio.run(run())
    return statistics.median(took)


def rss_mib_self() -> float:
    """This process's resident memory, MiB."""
    import os

    return rss_mib(os.getpid())


if __name__ == "__main__":
    raise SystemExit(main())
