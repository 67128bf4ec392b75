"""The throwaway PostgreSQL cluster, and what PostgreSQL itself says about a cluster's identity.

These pin, on real clusters, the facts the PostgreSQL engine will stand on: a role with nothing
but `SELECT` on the app tables reads `pg_control_system()`; its `system_identifier` survives a
restart and every kind of DDL and maintenance, and a new cluster on the same port has another.
"""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.demo.postgres import bin_dir, orphaned_clusters, sweep_orphaned_clusters
from sidecar.demo.throwaway import ServerError, started_at
from tests.support.postgres_server import PostgresTestServer

MONITOR = "monitor"
MONITOR_PASSWORD = "Pg-Mon1tor-Secret-2b7f"


def _seed(server: PostgresTestServer) -> None:
    """An app database with a Prisma-style "User" table and a SELECT-only monitor role."""
    server.psql("CREATE DATABASE app")
    server.psql(
        'CREATE TABLE "User" (id serial PRIMARY KEY, email text NOT NULL,'
        ' "createdAt" timestamptz NOT NULL DEFAULT now())',
        "INSERT INTO \"User\" (email) SELECT 'u' || g || '@example.com'"
        " FROM generate_series(1, 14) g",
        f"CREATE ROLE {MONITOR} LOGIN PASSWORD '{MONITOR_PASSWORD}'",
        f"GRANT CONNECT ON DATABASE app TO {MONITOR}",
        f"GRANT USAGE ON SCHEMA public TO {MONITOR}",
        f'GRANT SELECT ON "User" TO {MONITOR}',
        database="app",
    )


def _as_monitor(server: PostgresTestServer, statement: str) -> str:
    done = subprocess.run(
        [str(bin_dir() / "psql"), "-X", "-At", "-h", "127.0.0.1", "-p", str(server.port),
         "-U", MONITOR, "-d", "app", "-c", statement],
        capture_output=True, text=True, timeout=30, check=False,
        env={"PATH": os.environ["PATH"], "PGPASSWORD": MONITOR_PASSWORD},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _system_identifier(server: PostgresTestServer) -> str:
    return _as_monitor(server, "SELECT system_identifier FROM pg_control_system()")


def test_a_select_only_role_reads_the_cluster_identifier_and_it_survives_maintenance(
    postgres: PostgresTestServer,
) -> None:
    _seed(postgres)
    # the role can read the app table and nothing more, and still sees the identifier
    assert _as_monitor(postgres, 'SELECT count(*) FROM "User"') == "14"
    first = _system_identifier(postgres)
    assert first.isdigit() and int(first) > 0
    database_oid = _as_monitor(postgres, "SELECT oid FROM pg_database WHERE datname = 'app'")
    benign = [
        'VACUUM FULL "User"',
        'ALTER TABLE "User" ADD COLUMN nickname text',
        'ALTER TABLE "User" ALTER COLUMN email TYPE varchar(320)',  # rewrites the table
        'CLUSTER "User" USING "User_pkey"',
        'REINDEX TABLE "User"',
        'ANALYZE "User"',
        'DELETE FROM "User" WHERE id = 14',
    ]
    for statement in benign:
        postgres.psql(statement, database="app")
        assert _system_identifier(postgres) == first, statement
    postgres.restart()
    assert _system_identifier(postgres) == first
    # the database's own OID is the same across all of it too (a new database would not be)
    assert (
        _as_monitor(postgres, "SELECT oid FROM pg_database WHERE datname = 'app'") == database_oid
    )


def test_a_new_cluster_on_the_same_port_has_another_identifier(
    postgres: PostgresTestServer,
) -> None:
    _seed(postgres)
    before = _system_identifier(postgres)
    port = postgres.port
    aside = postgres.swap_datadir()
    assert aside.is_dir() and postgres.port == port
    _seed(postgres)  # the app's migrations, run again on the empty cluster
    assert _system_identifier(postgres) != before
    assert _as_monitor(postgres, 'SELECT count(*) FROM "User"') == "14"


def test_a_hung_cluster_answers_nothing_until_resumed(postgres: PostgresTestServer) -> None:
    postgres.pause()
    try:
        with pytest.raises(ServerError, match="timed out"):
            postgres.psql("SELECT 1", timeout=2)
    finally:
        postgres.resume()
    assert postgres.psql("SELECT 1") == "1"


def test_the_clusters_of_a_sigkilled_run_are_swept_and_a_live_runs_are_not(
    postgres: PostgresTestServer,
) -> None:
    # our own cluster's owner is alive: never named
    assert postgres.process is not None and postgres.process.pid not in orphaned_clusters()
    code = (
        "import time; from sidecar.demo.postgres import PostgresServer\n"
        "s = PostgresServer(); s.start(); print(s.process.pid, s.base, flush=True)\n"
        "time.sleep(600)\n"
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert owner.stdout is not None
    pid_text, base = owner.stdout.readline().split()
    postmaster = int(pid_text)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    try:
        assert postmaster in orphaned_clusters()
        assert postmaster in sweep_orphaned_clusters()
        assert started_at(postmaster) is None  # gone (or a zombie no one reaps), not running
        assert postgres.psql("SELECT 1") == "1"  # ours still runs
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_as_root_without_the_server_user_nothing_is_made_and_it_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL refuses root; with no user to run it as, one clear line and no directory."""
    if os.geteuid() != 0:
        pytest.skip("as an unprivileged user the cluster runs as that user")
    monkeypatch.setattr("sidecar.demo.postgres.RUN_AS", "no-such-user-7f3a")
    base = tmp_path / "postgres"
    with pytest.raises(ServerError) as refused:
        PostgresTestServer(base=base)
    assert str(refused.value) == (
        "PostgreSQL refuses to run as root and there is no 'no-such-user-7f3a' user to run it"
        " as: create one (useradd --system no-such-user-7f3a) or run this as an unprivileged user"
    )
    assert not base.exists()
