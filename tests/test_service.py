"""`sidecar serve` against real MariaDB servers: what each consumer sees, and when."""

import time
from pathlib import Path

from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import (
    MONITOR_PASSWORD,
    MONITOR_USER,
    add_users,
    incident,
    monitor_env,
    running_sidecar,
    wait_for,
)

INTERVAL, TIMEOUT = 1.0, 0.5
# Polling every 100 ms and process scheduling on a busy 2-core machine add a little.
SLACK = 0.6


def test_healthy_data_passes_with_the_right_values(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    env = monitor_env(seeded, data_dir=seeded.datadir, state_dir=tmp_path / "state")
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        body = sidecar.wait_status("pass")
        response = sidecar.get("/health")
        assert response.headers["content-type"] == "application/health+json"
        assert next(iter(body)) == "status"
        checks = body["checks"]
        assert set(checks) == {
            "database:connection",
            "User:rowCount",
            "User:latestRecord",
            "volume:identity",
            "database:privileges",
        }
        rows = checks["User:rowCount"][0]
        assert (rows["observedValue"], rows["observedUnit"], rows["countKind"]) == (
            14,
            "rows",
            "exact",
        )
        latest = checks["User:latestRecord"][0]
        assert latest["observedUnit"] == "s" and 0 <= latest["observedValue"] < 60
        assert latest["newestRecord"].endswith("Z") and latest["indexed"] is True
        identity = checks["volume:identity"][0]
        assert identity["match"] == 1
        assert "datadir=" in identity["observedValue"] and "inode=" in identity["observedValue"]
        connection = checks["database:connection"][0]
        assert connection["observedUnit"] == "ms" and connection["observedValue"] > 0
        for check in checks.values():
            assert {"status", "observedValue", "observedUnit", "time"} <= set(check[0])
        text = response.text
        assert len(response.content) < 4096
        for secret in (MONITOR_PASSWORD, f"{MONITOR_USER}@", "127.0.0.1", str(seeded.port)):
            assert secret not in text
        assert sidecar.get("/readyz").status_code == 200
        assert sidecar.client.head("/health").status_code == 200
        assert sidecar.client.head("/readyz").status_code == 200
        metrics = sidecar.get("/metrics").text
        assert 'sidecar_table_rows{table="User"} 14.0' in metrics
        assert "sidecar_verdict 0.0" in metrics
        assert MONITOR_PASSWORD not in sidecar.log()


def test_verdict_is_fail_starting_until_the_first_cycle(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    seeded.pause()  # the first cycle now takes its whole timeout
    try:
        env = monitor_env(seeded, interval="10s", timeout="3s")
        with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
            body = sidecar.health()
            assert body["status"] == "fail"
            assert body["output"] == "starting"
            assert sidecar.get("/readyz").status_code == 503
            assert sidecar.get("/livez").status_code == 200
    finally:
        seeded.resume()


def test_database_stopped_fails_fast_and_recovers_without_restart(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    with running_sidecar(monitor_env(seeded), tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        seeded.stop()
        took = wait_for(lambda: sidecar.get("/readyz").status_code == 503, 10, "503")
        assert took <= INTERVAL + TIMEOUT + SLACK
        body = sidecar.health()
        assert "cannot connect" in body["checks"]["database:connection"][0]["output"]
        assert sidecar.get("/livez").status_code == 200
        seeded.start()
        sidecar.wait_status("pass", timeout=INTERVAL * 3 + 2)
        assert sidecar.get("/readyz").status_code == 200


def test_database_hung_fails_by_timeout_not_by_hanging(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    with running_sidecar(monitor_env(seeded), tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        seeded.pause()
        try:
            took = wait_for(lambda: sidecar.get("/readyz").status_code == 503, 10, "503")
            assert took <= INTERVAL + TIMEOUT + SLACK
            body = sidecar.health()
            assert "timed out" in body["checks"]["database:connection"][0]["output"]
            began = time.monotonic()
            assert sidecar.get("/livez").status_code == 200
            assert time.monotonic() - began < 0.5  # probes never wait for the database
        finally:
            seeded.resume()
        sidecar.wait_status("pass", timeout=INTERVAL * 3 + 2)


def test_fresh_datadir_under_a_floor_fails_naming_row_count_and_pinned_identity(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    from tests.support.servers import run_cli

    env = monitor_env(seeded, data_dir=seeded.datadir, min_rows=5)
    pin = run_cli("check", "--json", env=env)
    assert pin.returncode == 0, pin.stdout + pin.stderr
    import json

    fingerprint = json.loads(pin.stdout)["checks"]["volume:identity"][0]["observedValue"]
    env["SIDECAR_EXPECT_IDENTITY"] = fingerprint
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        began = time.monotonic()
        incident(seeded)
        wait_for(lambda: sidecar.get("/readyz").status_code == 503, 10, "503")
        # The swap itself takes a moment; the verdict must follow within one cycle after it.
        body = sidecar.wait_status("fail")
        rows = body["checks"]["User:rowCount"][0]
        wait_for(
            lambda: sidecar.health()["checks"]["User:rowCount"][0]["observedValue"] == 1,
            INTERVAL + TIMEOUT + 2,
            "the new single admin row to be counted",
        )
        body = sidecar.health()
        rows = body["checks"]["User:rowCount"][0]
        assert rows["status"] == "fail" and "below the floor of 5" in rows["output"]
        identity = body["checks"]["volume:identity"][0]
        assert identity["status"] == "fail" and identity["match"] == 0
        assert "(pin, baseline)" in identity["output"]  # one clause for a change seen against both
        assert "newly initialised" in identity["output"]
        assert time.monotonic() - began < 30


def test_recovers_when_the_original_datadir_returns(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    env = monitor_env(seeded, data_dir=seeded.datadir, state_dir=tmp_path / "state")
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        aside = incident(seeded)
        sidecar.wait_status("fail")
        seeded.restore_datadir(aside)
        # The restored datadir is the same directory (same inode) with the same data.
        body = sidecar.wait_status("pass", timeout=10)
        assert body["checks"]["User:rowCount"][0]["observedValue"] == 14


def test_details_token_hides_details_from_anonymous_callers(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    env = monitor_env(seeded, details_token="tok-123")
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        wait_for(lambda: sidecar.get("/readyz").status_code == 200, 10, "ready")
        anonymous = sidecar.get("/health").json()
        assert anonymous == {"status": "pass"}
        wrong = sidecar.get("/health", headers={"Authorization": "Bearer nope"}).json()
        assert wrong == {"status": "pass"}
        full = sidecar.get("/health", headers={"Authorization": "Bearer tok-123"}).json()
        assert full["checks"]["User:rowCount"][0]["observedValue"] == 14


def test_growth_raises_the_marks_and_keeps_passing(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    env = monitor_env(seeded, state_dir=tmp_path / "state")
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        add_users(seeded, 20, prefix="later")
        wait_for(
            lambda: sidecar.health()["checks"]["User:rowCount"][0].get("highWater") == 34,
            5,
            "high-water mark 34",
        )
        assert sidecar.health()["status"] == "pass"
