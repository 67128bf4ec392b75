"""The database misbehaves under a running sidecar: killed, hung, locked, out of connections.

Each scenario runs a real `sidecar serve` (1s interval, 500ms timeout) against a real MariaDB
and pins what an operator relies on: the verdict fails within `interval + timeout` with a
reason that says why, `/livez` stays 200, nothing piles up, and it recovers on its own.
"""

import time

import httpx
import pytest

from tests.faults.conftest import StartSidecar, db_sockets
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import MONITOR_PASSWORD, MONITOR_USER, SidecarProcess, wait_for

INTERVAL, TIMEOUT = 1.0, 0.5
# Polling granularity, process scheduling on a busy 2-core CI machine, one HTTP round trip.
SLACK = 0.75


def fails_within(sidecar: SidecarProcess, deadline: float) -> float:
    """Poll /readyz until 503; return the seconds it took (asserting it is within deadline)."""
    began = time.monotonic()
    while True:
        if sidecar.get("/readyz").status_code == 503:
            took = time.monotonic() - began
            assert took <= deadline, f"/readyz turned 503 only after {took:.2f}s"
            return took
        assert time.monotonic() - began <= deadline, (
            f"/readyz still 200 after {deadline}s: {sidecar.health()}"
        )
        time.sleep(0.05)


def check_output(sidecar: SidecarProcess, key: str) -> str:
    body = sidecar.health()
    return str(body["checks"][key][0].get("output", ""))


def test_killed_server_fails_within_a_cycle_and_recovers_after_restart(
    seeded: MariaDBTestServer, start_sidecar: StartSidecar
) -> None:
    """SIGKILL: 503 within interval+timeout, /livez stays 200, green again after restart."""
    sidecar = start_sidecar(seeded)
    sidecar.wait_status("pass")

    seeded.kill()
    fails_within(sidecar, INTERVAL + TIMEOUT + SLACK)
    assert "cannot connect" in check_output(sidecar, "database:connection")
    assert sidecar.get("/livez").status_code == 200

    seeded.start()
    sidecar.wait_status("pass", timeout=10)
    assert sidecar.get("/livez").status_code == 200


def test_hung_server_fails_by_timeout_without_piling_up_connections(
    seeded: MariaDBTestServer, start_sidecar: StartSidecar
) -> None:
    """SIGSTOP: fail by timeout, sockets to the DB stay bounded, probes stay fast; SIGCONT heals."""
    sidecar = start_sidecar(seeded)
    sidecar.wait_status("pass")
    assert sidecar.process is not None
    pid = sidecar.process.pid

    seeded.pause()
    try:
        fails_within(sidecar, INTERVAL + TIMEOUT + SLACK)
        assert "timed out" in check_output(sidecar, "database:connection")
        counts = []
        # Six more cycles against the hung server: each must give up and close what it opened.
        end = time.monotonic() + 6 * INTERVAL
        while time.monotonic() < end:
            counts.append(db_sockets(pid, seeded.port))
            began = time.monotonic()
            assert sidecar.get("/livez").status_code == 200
            assert sidecar.get("/readyz").status_code == 503
            assert time.monotonic() - began < 0.5, "probes must not wait on the database"
            time.sleep(0.2)
        # One connection per concurrent query of a cycle at most; a leak would grow every cycle.
        assert max(counts) <= 8, counts
        assert counts[-1] <= max(counts[: len(counts) // 2]) + 2, counts
    finally:
        seeded.resume()

    sidecar.wait_status("pass", timeout=10)
    assert db_sockets(pid, seeded.port) <= 8


def test_table_locked_by_another_session_fails_by_timeout_then_recovers(
    seeded: MariaDBTestServer, start_sidecar: StartSidecar
) -> None:
    """LOCK TABLES User WRITE elsewhere: the table checks time out (not hang), then recover."""
    sidecar = start_sidecar(seeded)
    sidecar.wait_status("pass")

    locker = seeded.connect(database="app")
    try:
        with locker.cursor() as cursor:
            cursor.execute("LOCK TABLES User WRITE")
        fails_within(sidecar, INTERVAL + TIMEOUT + SLACK)
        body = sidecar.health()
        failing = {k: v[0] for k, v in body["checks"].items() if v[0]["status"] == "fail"}
        assert failing, body
        for key, check in failing.items():
            assert key.startswith("User:"), body
            assert "timed out" in check["output"], body
        assert body["checks"]["database:connection"][0]["status"] == "pass", body
        began = time.monotonic()
        assert sidecar.get("/health").status_code == 503
        assert time.monotonic() - began < 0.5
    finally:
        with locker.cursor() as cursor:
            cursor.execute("UNLOCK TABLES")
        locker.close()

    sidecar.wait_status("pass", timeout=10)


def _kill_monitor_sessions(server: MariaDBTestServer) -> None:
    rows = server.execute(
        f"SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{MONITOR_USER}'"
    )
    for (session,) in rows:
        server.execute(f"KILL {int(session)}")


# MariaDB answers a used-up per-account MAX_USER_CONNECTIONS with 1226 (ER_USER_LIMIT_REACHED),
# not 1203 (the global max_user_connections, which cannot be changed at run time from 0).
ACCOUNT = f"'{MONITOR_USER}'@'127.0.0.1'"
LIMITS = [
    pytest.param(
        f"ALTER USER {ACCOUNT} WITH MAX_USER_CONNECTIONS 1",
        f"ALTER USER {ACCOUNT} WITH MAX_USER_CONNECTIONS 0",
        "1226",
        id="account-limit",
    ),
]


@pytest.mark.parametrize(("limit", "unlimit", "code"), LIMITS)
def test_connection_limit_reached_gives_a_clear_reason(
    seeded: MariaDBTestServer, start_sidecar: StartSidecar, limit: str, unlimit: str, code: str
) -> None:
    """The monitor account's only connection held by another client: fail naming the limit."""
    sidecar = start_sidecar(seeded)
    sidecar.wait_status("pass")
    seeded.execute(limit)
    held = None

    def grab_the_only_connection() -> bool:
        nonlocal held
        _kill_monitor_sessions(seeded)
        try:
            held = seeded.connect(MONITOR_USER, MONITOR_PASSWORD, "app")
        except Exception:  # the sidecar reconnected first: take it away again
            return False
        return True

    try:
        wait_for(grab_the_only_connection, timeout=10, what="holding the monitor's only slot")
        body = sidecar.wait_status("fail", timeout=INTERVAL * 3 + TIMEOUT)
        output = body["checks"]["database:connection"][0]["output"]
        assert code in output, body
        assert "connection limit" in output, body
        assert MONITOR_USER not in sidecar.get("/health").text
    finally:
        seeded.execute(unlimit)
        if held is not None:
            held.close()

    sidecar.wait_status("pass", timeout=10)


def test_too_many_connections_on_the_server_gives_a_clear_reason(
    seeded: MariaDBTestServer, start_sidecar: StartSidecar
) -> None:
    """max_connections used up by other clients: fail with 'too many connections' (1040)."""
    sidecar = start_sidecar(seeded)
    sidecar.wait_status("pass")
    seeded.execute("CREATE USER 'hog'@'127.0.0.1'", "GRANT USAGE ON *.* TO 'hog'@'127.0.0.1'")
    hogs = []
    try:
        seeded.execute("SET GLOBAL max_connections = 10")
        _kill_monitor_sessions(seeded)
        while True:  # fill every slot (root keeps its one extra SUPER slot)
            try:
                hogs.append(seeded.connect("hog"))
            except Exception:
                break
            assert len(hogs) < 20
        body = sidecar.wait_status("fail", timeout=INTERVAL * 3 + TIMEOUT)
        output = body["checks"]["database:connection"][0]["output"]
        assert "too many connections" in output, body
    finally:
        for hog in hogs:
            hog.close()
        seeded.execute("SET GLOBAL max_connections = 200")

    sidecar.wait_status("pass", timeout=10)


def test_probes_answer_while_the_database_is_down(
    seeded: MariaDBTestServer, start_sidecar: StartSidecar
) -> None:
    """With no database at all every endpoint still answers, quickly, with a status."""
    sidecar = start_sidecar(seeded)
    sidecar.wait_status("pass")
    seeded.stop()
    fails_within(sidecar, INTERVAL + TIMEOUT + SLACK)
    for path in ("/livez", "/readyz", "/health", "/metrics"):
        response = sidecar.get(path)
        assert response.status_code == (503 if path in ("/readyz", "/health") else 200), path
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{seeded.port}/", timeout=1)
