"""PostgreSQL's custom format (`pg_dump -Fc`, magic `PGDMP`), read as plain SQL through pg_restore.

    for block in restored(handle, limit=1 << 30): ...   # what `pg_restore -C -f -` writes

The format is a header, a table of contents and one zlib (or zstd, lz4) stream per table's
data; PostgreSQL's own reader knows every version of it, so `pg_restore -C -f -` turns it
back into the plain SQL the plain scanner counts (COPY blocks; `-C` keeps the archive's
database name as `CREATE DATABASE` and `\\connect`, so a dump of another database is refused
by name). It reads the file the worker already opened (never a path that could be swapped)
and connects to no server.

Bounded like a compressed dump: its output may reach `limit` bytes (the ratio and size
limits of `dump.py`), past which it is killed and the file refused as a bomb, once. It runs
in the worker's process group under the worker's RLIMIT_CPU and RLIMIT_AS, which children
inherit, and dies with it when the runner's wall-time limit kills the group. Its stderr goes
to a temporary file (a pipe could fill and stall it); its last line is the reason given.
"""

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

MAGIC = b"PGDMP"
_UNSUPPORTED = re.compile(r"unsupported version \((\d+)\.\d+\)")
DEBIAN_ROOT = Path("/usr/lib/postgresql")
_READ = 1 << 20
_STDERR_KEPT = 4096


class RestoreMissing(Exception):
    """pg_restore is not installed, or cannot read this archive's version: not the file's fault."""


class RestoreFailed(Exception):
    """pg_restore could not read the archive: corrupt or cut short."""


class RestoreExpands(Exception):
    """pg_restore's output passed the limit: a bomb, or as good as one."""


def find_pg_restore(root: Path = DEBIAN_ROOT, path: str | None = None) -> Path | None:
    """The newest Debian `pg_restore` under `root` (it reads every older archive), else PATH's."""
    versions = sorted(
        (p for p in root.glob("*/bin/pg_restore") if p.parent.parent.name.isdigit()),
        key=lambda p: int(p.parent.parent.name),
    )
    if versions:
        return versions[-1]
    found = shutil.which("pg_restore", path=path)
    return Path(found) if found else None


def restored(handle: BinaryIO, limit: int, pg_restore: Path | None = None) -> Iterator[bytes]:
    """The plain SQL of the custom-format archive open in `handle`, block by block."""
    binary = pg_restore or find_pg_restore()
    if binary is None:
        raise RestoreMissing(
            "it is a custom-format dump (pg_dump -Fc), which needs pg_restore: not installed"
            f" (looked in {DEBIAN_ROOT}/*/bin and PATH)"
        )
    handle.seek(0)
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                [str(binary), "--create", "--file=-"],
                stdin=handle,
                stdout=subprocess.PIPE,
                stderr=errors,
                env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
            )
        except OSError as exc:
            raise RestoreMissing(f"cannot run {binary}: {exc.strerror}") from None
        try:
            assert process.stdout is not None
            produced = 0
            while block := process.stdout.read(_READ):
                produced += len(block)
                if produced > limit:
                    raise RestoreExpands(f"pg_restore's output passes {limit:,} bytes")
                yield block
            code = process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if code != 0:
            errors.seek(max(0, os.fstat(errors.fileno()).st_size - _STDERR_KEPT))
            raise _failure(errors.read().decode("utf-8", "replace"), code)


def _failure(stderr: str, code: int) -> Exception:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    last = lines[-1][:300] if lines else f"exit code {code}"
    last = last.removeprefix("pg_restore: ").removeprefix("error: ")
    version = _UNSUPPORTED.search(last)
    if version is not None and version.group(1) == "1":
        # Format 1.x is every archive since PostgreSQL 7.1: one this pg_restore cannot read
        # is newer than it. Not the file's fault; a newer pg_restore reads it.
        return RestoreMissing(f"this pg_restore is older than the archive: {last}")
    return RestoreFailed(f"pg_restore could not read the custom-format dump: {last}")
