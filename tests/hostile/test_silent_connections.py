"""Silent connections against a real `sidecar serve` limited to 1,024 open files (issue 10).

1,100 clients each send half a request and go quiet, more than the process has descriptors
for. Before, they were never closed and `/livez` and `/readyz` timed out ("Too many open
files"): an orchestrator would have killed a healthy sidecar. Pinned here: `/livez` answers
within 1 s throughout, the server closes every silent connection by itself, and the evaluation
loop keeps its database connections (the verdict stays pass).
"""

import asyncio
import resource
import socket
from pathlib import Path

from bench.silent import HALF_A_REQUEST, silent_flood
from sidecar.connections import REQUEST_TIMEOUT, budget_for
from sidecar.demo.throwaway import free_port
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import SidecarProcess, monitor_env

OPEN_FILES = 1024  # a container's usual nofile limit
FLOOD = 1100
LIVEZ_WITHIN = 1.0


def raise_own_open_files(needed: int) -> None:
    """The test process holds the whole flood: make room for it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed), hard))


def test_livez_answers_within_a_second_while_silent_connections_are_shed(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    """1,100 silent connections at a 1,024-file limit: /livez within 1 s, all of them closed by
    the server after its deadline, the verdict still pass, the cap logged once."""
    raise_own_open_files(4 * FLOOD)
    env = monitor_env(seeded, state_dir=tmp_path / "state")
    sidecar = SidecarProcess(env, tmp_path / "sidecar.log", open_files=OPEN_FILES).start()
    try:
        sidecar.wait_status("pass")
        assert sidecar.process is not None
        result = asyncio.run(
            silent_flood(sidecar.port, FLOOD, watch=REQUEST_TIMEOUT + 15, pid=sidecar.process.pid)
        )
        print(
            f"{result.opened} silent connections opened in {result.open_seconds:.2f}s;"
            f" /livez x{len(result.latencies)}: p50 {result.percentile(0.5) * 1000:.1f} ms,"
            f" p99 {result.percentile(0.99) * 1000:.1f} ms, max {result.worst * 1000:.1f} ms;"
            f" all closed by the server {result.all_closed_after}s after the last opened;"
            f" RSS max {max(result.rss_mib):.1f} MiB"
        )
        assert result.opened == FLOOD
        assert not result.failures, result.failures[:5]
        assert len(result.latencies) >= 10, "too few probes to say anything"
        assert result.worst < LIVEZ_WITHIN, sorted(result.latencies)[-5:]
        assert result.closed_by_server == FLOOD, "silent connections outlived the deadline"

        # The loop kept its database connections through the flood: still a passing verdict.
        assert sidecar.get("/readyz").status_code == 200
        log = sidecar.log()
        budget = budget_for(OPEN_FILES)
        assert log.count(f"connection cap {budget.cap} (open-files limit {OPEN_FILES}") == 1, log
        assert "connection cap" in log and "reached" in log  # shedding was announced
        assert "Too many open files" not in log and "out of system resource" not in log, log
        assert "Traceback" not in log, log[-3000:]
    finally:
        assert sidecar.stop() == 0


def test_sigterm_with_silent_connections_held_still_exits_0(tmp_path: Path) -> None:
    """A graceful stop does not wait on connections that will never send a request."""
    raise_own_open_files(4 * FLOOD)
    # /livez needs no database: this one watches a port where nothing listens.
    env = {
        "SIDECAR_DB_URL": f"mysql://monitor:unused@127.0.0.1:{free_port()}/app",
        "SIDECAR_TABLE": "User",
    }
    sidecar = SidecarProcess(env, tmp_path / "sidecar.log", open_files=OPEN_FILES).start()
    held = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", sidecar.port), timeout=5)
            sock.sendall(HALF_A_REQUEST)
            held.append(sock)
        assert sidecar.get("/livez").status_code == 200
        assert sidecar.stop() == 0, sidecar.log()[-3000:]
    finally:
        for sock in held:
            sock.close()
        sidecar.stop()


def test_an_open_files_limit_too_low_for_any_cap_is_refused_at_start(tmp_path: Path) -> None:
    """At 100 open files `serve` exits 1 with one line naming the limit to set, no traceback."""
    env = {"SIDECAR_DB_URL": f"mysql://monitor:unused@127.0.0.1:{free_port()}/app"}
    sidecar = SidecarProcess(env, tmp_path / "sidecar.log", open_files=100).start(wait=False)
    assert sidecar.process is not None
    sidecar.process.wait(timeout=30)
    assert sidecar.stop() == 1
    log = sidecar.log()
    assert "open-files limit 100 is too low to serve HTTP safely: raise it to at least 144" in log
    assert "Traceback" not in log
