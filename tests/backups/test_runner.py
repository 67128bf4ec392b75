"""Counting in a child process: the same counts, within its budget, the loop left free."""

import asyncio
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.backups.dump import count_rows
from sidecar.backups.runner import Budget, count_in_child
from tests.backups.dumps import mariadb_dump, write
from tests.support.mariadb import MariaDBTestServer

# One statement of 40 million one-byte tokens: legal SQL that costs seconds of CPU to read.
SLOW_TOKENS = 40_000_000


@pytest.fixture(scope="module")
def slow_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("slow") / "slow.sql"
    path.write_bytes(
        b"-- MariaDB dump\nSET @a = " + b"-" * SLOW_TOKENS + b"1;\n-- Dump completed\n"
    )
    return path


def workers() -> list[int]:
    """Pids of this process's children running the parse worker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == os.getpid() and b"parse_worker" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def environ(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


async def wait_for_worker(timeout: float = 20.0) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (found := workers()):
        assert loop.time() < deadline, "the parse worker never started"
        await asyncio.sleep(0.01)
    return found[0]


async def test_a_count_in_the_child_equals_a_count_in_process(
    dump_server: MariaDBTestServer, backup_dir: Path
) -> None:
    path = write(
        backup_dir / "app.sql.zst", mariadb_dump(dump_server, "--databases", "app", "other")
    )
    assert await count_in_child(path, ["User", "Note"], "app") == count_rows(
        path, ["User", "Note"], "app"
    )


async def test_the_event_loop_keeps_running_while_the_child_counts(slow_dump: Path) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        result = await count_in_child(slow_dump, ["User"], "app", Budget(cpu_seconds=1))
    finally:
        task.cancel()
    assert result.problem is not None  # it ran for a second of CPU: plenty of ticks meanwhile
    assert ticks >= 5


async def test_a_count_over_its_cpu_budget_is_stopped_and_says_so(slow_dump: Path) -> None:
    result = await count_in_child(slow_dump, ["User"], "app", Budget(cpu_seconds=1))
    assert result.counts == ()
    assert result.problem is not None and result.problem.kind == "budget"
    assert result.problem.message == "counting needed more than its 1s of CPU time"
    assert workers() == []


async def test_a_count_over_its_wall_time_is_stopped_and_says_so(slow_dump: Path) -> None:
    result = await count_in_child(slow_dump, ["User"], "app", Budget(wall_seconds=0.2))
    assert result.problem is not None and result.problem.kind == "budget"
    assert result.problem.message == "counting took longer than 0.2s: stopped"
    assert workers() == []


async def test_a_count_over_its_memory_budget_is_stopped_and_says_so(
    dump_server: MariaDBTestServer, backup_dir: Path
) -> None:
    """An address space smaller than the interpreter already uses: the first large read fails."""
    path = write(backup_dir / "app.sql", mariadb_dump(dump_server, "app"))
    result = await count_in_child(path, ["User"], "app", Budget(memory_bytes=16 << 20))
    assert result.problem is not None and result.problem.kind == "budget"
    assert "memory" in result.problem.message.lower()


async def test_a_cancelled_count_takes_its_child_down_and_hands_it_no_secret(
    slow_dump: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIDECAR_DB_PASSWORD", "Backup-Secret-41")
    task = asyncio.create_task(count_in_child(slow_dump, ["User"], "app"))
    pid = await wait_for_worker()
    environment = environ(pid)
    assert b"SIDECAR_" not in environment and b"Backup-Secret-41" not in environment
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert workers() == []


def test_the_worker_lowers_its_priority_and_caps_itself() -> None:
    script = (
        "import os, resource; from sidecar.backups.parse_worker import limit;"
        " limit(7, 1 << 30, 5);"
        " print(os.nice(0), resource.getrlimit(resource.RLIMIT_CPU),"
        " resource.getrlimit(resource.RLIMIT_AS)[0], resource.getrlimit(resource.RLIMIT_CORE))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split(" ", 1)
    assert int(out[0]) >= 5
    assert out[1].strip() == f"(7, 8) {1 << 30} (0, 0)"
