"""The command line and HTTP on PostgreSQL: adopt (the sentinel planted by an admin role), the
pin, check, snapshot and verify, events, and `serve` as the compose healthcheck sees it.

The same commands as on MariaDB, on a real cluster, with the sidecar's role SELECT-only.
"""

import os
from pathlib import Path

from sidecar.demo.postgres import SUPERUSER_PASSWORD
from tests.support.postgres_app import MONITOR_PASSWORD, incident, monitor_url
from tests.support.postgres_server import PostgresTestServer
from tests.support.servers import run_cli, running_sidecar, wait_for


def _env(server: PostgresTestServer, state: Path, **extra: str) -> dict[str, str]:
    return {
        "SIDECAR_DB_URL": monitor_url(server),
        "SIDECAR_TABLE": "User",
        "SIDECAR_TIMESTAMP_COLUMN": "createdAt",
        "SIDECAR_MIN_ROWS": "1",
        "SIDECAR_STATE_DIR": str(state),
        "SIDECAR_INTERVAL": "2s",
        "SIDECAR_TIMEOUT": "1s",
        **extra,
    }


def _clean(*texts: str) -> None:
    for text in texts:
        assert MONITOR_PASSWORD not in text and SUPERUSER_PASSWORD not in text


def test_adopt_plants_the_sentinel_and_the_pin_catches_the_incident_without_state(
    cluster: PostgresTestServer, tmp_path: Path
) -> None:
    """adopt as the admin role plants the sentinel and prints a pin naming the cluster; with
    the pin, a new cluster fails even when the state directory was lost with it."""
    password_file = tmp_path / "admin-password"
    password_file.write_text(SUPERUSER_PASSWORD + "\n")
    os.chmod(password_file, 0o600)
    env = _env(cluster, tmp_path / "state")
    admin = cluster.url("postgres")
    adopted = run_cli(
        "adopt", "--plant-sentinel", "--admin-url", admin,
        "--admin-password-file", str(password_file), env=env,
    )  # fmt: skip
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    assert "sentinel planted: _sidecar_identity holds " in adopted.stdout
    pin = next(
        line.removeprefix("SIDECAR_EXPECT_IDENTITY=")
        for line in adopted.stdout.splitlines()
        if line.startswith("SIDECAR_EXPECT_IDENTITY=")
    )
    assert pin.startswith("sentinel=") and ",cluster=" in pin
    _clean(adopted.stdout, adopted.stderr)

    pinned = {**env, "SIDECAR_EXPECT_IDENTITY": pin}
    assert run_cli("check", env=pinned).returncode == 0
    incident(cluster)
    lost = {**pinned, "SIDECAR_STATE_DIR": str(tmp_path / "new-state")}
    caught = run_cli("check", env=lost)
    assert caught.returncode == 2, caught.stdout
    assert "volume:identity" in caught.stdout.splitlines()[0]
    assert "sentinel" in caught.stdout and "cluster" in caught.stdout
    _clean(caught.stdout, caught.stderr)


def test_a_pin_naming_a_source_postgresql_lacks_is_refused(
    cluster: PostgresTestServer, tmp_path: Path
) -> None:
    """`datadir` is MariaDB's: a pin naming it on PostgreSQL would never be compared."""
    env = _env(cluster, tmp_path, SIDECAR_EXPECT_IDENTITY="datadir=20261125T102958Z")
    refused = run_cli("check", env=env)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "SIDECAR_EXPECT_IDENTITY" in refused.stderr and "PostgreSQL" in refused.stderr


def test_snapshot_and_verify_across_a_restart_and_a_new_cluster(
    cluster: PostgresTestServer, tmp_path: Path
) -> None:
    env = _env(cluster, tmp_path / "state")
    snap = tmp_path / "before.json"
    assert run_cli("snapshot", "--out", str(snap), env=env).returncode == 0
    cluster.restart()
    same = run_cli("verify", "--against", str(snap), env=env)
    assert same.returncode == 0, same.stdout + same.stderr
    incident(cluster)
    other = run_cli("verify", "--against", str(snap), env=env)
    assert other.returncode == 2, other.stdout + other.stderr
    assert "cluster" in other.stdout


def test_serve_answers_the_healthcheck_and_fails_on_the_incident(
    cluster: PostgresTestServer, tmp_path: Path
) -> None:
    env = _env(cluster, tmp_path / "state")
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        assert sidecar.get("/health").status_code == 200
        page = sidecar.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "cluster" in page.text
        metrics = sidecar.get("/metrics").text
        assert 'sidecar_table_rows{table="User"} 14' in metrics
        incident(cluster)
        # Not just "fail": while the cluster is swapped the reason is "cannot connect" for a
        # cycle or two; wait for the verdict on the new cluster.
        wait_for(
            lambda: "newly initialised" in sidecar.health()["output"],
            20,
            "the identity's verdict on the new cluster",
            last=sidecar.health,
        )
        assert sidecar.get("/health").status_code == 503
        told = sidecar.get("/", headers={"Accept": "text/html"}).text
        assert "newly initialised" in told, told
        events = run_cli("events", env=env)
        assert events.returncode == 0, events.stderr
        assert "identity" in events.stdout
        log = sidecar.log()
    _clean(log)
