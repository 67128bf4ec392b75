"""The sample app on PostgreSQL: what Prisma's migrations make, and a SELECT-only monitor role.

The same shape as the MariaDB sample (mariadb_app.py): a `"User"` table named as Prisma names it
(quoted, so case-sensitive), its `"createdAt"` a `timestamp(3)`, and a monitor role with
`SELECT` on the app's tables and nothing else.
"""

from collections.abc import Sequence
from datetime import datetime

from sidecar.demo.postgres import PostgresServer

DATABASE = "app"
MONITOR = "monitor"

SCHEMA = (
    'CREATE TABLE "User" (id serial PRIMARY KEY, email text NOT NULL UNIQUE,'
    " \"createdAt\" timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))",
    'CREATE INDEX "User_createdAt_idx" ON "User" ("createdAt")',
)


def seed(
    server: PostgresServer,
    monitor_password: str,
    users: int = 14,
    database: str = DATABASE,
    created: Sequence[datetime] = (),
) -> None:
    """The app database, its schema, `users` users (created a minute apart up to now, or at the
    times in `created`) and the monitor role (made once a cluster)."""
    server.psql(f"CREATE DATABASE {database}")
    exists = server.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{MONITOR}'")
    statements = list(SCHEMA)
    if created:
        rows = ", ".join(
            f"('user{i}@example.com', '{at.strftime('%Y-%m-%d %H:%M:%S')}')"
            for i, at in enumerate(created[:users], start=1)
        )
        statements.append(f'INSERT INTO "User" (email, "createdAt") VALUES {rows}')
    elif users:
        statements.append(
            "INSERT INTO \"User\" (email, \"createdAt\") SELECT 'user' || g || '@example.com',"
            " (now() AT TIME ZONE 'UTC') - (g || ' minutes')::interval"
            f" FROM generate_series(1, {users}) g"
        )
    if not exists:
        statements.append(f"CREATE ROLE {MONITOR} LOGIN PASSWORD '{monitor_password}'")
    statements += [
        f"GRANT CONNECT ON DATABASE {database} TO {MONITOR}",
        f"GRANT USAGE ON SCHEMA public TO {MONITOR}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {MONITOR}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {MONITOR}",
    ]
    server.psql(*statements, database=database)


def seed_admin(server: PostgresServer, database: str = DATABASE) -> None:
    """What the app's migrations seed on an empty database: one admin."""
    server.psql("INSERT INTO \"User\" (email) VALUES ('admin@example.com')", database=database)
