"""What the commands do (sidecar/cli.py, sidecar/commands/) as deploy scripts and Nagios use them.

check, probe, adopt, snapshot, verify against a real server; their `--help` and usage errors are
in tests/test_usage.py.
"""

import json
import re
import time
from pathlib import Path

from sidecar.demo.throwaway import free_port
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import MONITOR_PASSWORD, incident, monitor_env, run_cli, running_sidecar


def test_check_is_a_nagios_plugin(seeded: MariaDBTestServer) -> None:
    result = run_cli("check", env=monitor_env(seeded))
    assert result.returncode == 0, result.stderr
    first, *rest = result.stdout.splitlines()
    assert re.match(r"^SIDECAR OK - 5 checks pass \| ", first), first
    assert "'User:rowCount'=14;;" in first
    assert "'database:connection'=" in first and "ms;;" in first
    assert len(rest) == 5
    assert MONITOR_PASSWORD not in result.stdout + result.stderr


def test_check_exit_codes_follow_monitoring_plugins(seeded: MariaDBTestServer) -> None:
    assert run_cli("check", env=monitor_env(seeded, max_age="1ms")).returncode in (0, 1)
    old = "UPDATE User SET createdAt = createdAt - INTERVAL 2 DAY"
    seeded.execute(old, database="app")
    warn = run_cli("check", env=monitor_env(seeded, max_age="1d"))
    assert warn.returncode == 1 and warn.stdout.startswith("SIDECAR WARNING - ")
    fail = run_cli("check", env=monitor_env(seeded, min_rows=100))
    assert fail.returncode == 2 and fail.stdout.startswith("SIDECAR CRITICAL - ")
    assert "below the floor of 100" in fail.stdout
    assert run_cli("check", env={"SIDECAR_DB_URL": "nope"}).returncode == 3


def test_check_json_is_the_health_document(seeded: MariaDBTestServer) -> None:
    result = run_cli("check", "--json", env=monitor_env(seeded))
    document = json.loads(result.stdout)
    assert document["status"] == "pass"
    assert document["checks"]["User:rowCount"][0]["observedValue"] == 14


def test_check_against_an_unreachable_database_is_critical() -> None:
    env = {"SIDECAR_DB_URL": f"mysql://m:{MONITOR_PASSWORD}@127.0.0.1:{free_port()}/app"}
    result = run_cli("check", env=env)
    assert result.returncode == 2
    assert "cannot connect" in result.stdout
    assert MONITOR_PASSWORD not in result.stdout + result.stderr
    assert "127.0.0.1" not in result.stdout


def test_probe_exit_codes(seeded: MariaDBTestServer, tmp_path: Path) -> None:
    with running_sidecar(monitor_env(seeded), tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        assert run_cli("probe", f"{sidecar.base_url}/readyz").returncode == 0
        env = {"SIDECAR_PORT": str(sidecar.port)}
        assert run_cli("probe", env=env).returncode == 0  # default URL from SIDECAR_PORT
        seeded.stop()
        sidecar.wait_status("fail")
        failing = run_cli("probe", f"{sidecar.base_url}/readyz")
        assert failing.returncode == 1 and "HTTP 503" in failing.stderr
    refused = run_cli("probe", f"http://127.0.0.1:{free_port()}/readyz")
    assert refused.returncode == 1


def test_probe_imports_only_the_standard_library() -> None:
    code = (
        "import sys; from sidecar.cli import main; "
        "sys.argv=['sidecar','probe','http://127.0.0.1:1/']; main(); "
    )
    result = run_cli.__globals__["subprocess"].run(
        [run_cli.__globals__["sys"].executable, "-X", "importtime", "-c", code + "pass"],
        capture_output=True,
        text=True,
        check=False,
    )
    imported = result.stderr
    for heavy in ("starlette", "pydantic", "aiomysql", "uvicorn", "prometheus_client", "httpx"):
        assert f" {heavy}" not in imported, heavy


def test_snapshot_then_verify_across_a_datadir_swap(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    env = monitor_env(seeded, data_dir=seeded.datadir)
    snapshot = tmp_path / "before.json"
    taken = run_cli("snapshot", "--out", str(snapshot), env=env)
    assert taken.returncode == 0, taken.stderr
    assert "User: 14 rows" in taken.stdout
    same = run_cli("verify", "--against", str(snapshot), env=env)
    assert same.returncode == 0, same.stdout
    assert "no change in identity or row counts" in same.stdout
    incident(seeded)
    after = run_cli("verify", "--against", str(snapshot), env=env)
    assert after.returncode == 2, after.stdout
    assert "User rows 14 -> 1 (-93%)" in after.stdout
    assert "identity inode changed" in after.stdout
    assert "identity datadir changed" in after.stdout
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    assert run_cli("verify", "--against", str(broken), env=env).returncode == 3


def test_adopt_after_a_restore_accepts_the_new_database(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    env = monitor_env(seeded, data_dir=seeded.datadir, state_dir=tmp_path / "state")
    assert run_cli("check", env=env).returncode == 0
    incident(seeded)  # stands in for a restore from backup onto a new datadir
    assert run_cli("check", env=env).returncode == 2
    adopted = run_cli("adopt", env=env)
    assert adopted.returncode == 0, adopted.stderr
    pin = [
        line for line in adopted.stdout.splitlines() if line.startswith("SIDECAR_EXPECT_IDENTITY=")
    ]
    assert len(pin) == 1 and "inode=" in pin[0]
    after = run_cli("check", env=env)
    assert after.returncode == 0, after.stdout
    pinned = run_cli("check", env={**env, "SIDECAR_EXPECT_IDENTITY": pin[0].partition("=")[2]})
    assert pinned.returncode == 0, pinned.stdout


def test_demo_replays_the_incident(tmp_path: Path) -> None:
    port = free_port()
    began = time.monotonic()
    result = run_cli(
        "demo",
        "--incident",
        "--incident-after",
        "3",
        "--duration",
        "9",
        "--port",
        str(port),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"http://127.0.0.1:{port}/health" in out
    assert "verdict PASS" in out
    assert "INCIDENT" in out
    assert "verdict FAIL" in out and "newly initialised" in out
    assert "down 93% from the remembered 14" in out
    assert time.monotonic() - began < 40


ADMIN_PASSWORD = "Adm1n-Secret-4f2b"  # a unique marker: must never appear in output


def test_adopt_plants_the_sentinel_with_the_admin_account_from_its_settings(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    """The admin URL is a flag without a password; the password comes from its file."""
    seeded.execute(
        f"CREATE USER planter@'127.0.0.1' IDENTIFIED BY '{ADMIN_PASSWORD}'",
        "GRANT CREATE, INSERT, SELECT ON app.* TO planter@'127.0.0.1'",
    )
    password_file = tmp_path / "admin-pw"
    password_file.write_text(ADMIN_PASSWORD + "\n")
    env = monitor_env(seeded, state_dir=tmp_path / "state")
    admin = seeded.url("planter")
    planted = run_cli(
        "adopt",
        "--plant-sentinel",
        "--admin-url",
        admin,
        env={**env, "SIDECAR_ADMIN_PASSWORD_FILE": str(password_file)},
    )
    assert planted.returncode == 0, planted.stdout + planted.stderr
    (token,) = seeded.execute("SELECT id FROM _sidecar_identity", database="app")[0]
    assert f"sentinel planted: _sidecar_identity holds {token}" in planted.stdout
    assert "sentinel=" in planted.stdout  # pinned with the rest
    assert ADMIN_PASSWORD not in planted.stdout + planted.stderr
    # ... and as variables alone, the password file given as a flag
    again = run_cli(
        "adopt",
        "--plant-sentinel",
        "--admin-password-file",
        str(password_file),
        env={**env, "SIDECAR_ADMIN_URL": admin},
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert ADMIN_PASSWORD not in again.stdout + again.stderr


def test_adopts_admin_settings_are_refused_in_one_line(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    env = monitor_env(seeded, state_dir=tmp_path / "state")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    cases = {
        "SIDECAR_ADMIN_URL: is required with --plant-sentinel": {},
        "SIDECAR_ADMIN_URL: must name the same database as SIDECAR_DB_URL (app)": {
            "SIDECAR_ADMIN_URL": seeded.url("root", database="other")
        },
        f"SIDECAR_ADMIN_PASSWORD_FILE: {empty} is empty": {
            "SIDECAR_ADMIN_URL": seeded.url("root"),
            "SIDECAR_ADMIN_PASSWORD_FILE": str(empty),
        },
        "SIDECAR_ADMIN_URL: names no database": {
            "SIDECAR_ADMIN_URL": f"mysql://root:{ADMIN_PASSWORD}@127.0.0.1/"
        },
    }
    for message, extra in cases.items():
        result = run_cli("adopt", "--plant-sentinel", env={**env, **extra})
        assert result.returncode == 3, (message, result)
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"sidecar: invalid configuration: {message}"), (message, line)
        assert result.stdout == "" and ADMIN_PASSWORD not in line
    assert seeded.execute("SHOW TABLES LIKE '\\_sidecar\\_identity'", database="app") == []
