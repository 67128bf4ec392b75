"""The sample app on PostgreSQL: what Prisma's migrations make, and a SELECT-only monitor role.

The same shape as the MariaDB sample (sidecar/sample_app.py): a `"User"` table named as Prisma
names it (quoted, so case-sensitive), its `"createdAt"` a `timestamp(3)`, and a monitor role
with `SELECT` on the app's tables and nothing else.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sidecar.config import load_settings
from sidecar.evaluator import Evaluator
from sidecar.service import build_evaluator
from tests.support.postgres_server import PostgresServer

MONITOR = "monitor"
MONITOR_PASSWORD = "Pg-Mon1tor-Secret-2b7f"  # a unique marker: must never appear in output

SCHEMA = (
    'CREATE TABLE "User" (id serial PRIMARY KEY, email text NOT NULL UNIQUE,'
    " \"createdAt\" timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))",
    'CREATE INDEX "User_createdAt_idx" ON "User" ("createdAt")',
)


def seed(server: PostgresServer, users: int = 14, database: str = "app") -> None:
    """The app database, its schema, `users` users and the monitor role (made once a cluster)."""
    server.psql(f"CREATE DATABASE {database}")
    exists = server.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{MONITOR}'")
    statements = list(SCHEMA)
    if users:
        statements.append(
            "INSERT INTO \"User\" (email, \"createdAt\") SELECT 'user' || g || '@example.com',"
            " (now() AT TIME ZONE 'UTC') - (g || ' minutes')::interval"
            f" FROM generate_series(1, {users}) g"
        )
    if not exists:
        statements.append(f"CREATE ROLE {MONITOR} LOGIN PASSWORD '{MONITOR_PASSWORD}'")
    statements += [
        f"GRANT CONNECT ON DATABASE {database} TO {MONITOR}",
        f"GRANT USAGE ON SCHEMA public TO {MONITOR}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {MONITOR}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {MONITOR}",
    ]
    server.psql(*statements, database=database)


def seed_admin(server: PostgresServer) -> None:
    """What the app's migrations seed on an empty database: one admin."""
    server.psql("INSERT INTO \"User\" (email) VALUES ('admin@example.com')", database="app")


def incident(server: PostgresServer) -> Path:
    """The incident: a brand-new cluster, the migrations recreate the schema and seed an admin."""
    aside = server.swap_cluster()
    seed(server, users=0)
    seed_admin(server)
    return aside


def monitor_url(server: PostgresServer) -> str:
    """The sidecar's `SIDECAR_DB_URL`: the SELECT-only role."""
    return server.url(MONITOR, MONITOR_PASSWORD)


def evaluator_for(
    server: PostgresServer, state_dir: Path | None = None, **settings: Any
) -> Evaluator:
    """An evaluator watching "User" as the monitor role, as `sidecar serve` builds it."""
    values: dict[str, Any] = {
        "db_url": monitor_url(server),
        "table": "User",
        "timestamp_column": "createdAt",
        "min_rows": 1,
        "interval": "2s",
        "timeout": "2s",
        "state_dir": str(state_dir) if state_dir else None,
    }
    values.update(settings)
    return build_evaluator(load_settings(values))


def statuses(report: Any) -> Iterator[tuple[str, str]]:
    """(key, status) of every check in a report."""
    for result in report.checks:
        yield result.key, str(result.status)
