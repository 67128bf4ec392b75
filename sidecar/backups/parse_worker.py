"""`python -m sidecar.backups.parse_worker`: count one dump in a process of its own, within limits.

The sidecar's event loop serves probes; a parse in a thread would hold the GIL for seconds.
`runner.count_in_child()` starts this module instead, hands it one JSON request on stdin
(`{"path", "tables", "database", "cpuSeconds", "memoryBytes", "nice", "maxRatio",
"minExpansion"}`) and reads the
`DumpCount` as JSON from stdout. Before reading the dump the worker lowers its priority
(`nice`), caps its CPU time (RLIMIT_CPU: SIGXCPU, then SIGKILL a second later) and its
address space (RLIMIT_AS: a MemoryError, reported as such), and turns off core dumps.
"""

import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

from sidecar.backups.dump import DumpCount, DumpProblem, ProblemKind, count_rows

# Memory beyond the longest statement: the interpreter, the read buffer and its copies.
_STATEMENT_SHARE = 4


def limit(cpu_seconds: int, memory_bytes: int, nice: int) -> None:
    """Lower this process's priority and cap its CPU time and address space."""
    os.nice(nice)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def run(request: dict[str, Any]) -> DumpCount:
    """Apply the request's limits, then count its dump."""
    tables, database = list(request["tables"]), str(request["database"])
    memory = int(request["memoryBytes"])
    limit(int(request["cpuSeconds"]), memory, int(request["nice"]))
    try:
        return count_rows(
            Path(request["path"]),
            tables,
            database,
            max_statement=memory // _STATEMENT_SHARE,
            max_ratio=float(request["maxRatio"]),
            min_expansion=int(request["minExpansion"]),
        )
    except MemoryError:
        problem = DumpProblem(
            ProblemKind.BUDGET, f"counting needed more than its {memory // 2**20} MiB of memory"
        )
        return DumpCount(database=database, tables=tuple(tables), problem=problem)


def main() -> int:
    """Read the request from stdin, write the count to stdout."""
    request = json.loads(sys.stdin.buffer.read())
    json.dump(run(request).to_json(), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
