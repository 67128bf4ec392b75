"""Decompression bombs: bounded by output for zstd and gzip, reported once, never retried.

The bombs are made here: hundreds of MiB of one repeated INSERT line (SQL the scanner reads
at full speed), compressed to a few KiB. Each is counted by the real parse worker, started
as the service starts it, and its peak memory is read from the kernel (`wait4`'s rusage).
"""

import asyncio
import gzip
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import zstandard

from sidecar.backups.catalog import list_backups
from sidecar.backups.dump import ProblemKind
from sidecar.backups.ledger import Ledger
from sidecar.backups.runner import Budget, worker_request
from sidecar.backups.survey import count_files, known_backups
from tests.support.peak import launched, peak

HEADER = b"-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n-- Host: localhost    Database: app\n"
LINE = b"INSERT INTO `Filler` VALUES (1,'aaaaaaaaaaaaaaaaaaaaaaaa');\n"
MIB = 1 << 20
EXPANDS_TO = 512 * MIB  # what each bomb holds
FLOOR = 64 * MIB  # the tests' minimum expansion: small, so that a bomb trips it quickly
BUDGET = Budget(min_expansion=FLOOR)
# Peak RSS of a worker that read a bomb: the interpreter (~30 MiB) plus a few read steps.
# Measured: 33-41 MiB; before the output cap, 529 MiB (one zstd call returned a whole frame).
PEAK_LIMIT = 100 * MIB


def repeated(size: int) -> list[bytes]:
    """`size` bytes of the repeated line, in 1 MiB pieces (never all in memory at once)."""
    piece = LINE * (MIB // len(LINE))
    return [piece] * (size // len(piece))


def zstd_bomb(path: Path, frames: int = 1) -> Path:
    """A dump header, then `frames` zstd frames of EXPANDS_TO / frames bytes each."""
    compressor = zstandard.ZstdCompressor(level=3)
    with path.open("wb") as out:
        out.write(compressor.compress(HEADER))
        for _ in range(frames):
            stream = compressor.compressobj()
            for piece in repeated(EXPANDS_TO // frames):
                out.write(stream.compress(piece))
            out.write(stream.flush())
    return path


def gzip_bomb(path: Path) -> Path:
    """A dump header and EXPANDS_TO bytes of the line, in one gzip member."""
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(HEADER)
        for piece in repeated(EXPANDS_TO):
            out.write(piece)
    return path


def count_in_worker(path: Path, budget: Budget) -> tuple[dict[str, object], int]:
    """The worker's answer for `path` and its peak RSS in bytes, from the kernel (wait4)."""
    request = json.dumps(worker_request(path, ["User"], "app", budget)).encode()
    report = path.with_suffix(".peak")
    worker = launched(
        [sys.executable, "-m", "sidecar.backups.parse_worker"],
        report,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    answer, _ = worker.communicate(request, timeout=120)
    return json.loads(answer), peak(report)[1]


@pytest.mark.parametrize(
    ("name", "frames"),
    [("bomb.sql.zst", 1), ("frames.sql.zst", 8), ("bomb.sql.gz", 1)],
    ids=["zstd", "zstd-multi-frame", "gzip"],
)
def test_a_bomb_is_not_counted_and_the_worker_stays_small(
    tmp_path: Path, name: str, frames: int
) -> None:
    path = tmp_path / name
    gzip_bomb(path) if name.endswith(".gz") else zstd_bomb(path, frames)
    assert EXPANDS_TO / path.stat().st_size > 300  # a bomb: SQL dumps compress 5-50x
    # gzip cannot pass 1032x (this one is 343x): a ratio of 10 makes the floor its limit.
    budget = Budget(min_expansion=FLOOR, max_ratio=10 if name.endswith(".gz") else 1000)
    answer, peak = count_in_worker(path, budget)
    assert answer["problem"] == {
        "kind": "expansion",
        "message": "it expands past 64.0 MiB of SQL: not counted",
    }
    assert peak < PEAK_LIMIT, f"the worker peaked at {peak / MIB:.0f} MiB"


def test_a_bomb_is_recorded_once_and_not_retried(tmp_path: Path) -> None:
    directory = tmp_path / "backups"
    directory.mkdir()
    zstd_bomb(directory / "app.sql.zst")
    os.utime(directory / "app.sql.zst", (1_000_000, 1_000_000))
    listing = list_backups(directory)
    ledger = asyncio.run(count_files(listing.files, ["User"], "app", Ledger(), BUDGET))
    # Ten days later the ledger still answers: a bomb stays a bomb for as long as the file.
    later = 1_000_000 + 10 * 86400.0
    (backup,) = known_backups(listing, listing, ledger, ["User"], "app", later)
    assert backup.count is not None and backup.count.problem is not None
    assert backup.count.problem.kind is ProblemKind.EXPANSION


def test_sidecar_volumes_counts_in_the_bounded_child(tmp_path: Path) -> None:
    """`look_now` (what `sidecar volumes` runs) keeps the bomb out of its own process."""
    directory = tmp_path / "backups"
    directory.mkdir()
    zstd_bomb(directory / "app.sql.zst")
    os.utime(directory / "app.sql.zst", (1_000_000, 1_000_000))
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from sidecar.backups.ledger import Ledger
        from sidecar.backups.runner import Budget, worker_request
        from sidecar.backups.survey import look_now
        judged = look_now(Path({str(directory)!r}), ["*.sql.zst"], {{"User": 14}},
                          {{"User": 0.5}}, "app", Ledger(), 2_000_000.0,
                          Budget(min_expansion={FLOOR}))
        print(judged.rows[0].verdict.output)
        from tests.support.peak import own_peak_bytes
        print(own_peak_bytes())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    output, peak_bytes = done.stdout.splitlines()
    assert output == "the newest backup (app.sql.zst): it expands past 64.0 MiB of SQL: not counted"
    assert int(peak_bytes) < PEAK_LIMIT
