"""The sample app database of `sidecar demo` and the tests: what a Prisma app would have.

A `User` table with a `createdAt` column, a monitoring account with `SELECT` on the app
database only (and, optionally, on `mysql.gtid_slave_pos` for the `datadir` source), and users.
"""

from collections.abc import Sequence
from datetime import datetime

from sidecar.demo.mariadb import MariaDBServer

DATABASE = "app"
MONITOR_USER = "monitor"

USER_TABLE = (
    "CREATE TABLE User (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(191) NOT NULL UNIQUE,"
    " createdAt DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), INDEX (createdAt))"
)


def seed(
    server: MariaDBServer,
    monitor_password: str,
    users: int = 14,
    grant_datadir: bool = True,
    created: Sequence[datetime] = (),
) -> None:
    """The app database, a least-privilege monitor account and `users` users."""
    account = f"'{MONITOR_USER}'@'127.0.0.1'"
    statements = [
        f"CREATE DATABASE IF NOT EXISTS {DATABASE}",
        f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{monitor_password}'",
        f"GRANT SELECT ON {DATABASE}.* TO {account}",
    ]
    if grant_datadir:
        statements.append(f"GRANT SELECT ON mysql.gtid_slave_pos TO {account}")
    server.execute(*statements)
    server.execute(USER_TABLE, database=DATABASE)
    add_users(server, users, created=created)


def add_users(
    server: MariaDBServer, count: int, prefix: str = "user", created: Sequence[datetime] = ()
) -> None:
    """Insert `count` users with distinct emails (created now, or at the times in `created`)."""
    if count <= 0:
        return
    start = server.execute("SELECT COALESCE(MAX(id), 0) FROM User", database=DATABASE)[0][0]
    rows = []
    for i in range(1, count + 1):
        email = f"'{prefix}{start + i}@example.com'"
        if i <= len(created):
            rows.append(f"({email}, '{created[i - 1].strftime('%Y-%m-%d %H:%M:%S')}')")
        else:
            rows.append(f"({email}, CURRENT_TIMESTAMP(3))")
    server.execute(
        f"INSERT INTO User (email, createdAt) VALUES {', '.join(rows)}", database=DATABASE
    )


def seed_admin(server: MariaDBServer) -> None:
    """What the app's migrations seed into an empty database: one admin user."""
    server.execute("INSERT INTO User (email) VALUES ('admin@example.com')", database=DATABASE)
