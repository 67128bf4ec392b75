"""`python -m bench.pg_backups`: how fast a PostgreSQL dump of 1M rows is counted, at what memory.

.venv/bin/python -m bench.pg_backups    # 1M rows; (re)writes its section of docs/benchmarks.md
.venv/bin/python -m bench.pg_backups --quick --output /tmp/b.md

Side by side in one run, on real `pg_dump` output of one Prisma-style `"User"` table:
- `sidecar.backups.dump.count_rows` in this process (median of 3) for every format pg_dump
  writes: COPY (plain, gzip, zstd), `--inserts`, `--rows-per-insert=100`, `--column-inserts`,
  and the custom format (`-Fc`, `-Fc -Z0`) read through `pg_restore`; each against the named
  baseline, the plain COPY dump, and against the cheapest readings of the same bytes
  (`wc -l`, `pg_restore -f - | wc -l`) and the slow way (restore with psql, `COUNT(*)`);
- the peak memory of the bounded worker (`python -m sidecar.backups.parse_worker`, as the
  sidecar starts it) counting each file: the largest of the worker and its pg_restore.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import dataset, measure, report
from bench.backups import Rate, command_rate, count_rate
from sidecar.backups.pgrestore import find_pg_restore
from sidecar.backups.runner import DEFAULT_BUDGET, worker_request
from sidecar.demo.postgres import SUPERUSER, SUPERUSER_PASSWORD, PostgresServer, bin_dir
from tests.backups.pgdumps import write
from tests.support.peak import launched, peak

HEADING = "## Reading PostgreSQL backups: pg_dump plain and custom format"
DATABASE = dataset.DATABASE  # what bench.backups.count_rate asks for
TABLE = "User"
BASELINE = "plain, COPY (pg_dump's default)"
SEED = (
    'CREATE TABLE "User" (id int PRIMARY KEY, email text NOT NULL, name text,'
    ' "createdAt" timestamptz NOT NULL DEFAULT now(), note text)',
    # Escapes in about one row in ten: a tab, a newline and a backslash COPY writes escaped.
    "INSERT INTO \"User\" SELECT g, 'user' || g || '@example.com', 'Name ' || g, now(),"
    " CASE WHEN g % 10 = 0 THEN E'it''s a\\tnote\\nwith \\\\ (x); ' || g END"
    " FROM generate_series(1, {rows}) g",
)


@dataclass
class Memory:
    """The worker's peak RSS counting one file."""

    file: str
    peak_bytes: int


@dataclass
class PgBench:
    rows: int
    runs: int
    rates: list[Rate]
    baselines: list[Rate]
    restores: list[Rate]
    memory: list[Memory]


def _env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "PGPASSWORD": SUPERUSER_PASSWORD}


def _tool(server: PostgresServer, name: str, *args: str, **run: object) -> None:
    command = [str(bin_dir() / name), "-h", "127.0.0.1", "-p", str(server.port), "-U", SUPERUSER]
    subprocess.run([*command, *args], env=_env(), check=True, **run)  # type: ignore[call-overload]


def _dump(server: PostgresServer, path: Path, *options: str) -> Path:
    _tool(server, "pg_dump", *options, f"--file={path}", DATABASE)
    return path


def restore_rate(server: PostgresServer, path: Path, name: str) -> Rate:
    """`psql -f dump.sql` into a scratch database, then `COUNT(*)`: the slow way to know."""
    server.psql("DROP DATABASE IF EXISTS bench_restore", "CREATE DATABASE bench_restore")
    try:
        began = time.perf_counter()
        cpu = _children_cpu()
        _tool(
            server, "psql", "-X", "-q", "-d", "bench_restore", "-f", str(path), capture_output=True
        )
        rows = int(server.psql(f'SELECT COUNT(*) FROM "{TABLE}"', database="bench_restore"))
        return Rate(
            f"restore {name} with `psql`, then `COUNT(*)`",
            path.name,
            path.stat().st_size,
            path.stat().st_size,
            rows,
            time.perf_counter() - began,
            _children_cpu() - cpu,  # psql only: the server's share is not counted here
        )
    finally:
        server.psql("DROP DATABASE IF EXISTS bench_restore")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def worker_peak(path: Path, work: Path) -> Memory:
    """The parse worker's peak RSS (and its pg_restore's, the larger) counting `path`."""
    report_path = work / f"{path.name}.peak"
    request = json.dumps(worker_request(path, [TABLE], DATABASE, DEFAULT_BUDGET)).encode()
    child = launched(
        [sys.executable, "-m", "sidecar.backups.parse_worker"],
        report_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    out, _ = child.communicate(request, timeout=600)
    answer = json.loads(out)
    if answer["problem"] is not None:
        raise RuntimeError(f"{path.name}: {answer['problem']['message']}")
    code, rss = peak(report_path)
    if code != 0:
        raise RuntimeError(f"{path.name}: the worker exited {code}")
    return Memory(path.name, rss)


def run(server: PostgresServer, rows: int, work: Path, runs: int) -> PgBench:
    """Seed `"User"` with `rows` rows, dump it every way, and measure reading each."""
    _log(f"pg_backups: seeding {rows:,} rows")
    server.psql(f"CREATE DATABASE {DATABASE}")
    server.psql(*(s.format(rows=rows) for s in SEED), database=DATABASE, timeout=600)
    _log("pg_backups: pg_dump, every format")
    plain = _dump(server, work / "bench.sql")
    sql = plain.read_bytes()
    gz = write(work / "bench.sql.gz", sql)
    zst = write(work / "bench.sql.zst", sql)
    del sql
    inserts = _dump(server, work / "bench-inserts.sql", "--inserts")
    batched = _dump(server, work / "bench-rows-per-insert.sql", "--rows-per-insert=100")
    columns = _dump(server, work / "bench-column-inserts.sql", "--column-inserts")
    custom = _dump(server, work / "bench.dump", "-Fc")
    custom_z0 = _dump(server, work / "bench-z0.dump", "-Fc", "-Z0")
    size = plain.stat().st_size

    def rate(name: str, path: Path, sql_bytes: int | None = None) -> Rate:
        _log(f"pg_backups: count_rows {path.name}")
        return count_rate(name, path, TABLE, sql_bytes or path.stat().st_size, runs)

    rates = [
        rate(BASELINE, plain),
        rate("gzip (level 6), COPY", gz, size),
        rate("zstd (level 3), COPY", zst, size),
        rate("`--inserts`", inserts),
        rate("`--rows-per-insert=100`", batched),
        rate("`--column-inserts`", columns),
        rate("custom `-Fc` (zlib), through pg_restore", custom, size),
        rate("custom `-Fc -Z0`, through pg_restore", custom_z0, size),
    ]
    _log("pg_backups: baselines")
    restore_binary = find_pg_restore()
    baselines = [
        command_rate("`wc -l`", 'wc -l < "$1"', plain, size, runs),
        command_rate(
            "`pg_restore -f - \\| wc -l`",
            f'"{restore_binary}" -f - "$1" | wc -l',
            custom,
            size,
            runs,
        ),
    ]
    _log("pg_backups: restore with psql")
    restores = [
        restore_rate(server, plain, "the COPY dump"),
        restore_rate(server, inserts, "the `--inserts` dump"),
    ]
    _log("pg_backups: the worker's peak memory")
    memory = [worker_peak(path, work) for path in (plain, gz, inserts, columns, custom)]
    return PgBench(rows, runs, rates, baselines, restores, memory)


def section(result: PgBench) -> list[str]:
    """The report section (markdown lines)."""
    baseline = next(r for r in result.rates if r.name == BASELINE)
    per_cpu = [r.rows / r.cpu for r in result.rates if "insert" in r.name and r.rows and r.cpu]
    copy_restore, insert_restore = result.restores
    assert copy_restore.rows and insert_restore.rows
    lines = [
        HEADING,
        "",
        f'Real `pg_dump` (PostgreSQL {bin_dir().parent.name}) output of one `"User"` table'
        f" ({result.rows:,} rows, escapes in one row in ten), counted by"
        " `sidecar.backups.dump.count_rows` in one process (median of"
        f" {result.runs} runs). The named baseline is the plain COPY dump; `x baseline` is"
        " wall time against it. MB/s are of the SQL read (for the custom format: of the plain"
        " COPY dump it restores to); CPU is user+system of the counting process alone"
        " (pg_restore's own is in the `pg_restore | wc -l` row; psql's for the restore, the"
        " server's not included).",
        "",
        "| reading | file | file MB | SQL MB | rows counted | wall s | CPU s | MB/s (wall) |"
        " rows/s (wall) | x baseline |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for rate in [*result.rates, *result.baselines, *result.restores]:
        counted = f"{rate.rows:,}" if rate.rows is not None else "(lines)"
        per_row = f"{rate.rows / rate.wall:,.0f}" if rate.rows and rate.wall else "-"
        mb_s = f"{rate.sql_bytes / rate.wall / 1e6:,.0f}" if rate.wall else "n/a"
        lines.append(
            f"| {rate.name} | `{rate.file}` | {rate.file_bytes / 1e6:,.1f} |"
            f" {rate.sql_bytes / 1e6:,.1f} | {counted} | {rate.wall:.2f} | {rate.cpu:.2f} |"
            f" {mb_s} | {per_row} | {rate.wall / baseline.wall:.2f} |"
        )
    lines += [
        "",
        "Peak memory of the bounded worker (`python -m sidecar.backups.parse_worker`, started"
        " as the sidecar starts it, under its 1 GiB RLIMIT_AS; the kernel's `ru_maxrss`, the"
        " largest of the worker and its pg_restore):",
        "",
        "| file | peak RSS MiB |",
        "| --- | --- |",
    ]
    for memory in result.memory:
        lines.append(f"| `{memory.file}` | {memory.peak_bytes / 2**20:.0f} |")
    lines += [
        "",
        "- COPY data is counted a buffer at a time with `bytes.count` (newlines are rows,"
        " tabs prove the columns): a COPY dump reads at several hundred MB/s. Runs of INSERT"
        " statements with one head (`--inserts`, `--column-inserts`, `--rows-per-insert`)"
        " are matched by one possessive expression and their row tuples counted by `subn`,"
        " in C but a token at a time over every literal:"
        f" {min(per_cpu) / 1e6:.1f}-{max(per_cpu) / 1e6:.1f} M rows per CPU second, against"
        f" {copy_restore.rows / copy_restore.wall / 1e6:.2f} M rows/s for psql to restore"
        f" the COPY dump and {insert_restore.rows / insert_restore.wall / 1e6:.3f} M rows/s"
        " to restore the `--inserts` one (wall time; the machine's 2 CPUs are shared, so"
        " wall times of the slower rows vary between runs).",
        "- The custom format goes through `pg_restore -C -f -` (PostgreSQL's own reader of"
        " every archive version) into the same scanner: the cost is pg_restore's"
        " decompression, running beside the scanner on the second CPU.",
        "",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pg_backups", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a 20,000-row dump, one run")
    parser.add_argument("--output", type=Path, default=measure.ROOT / "docs" / "benchmarks.md")
    options = parser.parse_args()
    if options.quick:
        options.rows, options.runs = 20_000, 1
    command = "python -m bench.pg_backups " + " ".join(sys.argv[1:])
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-pg-backups-"))
    server = PostgresServer()
    server.start()
    try:
        result = run(server, options.rows, work, options.runs)
    finally:
        server.remove()
        shutil.rmtree(work, ignore_errors=True)
    lines = section(result)
    lines.insert(
        2,
        f"Written by `{command.strip()}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
    )
    lines.insert(3, "")
    report.write_section(options.output, "bench.pg_backups", "\n".join(lines))
    print("\n".join(lines))
    return 0


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
