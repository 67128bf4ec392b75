"""A child's peak memory as the kernel counts it, free of the test process's own size.

Linux carries a process's peak RSS across fork and exec (`wait4`'s `ru_maxrss` and
RUSAGE_SELF both start from the forking parent's high-water mark), so a child forked from a
large pytest process reports pytest's size, not its own. The command is therefore started by a
small launcher, itself a fresh interpreter, whose own child's rusage is the command's alone.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

_LAUNCHER = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as report:
    json.dump([os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024], report)
"""


def launched(argv: list[str], report: Path, **popen: Any) -> "subprocess.Popen[bytes]":
    """Start `argv` under the launcher; `peak(report)` reads its exit code and peak RSS."""
    return subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(report), *argv], **popen)


def peak(report: Path) -> tuple[int, int]:
    """(exit code, peak RSS in bytes) of a command `launched` has seen end."""
    code, rss = json.loads(report.read_text())
    return int(code), int(rss)


def own_peak_bytes() -> int:
    """This process's own peak RSS (its address space's high-water mark, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
