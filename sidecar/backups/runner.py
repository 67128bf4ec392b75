"""Counting a dump without stalling the event loop: in a child process, within a budget.

    count = await count_in_child(path, ["User"], "app", Budget(wall_seconds=600))

The child (`parse_worker`) runs at a lower priority with capped CPU time and memory; the
parent only awaits its pipes, so probes keep being served while a large dump is read (see
docs/benchmarks.md for the loop's latency during a 1M-row parse). Whatever happens to the
child (out of time, CPU or memory, a crash) comes back as a `DumpCount` whose problem says
so (kind `budget`, retried later by the ledger), never as an exception; a cancelled caller
takes the child down with it. The child gets no SIDECAR_* variables: no secret reaches it.
"""

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidecar.backups.dump import MAX_RATIO, MIN_EXPANSION, DumpCount, DumpProblem, ProblemKind


@dataclass(frozen=True)
class Budget:
    """What one count may cost."""

    wall_seconds: float = 600.0
    cpu_seconds: int = 300  # ~60 GB of plain SQL at this machine's rate
    memory_bytes: int = 1 << 30
    nice: int = 10  # added to the sidecar's own niceness
    max_ratio: float = MAX_RATIO  # a compressed dump expanding more than this is a bomb
    min_expansion: int = MIN_EXPANSION  # ... once past this much SQL


DEFAULT_BUDGET = Budget()


def worker_request(
    path: Path | str, tables: Sequence[str], database: str, budget: Budget
) -> dict[str, Any]:
    """The JSON request `parse_worker` reads on stdin."""
    return {
        "path": str(path),
        "tables": list(tables),
        "database": database,
        "cpuSeconds": budget.cpu_seconds,
        "memoryBytes": budget.memory_bytes,
        "nice": budget.nice,
        "maxRatio": budget.max_ratio,
        "minExpansion": budget.min_expansion,
    }


async def count_in_child(
    path: Path | str,
    tables: Sequence[str],
    database: str,
    budget: Budget = DEFAULT_BUDGET,
) -> DumpCount:
    """Count `tables` of `database` in the dump at `path` in a child process within `budget`."""
    request = worker_request(path, tables, database, budget)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sidecar.backups.parse_worker",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,  # a terminal's Ctrl-C goes to the sidecar, which ends it
    )
    try:
        async with asyncio.timeout(budget.wall_seconds):
            out, err = await process.communicate(json.dumps(request).encode())
    except TimeoutError:
        return _failed(
            database, tables, f"counting took longer than {budget.wall_seconds:g}s: stopped"
        )
    finally:
        if process.returncode is None:
            # The whole group: the worker, and the pg_restore it may be reading from.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    code = process.returncode
    if code == 0:
        try:
            return DumpCount.from_json(json.loads(out))
        except ValueError as exc:  # JSONDecodeError is one
            return _failed(database, tables, f"the counting process answered nonsense ({exc})")
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        return _failed(
            database, tables, f"counting needed more than its {budget.cpu_seconds}s of CPU time"
        )
    last = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit code {code}"]
    return _failed(database, tables, f"the counting process failed: {last[0][:200]}")


def count_now(
    path: Path | str,
    tables: Sequence[str],
    database: str,
    budget: Budget = DEFAULT_BUDGET,
) -> DumpCount:
    """`count_in_child()` for code without an event loop (`sidecar volumes`): it blocks."""
    return asyncio.run(count_in_child(path, tables, database, budget))


def _failed(database: str, tables: Sequence[str], message: str) -> DumpCount:
    return DumpCount(
        database=database, tables=tuple(tables), problem=DumpProblem(ProblemKind.BUDGET, message)
    )
