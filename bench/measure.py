"""The measurements: wrk against a server, DB statement counters, check cycles, per-call cost
of a health command, and resident memory of a long-running sidecar."""

import asyncio
import contextlib
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sidecar.checks.row_count import RowCountCheck
from sidecar.config import load_settings
from sidecar.demo.mariadb import MariaDBServer
from sidecar.demo.throwaway import free_port
from sidecar.results import Report, Status
from sidecar.service import build_evaluator

ROOT = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    """A progress line on stderr (the report goes to stdout and the output file)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, str]:
    """The machine a report was measured on."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    mariadbd = subprocess.run(
        ["mariadbd", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "CPUs (nproc)": str(os.cpu_count()),
        "CPU model": cpu,
        "RAM": f"{mem_kib / 1024**2:.1f} GiB",
        "kernel": platform.release(),
        "Python": platform.python_version(),
        "MariaDB": mariadbd.split(" for ")[0],
        "wrk": (wrk.stdout or wrk.stderr).split(" [")[0],
    }


# -- processes ----------------------------------------------------------------------------
@contextlib.contextmanager
def process(
    command: Sequence[str],
    env: dict[str, str],
    log: Path,
    ready_url: str,
    ready: int = 200,
    root: Path = ROOT,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` (importing from `root`) until `ready_url` answers `ready`; terminate it
    on the way out."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(command),
            env={**base, **env, "PYTHONPATH": str(root)},
            cwd=root,
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{command} exited {proc.returncode}: {log.read_text()[-800:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=1).status_code == ready:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command} not ready: {log.read_text()[-800:]}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def baseline_tree(ref: str, into: Path) -> Path:
    """The package as it was at commit `ref`, exported next to nothing else: pass it as
    `process(..., root=)` to measure the baseline side by side with this checkout."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "sidecar"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def bench_server_command(kind: str, port: int, *extra: str) -> list[str]:
    """`python -m bench.servers KIND --port PORT ...`"""
    return [sys.executable, "-m", "bench.servers", kind, "--port", str(port), *extra]


# -- wrk ----------------------------------------------------------------------------------
@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    errors: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(
    url: str, seconds: float, threads: int = 2, connections: int = 50, script: Path | None = None
) -> WrkResult:
    """`wrk -tT -cC -dDs --latency [-s SCRIPT] URL`, parsed."""
    scripted = ["-s", str(script)] if script is not None else []
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", *scripted, url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        rps,
        p50,
        p99,
        total,
        int(non_2xx.group(1)) if non_2xx else 0,
        sum(int(g) for g in errors.groups()) if errors else 0,
    )


# -- database counters --------------------------------------------------------------------
class StatusCounter:
    """Reads Questions and Com_select over one held root connection."""

    def __init__(self, server: MariaDBServer) -> None:
        self.conn = server.connect()

    def read(self) -> dict[str, int]:
        with self.conn.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_select')")
            return {name: int(value) for name, value in cursor.fetchall()}

    def close(self) -> None:
        self.conn.close()


def sidecar_cycles(base_url: str) -> int:
    """`sidecar_cycles_total` from the sidecar's /metrics."""
    text = httpx.get(f"{base_url}/metrics", timeout=5).text
    return int(float(re.search(r"^sidecar_cycles_total (\S+)", text, re.M).group(1)))  # type: ignore[union-attr]


@dataclass
class QueryWindow:
    seconds: float
    cycles: int
    questions: int
    selects: int
    probes: int


def query_window(
    counter: StatusCounter, base_url: str, seconds: float, load_url: str | None
) -> QueryWindow:
    """Statements the server saw over `seconds`, idle or under wrk load on `load_url`."""
    cycles0, status0 = sidecar_cycles(base_url), counter.read()
    probes = 0
    if load_url is None:
        time.sleep(seconds)
    else:
        probes = wrk(load_url, seconds).requests
    status1, cycles1 = counter.read(), sidecar_cycles(base_url)
    return QueryWindow(
        seconds,
        cycles1 - cycles0,
        # our own second SHOW GLOBAL STATUS counts as one question (not a SELECT)
        status1["Questions"] - status0["Questions"] - 1,
        status1["Com_select"] - status0["Com_select"],
        probes,
    )


# -- check cycles -------------------------------------------------------------------------
@dataclass
class CycleResult:
    rows: int
    cycle_ms: float
    row_count_ms: float
    count_kind: str
    status: str
    background_exact_ms: float | None
    naive_count_ms: float
    cycles: int
    reason: str


async def cycles_in_process(
    settings: dict[str, str], runs: int
) -> tuple[list[float], list[float], dict[str, object], str, float | None]:
    """`runs` cycles of an evaluator built from `settings`, after a warm-up and after the row
    count's background exact count: cycle ms, row count ms, its details, the verdict and the
    exact count's ms (None when none ran)."""
    evaluator = build_evaluator(load_settings(settings))
    try:
        report = await evaluator.run_cycle()  # warm-up; schedules a background exact count
        began = time.perf_counter()
        background = [
            c.background for c in evaluator.checks if isinstance(c, RowCountCheck) and c.background
        ]
        await asyncio.gather(*background, return_exceptions=True)
        exact_ms = (time.perf_counter() - began) * 1000 if background else None
        cycle_ms: list[float] = []
        row_ms: list[float] = []
        for _ in range(runs):
            began = time.perf_counter()
            report = await evaluator.run_cycle()
            cycle_ms.append((time.perf_counter() - began) * 1000)
            row_ms.append(
                next((c.duration or 0) for c in report.checks if c.key.endswith(":rowCount")) * 1000
            )
        row_check = next(c for c in report.checks if c.key.endswith(":rowCount"))
        details: dict[str, object] = {**row_check.details, "output": row_check.output}
        return cycle_ms, row_ms, details, str(report.status), exact_ms
    finally:
        await evaluator.aclose()


@dataclass
class CountedCycles:
    """Cycles of one evaluator with what each cost: its time, the statements the sidecar sent,
    the server's own counters' deltas, and every check's time."""

    cycle_ms: list[float]
    client: list[float]  # statements the sidecar counts it sent, per cycle
    server: dict[str, list[float]]  # each server counter's delta, per cycle
    by_check: dict[str, list[float]]  # each check's ms, per cycle
    report: Report  # the last cycle's

    def check_medians(self) -> dict[str, float]:
        return {key: statistics.median(ms) for key, ms in self.by_check.items()}


async def counted_cycles(
    settings: dict[str, Any],
    runs: int,
    counters: Callable[[], Awaitable[Mapping[str, float]]],
) -> CountedCycles:
    """`runs` cycles of an evaluator built from `settings` after a warm-up one (connections,
    the first listing, index lookups), with `counters()` read before and after each."""
    evaluator = build_evaluator(load_settings(settings))
    try:
        await evaluator.run_cycle()
        counted = CountedCycles([], [], {}, {}, Report(Status.FAIL, (), 0.0, 0.0))
        for _ in range(runs):
            queries, before = evaluator.db.queries, await counters()
            began = time.perf_counter()
            counted.report = await evaluator.run_cycle()
            counted.cycle_ms.append((time.perf_counter() - began) * 1000)
            after = await counters()
            for name, value in after.items():
                counted.server.setdefault(name, []).append(value - before[name])
            counted.client.append(evaluator.db.queries - queries)
            for check in counted.report.checks:
                counted.by_check.setdefault(check.key, []).append((check.duration or 0) * 1000)
        return counted
    finally:
        await evaluator.aclose()


def cycle_cost(
    server: MariaDBServer, url: str, table: str, rows: int, runs: int, state_dir: Path
) -> CycleResult:
    """Median wall time of `Evaluator.run_cycle()` on `table`, and a plain COUNT(*) beside it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "db_url": url,
        "table": table,
        "timestamp_column": "createdAt",
        "state_dir": str(state_dir),
        "interval": "5s",
        "timeout": "2s",
    }
    cycle_ms, row_ms, details, status, exact_ms = asyncio.run(cycles_in_process(settings, runs))
    naive = []
    conn = server.connect(database="bench")
    try:
        with conn.cursor() as cursor:
            for _ in range(3):
                began = time.perf_counter()
                cursor.execute(f"SELECT COUNT(*) FROM `{table}`")
                cursor.fetchall()
                naive.append((time.perf_counter() - began) * 1000)
    finally:
        conn.close()
    return CycleResult(
        rows,
        statistics.median(cycle_ms),
        statistics.median(row_ms),
        str(details.get("countKind", "none (failed)")),
        status,
        exact_ms,
        statistics.median(naive),
        runs,
        str(details["output"]),
    )


# -- per-call cost of a command -----------------------------------------------------------
@dataclass
class CallCost:
    wall_ms: float
    cpu_ms: float
    runs: int
    failures: int


def installed_copy(venv: Path) -> Path:
    """`sidecar` from a regular install of this checkout into `venv` (the probe needs no deps)."""
    script = venv / "bin" / "sidecar"
    if not script.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(ROOT)], check=True
        )
    return script


def call_cost(command: Sequence[str], runs: int, warmup: int = 3) -> CallCost:
    """Median wall time and mean CPU time (user+sys of the children) of one call."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    for _ in range(warmup):
        subprocess.run(command, capture_output=True, check=False, env=env)
    walls, cpus, failures = [], [], 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        code = subprocess.run(command, capture_output=True, check=False, env=env).returncode
        walls.append((time.perf_counter() - began) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
        failures += code != 0
    return CallCost(statistics.median(walls), statistics.mean(cpus), runs, failures)


# -- resident memory ----------------------------------------------------------------------
@dataclass
class MemoryResult:
    seconds: float
    cycles: int
    cycle_errors: int
    interval: str
    first_mib: float
    last_mib: float
    max_mib: float
    samples: list[float] = field(default_factory=list)
    verdict: str = ""


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def memory_run(env: dict[str, str], seconds: float, interval: str, log: Path) -> MemoryResult:
    """`sidecar serve` cycling every `interval` for `seconds`, VmRSS sampled every second."""
    port = free_port()
    env = {
        **env,
        "SIDECAR_PORT": str(port),
        "SIDECAR_HOST": "127.0.0.1",
        "SIDECAR_INTERVAL": interval,
        "SIDECAR_TIMEOUT": interval,
        "SIDECAR_LOG_LEVEL": "warning",
    }
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "sidecar", "serve"]
    with (
        process(command, env, log, f"{base_url}/readyz") as proc,
        httpx.Client(base_url=base_url, timeout=5) as client,
    ):
        samples = [rss_mib(proc.pid)]
        began = time.monotonic()
        while time.monotonic() - began < seconds:
            # a little probe traffic too: every new report renders new bodies
            for _ in range(10):
                client.get("/health")
                client.get("/metrics")
                time.sleep(0.1)
            samples.append(rss_mib(proc.pid))
        metrics = client.get("/metrics").text
        cycles = int(float(re.search(r"^sidecar_cycles_total (\S+)", metrics, re.M).group(1)))  # type: ignore[union-attr]
        errors = re.search(r"^sidecar_cycle_errors_total (\S+)", metrics, re.M)
        verdict = client.get("/readyz").text.strip()
    return MemoryResult(
        seconds,
        cycles,
        int(float(errors.group(1))) if errors else 0,
        interval,
        samples[0],
        samples[-1],
        max(samples),
        samples,
        verdict,
    )
