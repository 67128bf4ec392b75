"""The compose stack's backup job (compose/backup/backup.sh) and its account
(compose/initdb/20-backup-user.sh), run on the host against a real MariaDB server.

The scripts are the ones the containers run: the account script is sourced by bash with
`docker_process_sql` defined as the image's entrypoint defines it (root over the socket), and
the job runs the real `mariadb-dump` and `gzip`. Its dumps are read back with the sidecar's own
counter. The end-to-end runs (tests/e2e) prove the same job inside the compose stack.
"""

import os
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.backups.dump import count_rows
from sidecar.demo.throwaway import free_port
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import monitor_env, running_sidecar, wait_for

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
BACKUP_SH = COMPOSE / "backup" / "backup.sh"
ACCOUNT_SH = COMPOSE / "initdb" / "20-backup-user.sh"
PASSWORD = "Backup-Secret-'q\\7"  # a quote and a backslash: the script escapes both


@pytest.fixture
def backup_account(seeded: MariaDBTestServer, tmp_path: Path) -> Path:
    """The backup account created by the initdb script; the file holding its password."""
    password_file = tmp_path / "backup_db_password.txt"
    password_file.write_text(PASSWORD + "\n")
    # A view and a trigger: dumping them needs SHOW VIEW and TRIGGER.
    seeded.execute(
        "CREATE VIEW recent_users AS SELECT id, email FROM User",
        "CREATE TRIGGER user_email_lower BEFORE INSERT ON User"
        " FOR EACH ROW SET NEW.email = LOWER(NEW.email)",
        database="app",
    )
    script = (
        f'docker_process_sql() {{ mariadb --socket="$SOCKET" -uroot "$@"; }}\n. "{ACCOUNT_SH}"\n'
    )
    env = {
        **os.environ,
        "SOCKET": str(seeded.socket),
        "MARIADB_DATABASE": "app",
        "BACKUP_PASSWORD_FILE": str(password_file),
    }
    subprocess.run(["bash", "-c", script], env=env, check=True, timeout=60)
    return password_file


def job_env(
    server: MariaDBTestServer, password_file: Path, backups: Path, **extra: str
) -> dict[str, str]:
    """The backup service's environment (compose.yaml), pointed at the test's server."""
    return {
        **os.environ,
        "DB_HOST": "127.0.0.1",
        "MYSQL_TCP_PORT": str(server.port),  # the client's own variable: no flag in the script
        "DB_NAME": "app",
        "DB_USER": "backup",
        "DB_PASSWORD_FILE": str(password_file),
        "BACKUP_DIR": str(backups),
        **extra,
    }


def run_job(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(BACKUP_SH), *args], env=env, capture_output=True, text=True, timeout=120
    )


def dumps(backups: Path) -> list[str]:
    return sorted(p.name for p in backups.iterdir())


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    directory = tmp_path / "backups"
    directory.mkdir()
    return directory


def test_one_dump_holds_every_user_and_is_readable_by_its_owner_only(
    seeded: MariaDBTestServer, backup_account: Path, backups: Path
) -> None:
    done = run_job(job_env(seeded, backup_account, backups), "once")
    assert done.returncode == 0, done.stderr
    (name,) = dumps(backups)  # no partial file left beside it
    assert name.startswith("app-") and name.endswith("Z.sql.gz")
    path = backups / name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    count = count_rows(path, ["User"], "app")
    assert count.problem is None and count.rows("User") == 14
    text = subprocess.run(["zcat", str(path)], capture_output=True, check=True).stdout
    assert b"TRIGGER user_email_lower" in text and b"VIEW `recent_users`" in text
    assert PASSWORD.encode() not in text and PASSWORD not in done.stdout + done.stderr
    assert f"wrote {path}" in done.stdout


def test_the_backup_account_reads_the_app_database_and_nothing_else(
    seeded: MariaDBTestServer, backup_account: Path
) -> None:
    grants = seeded.execute("SHOW GRANTS FOR 'backup'@'%'")
    assert [g[0].split(" IDENTIFIED")[0] for g in grants] == [
        "GRANT USAGE ON *.* TO `backup`@`%`",
        "GRANT SELECT, SHOW VIEW, TRIGGER ON `app`.* TO `backup`@`%`",
    ]
    conn = seeded.connect(user="backup", password=PASSWORD)
    try:
        with conn.cursor() as cursor:
            for statement in (
                "INSERT INTO app.User (email) VALUES ('x@example.com')",
                "SELECT * FROM mysql.user",
            ):
                with pytest.raises(Exception, match="denied"):
                    cursor.execute(statement)
    finally:
        conn.close()


def test_without_a_sidecar_to_ask_nothing_is_removed_and_the_log_says_so(
    seeded: MariaDBTestServer, backup_account: Path, backups: Path
) -> None:
    older = [f"app-2025-11-2{day}T060000Z.sql.gz" for day in range(3, 7)]
    for name in older:
        (backups / name).write_bytes(b"")
    env = job_env(seeded, backup_account, backups, BACKUP_KEEP="3")
    env["SIDECAR_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = run_job(env, "once")
    assert done.returncode == 0, done.stderr
    assert set(older) < set(dumps(backups)) and len(dumps(backups)) == 5
    assert (
        "removed nothing: cannot ask the sidecar which dump still holds the data"
        f" (no answer from {env['SIDECAR_URL']})"
    ) in done.stdout


def settle(backups: Path) -> None:
    """An hour passes for every dump: the sidecar judges only dumps that stopped changing."""
    for path in backups.iterdir():
        mtime = path.stat().st_mtime - 3600
        os.utime(path, (mtime, mtime))


def test_rotation_never_removes_the_last_dump_holding_the_remembered_rows(
    seeded: MariaDBTestServer, backup_account: Path, backups: Path, tmp_path: Path
) -> None:
    """The incident: one good dump, then the rows are gone and every later dump holds 1 user.
    With BACKUP_KEEP=2 the bad dumps rotate; the good one stays, because the sidecar says so
    (asked with its details token, as the stack would)."""
    token = tmp_path / "details_token.txt"
    token.write_text("Details-Token-93\n")
    others = ["app-manual.sql.gz", "other-2025-11-20T060000Z.sql.gz", "notes.txt"]
    for name in others:
        (backups / name).write_bytes(b"")
    env = monitor_env(
        seeded, state_dir=tmp_path / "state", backup_dir=backups, details_token_file=token
    )
    auth = {"Authorization": "Bearer Details-Token-93"}
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("warn")  # the marks are taken; no backup yet
        job = job_env(seeded, backup_account, backups, BACKUP_KEEP="2")
        job |= {"SIDECAR_URL": sidecar.base_url, "SIDECAR_DETAILS_TOKEN_FILE": str(token)}

        def dump_and_wait(status: str) -> tuple[str, str]:
            done = run_job(job, "once")
            assert done.returncode == 0, done.stderr
            settle(backups)
            newest = max(n for n in dumps(backups) if n.startswith("app-2"))

            def judged() -> bool:
                body = sidecar.get("/health", headers=auth).json()
                (rows,) = body["checks"]["User:backupRows"]
                # A failing dump is judged first, its restore candidate found a count later.
                vouched = status == "pass" or "restoreCandidate" in rows
                return bool(rows.get("backup") == newest and rows["status"] == status and vouched)

            wait_for(judged, 60, f"the sidecar to judge {newest} {status}")
            return newest, done.stdout

        good, _ = dump_and_wait("pass")
        seeded.execute("DELETE FROM User WHERE id > 1", database="app")
        logs = [dump_and_wait("fail")[1] for _ in range(4)]
    mine = [n for n in dumps(backups) if n.startswith("app-2")]
    assert good in mine and len(mine) == 3, (mine, logs)  # the good one, the newest two bad
    assert set(others) <= set(dumps(backups))
    assert (
        f"kept {backups / good}: the newest dump the sidecar says still holds the data"
        in (logs[-1])
    )
    assert all(count_rows(backups / n, ["User"], "app").rows("User") == 1 for n in mine[1:])
    assert "Details-Token-93" not in "".join(logs)


def test_a_failed_dump_leaves_nothing_and_removes_nothing(
    seeded: MariaDBTestServer, backup_account: Path, backups: Path, tmp_path: Path
) -> None:
    kept = ["app-2025-11-25T060000Z.sql.gz", "app-2025-11-26T060000Z.sql.gz"]
    for name in kept:
        (backups / name).write_bytes(b"")
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the password\n")
    done = run_job(job_env(seeded, wrong, backups, BACKUP_KEEP="1"), "once")
    assert done.returncode != 0
    assert dumps(backups) == kept
    assert "dump of app failed; nothing was rotated" in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"BACKUP_INTERVAL": "soon"}, "not a duration: 'soon' (e.g. 90s, 15m, 24h, 2d)"),
        ({"BACKUP_KEEP": "0"}, "BACKUP_KEEP must be a positive number, not '0'"),
    ],
)
def test_bad_settings_are_refused_in_one_line(
    tmp_path: Path, backups: Path, setting: dict[str, str], message: str
) -> None:
    env = {**os.environ, "DB_NAME": "app", "BACKUP_DIR": str(backups), **setting}
    done = run_job(env)
    assert done.returncode == 2
    assert done.stderr.strip().endswith(f"backup: {message}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.fixture
def loop(
    seeded: MariaDBTestServer, backup_account: Path, backups: Path
) -> Iterator[subprocess.Popen[str]]:
    """The job as the service runs it: a dump at start, then one every second."""
    env = job_env(seeded, backup_account, backups, BACKUP_INTERVAL="1s")
    proc = subprocess.Popen(
        ["bash", str(BACKUP_SH)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def test_the_loop_dumps_at_start_and_every_interval_and_stops_on_sigterm(
    loop: subprocess.Popen[str], backups: Path
) -> None:
    deadline = time.monotonic() + 60
    while len([n for n in dumps(backups) if n.endswith(".sql.gz")]) < 2:
        assert loop.poll() is None, loop.communicate()
        assert time.monotonic() < deadline, dumps(backups)
        time.sleep(0.2)
    loop.send_signal(signal.SIGTERM)
    out, err = loop.communicate(timeout=30)
    assert loop.returncode == 0, err
    assert "every 1s, keeping the newest 14" in out and out.rstrip().endswith("backup: stopping")
