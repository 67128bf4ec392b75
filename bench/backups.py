"""`python -m bench.backups`: how fast a dump of 1M rows is read, and what it costs the loop.

.venv/bin/python -m bench.backups         # 1M rows; (re)writes its section of docs/benchmarks.md
.venv/bin/python -m bench.backups --rows 10000 --output /tmp/b.md

Side by side in one run, on real `mariadb-dump` output of the bench table:
- the row count of `sidecar.backups.dump.count_rows` (plain extended, plain single-row, gzip,
  zstd), against the cheapest possible reading of the same bytes (`wc -l`, `zcat | wc -l`,
  `zstdcat | wc -l`) and against what an operator would otherwise do to know the rows:
  restore the dump with `mariadb` and `SELECT COUNT(*)`;
- the event loop's lateness (a 5 ms ticker) while the gzip dump is counted: idle, in a child
  process (`count_in_child`, what the sidecar does), and in a thread (what it must not do).
`python -m bench` runs the same measurements and includes the section in its report.
"""

import argparse
import asyncio
import gzip
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import zstandard

from bench import dataset, measure, report
from sidecar.backups.catalog import list_backups
from sidecar.backups.dump import count_rows
from sidecar.backups.ledger import LEDGER_FILE, Ledger
from sidecar.backups.lister import HOT, SWEEP
from sidecar.backups.runner import count_in_child
from sidecar.demo.mariadb import MariaDBServer
from sidecar.demo.throwaway import free_port

HEADING = "## Reading backups: counting the rows of a dump"
TICK = 0.005
# Rows whose strings hold quotes, escapes, parentheses and `;`, as JSON columns do: the fast
# path cannot prove their extent, so these take the regular-expression path. The worst case.
NOTE_DDL = "CREATE TABLE IF NOT EXISTS {name} (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB"
NOTE_BODY = "CONCAT('{{\"id\": ', seq, ', \"text\": \"it''s note (', seq, '); see, also \\\\x\"}}')"


@dataclass
class Rate:
    """One way of reading one dump: median wall and CPU seconds."""

    name: str
    file: str
    file_bytes: int
    sql_bytes: int
    rows: int | None  # what it counted (None: it counts lines, not rows)
    wall: float
    cpu: float


@dataclass
class Lateness:
    """How late a 5 ms ticker woke while something ran."""

    name: str
    seconds: float
    ticks: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class BackupBench:
    rows: int
    table: str
    dump_seconds: float
    rates: list[Rate]
    baselines: list[Rate]
    restore: Rate | None
    lateness: list[Lateness]
    runs: int


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _median_of(
    runs: int, once: Callable[[], tuple[float, float, int | None]]
) -> tuple[float, float, int | None]:
    results = [once() for _ in range(runs)]
    return (
        statistics.median(r[0] for r in results),
        statistics.median(r[1] for r in results),
        results[-1][2],
    )


def count_rate(name: str, path: Path, table: str, sql_bytes: int, runs: int) -> Rate:
    """`count_rows` in this process: wall and CPU (process time) per run."""

    def once() -> tuple[float, float, int | None]:
        cpu, wall = time.process_time(), time.perf_counter()
        result = count_rows(path, [table], dataset.DATABASE)
        if result.problem is not None:
            raise RuntimeError(f"{path.name}: {result.problem.message}")
        return time.perf_counter() - wall, time.process_time() - cpu, result.rows(table)

    wall, cpu, rows = _median_of(runs, once)
    return Rate(name, path.name, path.stat().st_size, sql_bytes, rows, wall, cpu)


def command_rate(name: str, shell: str, path: Path, sql_bytes: int, runs: int) -> Rate:
    """A shell pipeline over `path` (given as $1): wall and CPU of all its processes."""

    def once() -> tuple[float, float, int | None]:
        cpu, wall = _cpu_children(), time.perf_counter()
        subprocess.run(["bash", "-c", shell, "bench", str(path)], check=True, capture_output=True)
        return time.perf_counter() - wall, _cpu_children() - cpu, None

    wall, cpu, _ = _median_of(runs, once)
    return Rate(name, path.name, path.stat().st_size, sql_bytes, None, wall, cpu)


def _cpu_of(pid: int) -> float:
    """User+system CPU seconds of a running process (utime and stime in /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def restore_rate(server: MariaDBServer, path: Path, table: str, sql_bytes: int) -> Rate:
    """`mariadb scratch < dump.sql` then `SELECT COUNT(*)`: knowing the rows the slow way."""
    assert server.process is not None
    pid = server.process.pid
    server.execute("DROP DATABASE IF EXISTS bench_restore", "CREATE DATABASE bench_restore")
    try:
        cpu, wall = _cpu_children() + _cpu_of(pid), time.perf_counter()
        with path.open("rb") as dump:
            subprocess.run(
                ["mariadb", "-h127.0.0.1", f"-P{server.port}", "-uroot", "bench_restore"],
                stdin=dump,
                check=True,
                capture_output=True,
            )
        rows = int(
            server.execute(f"SELECT COUNT(*) FROM `{table}`", database="bench_restore")[0][0]
        )
        return Rate(
            "restore with `mariadb`, then `COUNT(*)`",
            path.name,
            path.stat().st_size,
            sql_bytes,
            rows,
            time.perf_counter() - wall,
            _cpu_children() + _cpu_of(pid) - cpu,  # the client and the server
        )
    finally:
        server.execute("DROP DATABASE IF EXISTS bench_restore")


async def _lateness(name: str, work: Callable[[], Awaitable[object]]) -> Lateness:
    loop = asyncio.get_running_loop()
    late: list[float] = []
    running = True

    async def ticker() -> None:
        while running:
            began = loop.time()
            await asyncio.sleep(TICK)
            late.append(loop.time() - began - TICK)

    task = asyncio.create_task(ticker())
    began = loop.time()
    try:
        await work()
    finally:
        running = False
        await task
    seconds = loop.time() - began
    ordered = sorted(late)
    return Lateness(
        name,
        seconds,
        len(ordered),
        ordered[len(ordered) // 2] * 1000,
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        ordered[-1] * 1000,
    )


async def loop_lateness(path: Path, table: str, repeat: int) -> list[Lateness]:
    """The ticker during `repeat` counts in a child process, idle as long, and in a thread."""

    async def in_child() -> None:
        for _ in range(repeat):
            await count_in_child(path, [table], dataset.DATABASE)

    async def in_thread() -> None:
        for _ in range(repeat):
            await asyncio.to_thread(count_rows, path, [table], dataset.DATABASE)

    child = await _lateness("counting in a child process (`count_in_child`)", in_child)
    idle = await _lateness("idle (baseline)", lambda: asyncio.sleep(child.seconds))
    thread = await _lateness("counting in a thread (`asyncio.to_thread`): not used", in_thread)
    return [idle, child, thread]


def ensure_notes(server: MariaDBServer, rows: int, log: Callable[[str], None]) -> str:
    """`Note_<rows>`: `rows` JSON bodies full of quotes, parentheses and semicolons."""
    name = f"Note_{rows}"
    dataset.run(server, NOTE_DDL.format(name=name))
    if dataset.run(server, f"SELECT COUNT(*) FROM {name}")[0][0] != rows:
        log(f"seeding {name}: {rows} rows")
        dataset.run(server, f"TRUNCATE TABLE {name}")
        dataset.run(
            server,
            f"INSERT INTO {name} SELECT seq, {NOTE_BODY.format()} FROM seq_1_to_{rows}",
        )
    return name


def run(
    server: MariaDBServer, rows: int, work: Path, log: Callable[[str], None], runs: int = 3
) -> BackupBench:
    """Dump `User_<rows>` with mariadb-dump and measure reading it every way."""
    table = dataset.ensure_table(server, rows, log)
    notes_table = ensure_notes(server, rows, log)
    work.mkdir(parents=True, exist_ok=True)
    base = ["mariadb-dump", "-h127.0.0.1", f"-P{server.port}", "-uroot"]
    plain, single = work / "bench.sql", work / "bench-single-row.sql"
    log(f"backups: mariadb-dump of {table} ({rows:,} rows)")
    began = time.perf_counter()
    with plain.open("wb") as out:
        subprocess.run([*base, dataset.DATABASE, table], stdout=out, check=True)
    dump_seconds = time.perf_counter() - began
    with single.open("wb") as out:
        subprocess.run(
            [*base, "--skip-extended-insert", dataset.DATABASE, table], stdout=out, check=True
        )
    notes = work / "bench-json-notes.sql"
    with notes.open("wb") as out:
        subprocess.run([*base, dataset.DATABASE, notes_table], stdout=out, check=True)
    sql = plain.read_bytes()
    gz, zst = work / "bench.sql.gz", work / "bench.sql.zst"
    gz.write_bytes(gzip.compress(sql, 6))
    zst.write_bytes(zstandard.ZstdCompressor(level=3).compress(sql))
    size = len(sql)

    log(f"backups: count_rows, {runs} runs each")
    rates = [
        count_rate("plain, extended inserts", plain, table, size, runs),
        count_rate("plain, single-row inserts", single, table, single.stat().st_size, runs),
        count_rate("gzip (level 6), extended", gz, table, size, runs),
        count_rate("zstd (level 3), extended", zst, table, size, runs),
        count_rate(
            "plain, JSON strings holding quotes, `(`, `;`",
            notes,
            notes_table,
            notes.stat().st_size,
            runs,
        ),
    ]
    log("backups: baselines")
    baselines = [
        command_rate("`wc -l`", 'wc -l < "$1"', plain, size, runs),
        # `\|`: a pipe inside a markdown table cell, code span or not, must be escaped.
        command_rate("`zcat \\| wc -l`", 'zcat -- "$1" | wc -l', gz, size, runs),
    ]
    if shutil.which("zstdcat"):
        baselines.append(
            command_rate("`zstdcat \\| wc -l`", 'zstdcat -q -- "$1" | wc -l', zst, size, runs)
        )
    restore = restore_rate(server, plain, table, size)
    log("backups: event-loop lateness")
    lateness = asyncio.run(loop_lateness(gz, table, repeat=max(1, runs + 2)))
    return BackupBench(rows, table, dump_seconds, rates, baselines, restore, lateness, runs)


def _mb_s(nbytes: int, seconds: float) -> str:
    return measure_fmt(nbytes / seconds / 1e6) if seconds > 0 else "n/a"


def measure_fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def section(result: BackupBench) -> list[str]:
    """The report section (markdown lines)."""
    gzip_rate = next(r for r in result.rates if r.file.endswith(".gz"))
    zcat = next(r for r in result.baselines if r.file.endswith(".gz"))
    lines = [
        HEADING,
        "",
        f"Real `mariadb-dump` output of `{result.table}` ({result.rows:,} rows; the dump took"
        f" {result.dump_seconds:.1f} s), counted by `sidecar.backups.dump.count_rows` in one"
        f" process (median of {result.runs} runs), beside the cheapest reading of the same bytes"
        " and beside restoring the dump to count its rows. MB/s are of uncompressed SQL;"
        " CPU is user+system of the process (of the pipeline's processes; of the client and"
        " the server for the restore).",
        "",
        "| reading | file | file MB | SQL MB | rows counted | wall s | CPU s | MB/s (wall) |"
        " MB/s (CPU) | rows/s (wall) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for rate in [*result.rates, *result.baselines, *([result.restore] if result.restore else [])]:
        counted = f"{rate.rows:,}" if rate.rows is not None else "(lines)"
        per_row = f"{rate.rows / rate.wall:,.0f}" if rate.rows and rate.wall else "-"
        lines.append(
            f"| {rate.name} | `{rate.file}` | {rate.file_bytes / 1e6:,.1f} |"
            f" {rate.sql_bytes / 1e6:,.1f} | {counted} | {rate.wall:.2f} | {rate.cpu:.2f} |"
            f" {_mb_s(rate.sql_bytes, rate.wall)} | {_mb_s(rate.sql_bytes, rate.cpu)} |"
            f" {per_row} |"
        )
    lines += [
        "",
        f"The gzip dump counted in {gzip_rate.wall:.2f} s against {zcat.wall:.2f} s for"
        f" `zcat | wc -l` ({gzip_rate.wall / zcat.wall:.2f}x)"
        + (
            f", and against {result.restore.wall:.1f} s to restore it"
            f" ({result.restore.wall / gzip_rate.wall:.0f}x slower)."
            if result.restore
            else "."
        ),
        "",
        f"Event-loop lateness while the gzip dump is counted {max(1, result.runs + 2)} times"
        f" in a row (a {TICK * 1000:g} ms `asyncio.sleep` ticker in the parent; lateness ="
        " wake-up time minus the tick; 2 CPUs shared with other work):",
        "",
        "| while | seconds | ticks | p50 ms | p99 ms | max ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for late in result.lateness:
        lines.append(
            f"| {late.name} | {late.seconds:.2f} | {late.ticks:,} | {late.p50_ms:.2f} |"
            f" {late.p99_ms:.2f} | {late.max_ms:.2f} |"
        )
    lines += [
        "",
        "- The count never loops over bytes or rows in Python. A VALUES list whose literals"
        " hold no quote, parenthesis or semicolon is proven and counted with `bytes` methods"
        " (translate, count, find) in C; one whose literals do (JSON, prose) has its literals"
        " cut out with one `bytes.split` first (the JSON row); anything else (comments,"
        ' expressions, `"strings"` among the values) goes through compiled regular'
        " expressions with possessive quantifiers, and what none of them can prove is reported"
        " uncountable, never guessed. Runs of single-row INSERTs are taken a buffer at a time.",
        "- The child process runs niced, with RLIMIT_CPU and RLIMIT_AS: the sidecar's loop only"
        " waits on its pipes. In a thread the same parse holds the GIL during each C call"
        " (a megabyte-sized statement at a time) and the loop waits (last row).",
        "",
    ]
    return lines


# -- a year of dumps -------------------------------------------------------------------------
DIRECTORY_HEADING = "## Backups at a year of dumps: the backup check and /livez"
DUMP_COUNTS = (300, 3000, 10_000)
# Main before the backup checks' cost was made flat in the old dumps (sidecar/backups/lister.py).
DIRECTORY_BASELINE = "fcefb04"


@dataclass
class DirectoryCost:
    """`sidecar serve` watching a directory of `dumps` counted dumps."""

    dumps: int
    server: str  # which tree served: the baseline commit or this checkout
    cycles: int
    check_ms: list[float]  # the slowest backup check (all three wait on one look), per cycle
    cycle_ms: list[float]
    livez_ms: list[float]  # sequential /livez round trips during those cycles

    @staticmethod
    def p(values: list[float], q: float) -> float:
        """The q-quantile of `values` (nearest rank)."""
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def fill_directory(directory: Path, state: Path, sql: bytes, dumps: int) -> None:
    """`dumps` real dumps, one an hour back from now, and the ledger that has counted them all
    (the same bytes each: counted once here, recorded for every file, as the sidecar would)."""
    directory.mkdir(parents=True)
    state.mkdir(parents=True)
    now = time.time() - 3600
    first = directory / "app-00000.sql.gz"
    first.write_bytes(gzip.compress(sql))
    count = count_rows(first, [dataset.table_name(1000)], dataset.DATABASE)
    ledger = Ledger()
    for index in range(dumps):
        path = directory / f"app-{index:05d}.sql.gz"
        if index:
            shutil.copyfile(first, path)
        os.utime(path, (now - index * 3600, now - index * 3600))
    for file in list_backups(directory).files:
        ledger = ledger.record(file, count, now)
    ledger.save(state / LEDGER_FILE)


def directory_cost(
    url: str, directory: Path, state: Path, seconds: float, server: str, root: Path
) -> DirectoryCost:
    """Serve (from `root`) watching `directory`; /livez round trips and the backup checks'
    cost per cycle."""
    dumps = len(list_backups(directory).files)
    state = Path(shutil.copytree(state, state.with_name(f"{state.name}-{free_port()}")))
    port = free_port()
    env = {
        **dataset.sidecar_env(url, dataset.table_name(1000), state),
        "SIDECAR_PORT": str(port),
        "SIDECAR_HOST": "127.0.0.1",
        "SIDECAR_BACKUP_DIR": str(directory),
    }
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "sidecar", "serve"]
    checks, cycles, livez = [], [], []
    with (
        measure.process(command, env, state / "serve.log", f"{base}/livez", root=root),
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        seen, began = None, time.monotonic()
        while time.monotonic() - began < seconds:
            start = time.perf_counter()
            client.get("/livez")
            livez.append((time.perf_counter() - start) * 1000)
            if len(livez) % 20 == 0:
                text = client.get("/metrics").text
                done = _metric(text, r"sidecar_cycles_total")
                if done != seen and done:
                    seen = done
                    cycles.append(_metric(text, r"sidecar_cycle_duration_seconds") * 1000)
                    checks.append(
                        max(
                            float(v) * 1000
                            for v in re.findall(
                                r'^sidecar_check_duration_seconds\{check="backup\w*"[^}]*\} (\S+)',
                                text,
                                re.M,
                            )
                        )
                    )
            time.sleep(0.01)
    return DirectoryCost(dumps, server, len(cycles), checks, cycles, livez)


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)", text, re.M)
    return float(found.group(1)) if found else 0.0


def directory_run(
    server: MariaDBServer,
    work: Path,
    log: Callable[[str], None],
    seconds: float,
    baseline: str,
) -> list[DirectoryCost]:
    """300, 3,000 and 10,000 dumps, each served by `baseline` and by this checkout in turn,
    on the same server and the same directory in one run."""
    before = measure.baseline_tree(baseline, work / "baseline")
    table = dataset.ensure_table(server, 1000, log)
    url = dataset.add_monitor(server)
    base = ["mariadb-dump", "-h127.0.0.1", f"-P{server.port}", "-uroot"]
    sql = subprocess.run([*base, dataset.DATABASE, table], capture_output=True, check=True).stdout
    results = []
    for dumps in DUMP_COUNTS:
        directory, state = work / f"dumps-{dumps}", work / f"state-{dumps}"
        fill_directory(directory, state, sql, dumps)
        for label, root in ((f"main ({baseline})", before), ("this checkout", measure.ROOT)):
            log(f"backups: {label} serving {dumps:,} dumps for {seconds:g} s")
            results.append(directory_cost(url, directory, state, seconds, label, root))
        shutil.rmtree(directory)
    return results


def directory_section(results: list[DirectoryCost], seconds: float, baseline: str) -> list[str]:
    """The report section (markdown lines)."""
    lines = [
        DIRECTORY_HEADING,
        "",
        f"`sidecar serve` (1 s cycle) watching a backup directory of N gzip dumps of"
        f" `{dataset.table_name(1000)}`, one an hour (a year is 8,760), all counted already"
        f" (`backups.json` holds them: the steady state), for {seconds:g} s each, served by"
        f" main at {baseline} (the baseline) and by this checkout in turn, on the same"
        " directory and the same MariaDB; `/livez` is asked in a loop (sequential, 10 ms"
        " apart) meanwhile. The backup checks' cost is the slowest of the three"
        " `sidecar_check_duration_seconds` (they wait on one look at the directory, so the"
        " slowest is what the cycle waits for; the sections before this one summed the three),"
        " read from `/metrics` after each cycle.",
        "",
        f"Machine: {os.cpu_count()} CPUs, load average"
        f" {', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end of the run.",
        "",
        "| dumps | server | cycles | backup checks p50 ms | max ms | vs 300 dumps |"
        " cycle p50 ms | /livez p50 ms | /livez p99 ms | /livez max ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    smallest = {r.server: r.p(r.check_ms, 0.5) for r in results if r.dumps == DUMP_COUNTS[0]}
    for r in results:
        check, cycle, livez = r.check_ms, r.cycle_ms, r.livez_ms
        ratio = r.p(check, 0.5) / smallest[r.server] if smallest.get(r.server) else float("nan")
        lines.append(
            f"| {r.dumps:,} | {r.server} | {r.cycles} | {r.p(check, 0.5):.1f} |"
            f" {max(check, default=0):.1f} | {ratio:.1f}x | {r.p(cycle, 0.5):.1f} |"
            f" {r.p(livez, 0.5):.2f} | {r.p(livez, 0.99):.2f} | {max(livez, default=0):.2f} |"
        )
    lines += [
        "",
        "- The baseline lists the whole directory every cycle (scandir, an lstat and a ledger"
        " lookup a dump, a sort, then the judgement builds and sorts every dump again): linear"
        " in the dumps, in a thread but holding the GIL the loop needs. This checkout looks at"
        f" the directory through sidecar/backups/lister.py: the names are read again only when"
        f" the directory's mtime moved (or once a round of the sweep), and a look stats the"
        f" newest {HOT}, the dumps the last verdict stood on, what is new, and {SWEEP} more in"
        " turn (an old dump rewritten in place is seen within a round: 40 looks at 10,000"
        " dumps); the judgement makes a Backup (and a ledger lookup) only of the dumps it reads"
        " (the newest, the size window, the restore candidate): survey.NewestFirst. A"
        f" directory of at most {HOT + SWEEP} dumps is stat'ed whole every cycle, as before."
        " The max column holds the first cycle (every dump stat'ed once, about 0.1 s at 10,000,"
        " in the thread) and those that read the names again (a dump came or went).",
        "",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.backups", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a 20,000-row dump, one run")
    parser.add_argument("--output", type=Path, default=measure.ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/sidecar-bench"))
    parser.add_argument(
        "--directory",
        action="store_true",
        help="instead: a year of dumps (300 vs 3,000 vs 10,000) and /livez meanwhile",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="per directory size")
    parser.add_argument(
        "--baseline", default=DIRECTORY_BASELINE, help="--directory: the commit measured as before"
    )
    options = parser.parse_args()
    if options.directory:
        return main_directory(options)
    if options.quick:
        options.rows, options.runs = 20_000, 1
    command = "python -m bench.backups " + " ".join(sys.argv[1:])
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-backups-"))
    try:
        with dataset.bench_server(options.cache_dir / "mariadb") as server:
            result = run(server, options.rows, work, _log, options.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = section(result)
    lines.insert(
        2,
        f"Written by `{command.strip()}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
    )
    lines.insert(3, "")
    report.write_section(options.output, "bench.backups", "\n".join(lines))
    print("\n".join(lines))
    return 0


def main_directory(options: argparse.Namespace) -> int:
    """`--directory`: the dump-directory benchmark and its own section."""
    command = "python -m bench.backups " + " ".join(sys.argv[1:])
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-dumps-"))
    try:
        with dataset.bench_server(options.cache_dir / "mariadb") as server:
            results = directory_run(server, work, _log, options.seconds, options.baseline)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = directory_section(results, options.seconds, options.baseline)
    lines.insert(
        2,
        f"Written by `{command.strip()}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
    )
    lines.insert(3, "")
    report.write_section(options.output, "bench.backups --directory", "\n".join(lines))
    print("\n".join(lines))
    return 0


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
