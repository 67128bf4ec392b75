"""A bench-owned MariaDB with `User`-like tables of 10k, 1M, 10M rows, cached between runs.

Seeding 10M rows takes minutes, so the datadir lives under a fixed directory in /tmp and is
reused when it already holds a table of the wanted size. The server is the test suite's
`MariaDBServer`, given a bigger buffer pool at run time (it is resizable online).
"""

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pymysql

from sidecar.demo.mariadb import MariaDBServer
from tests.support.mariadb import MariaDBTestServer

DATABASE = "bench"
MONITOR = ("bench_monitor", "Bench-Scheduler-2f9")
BUFFER_POOL = 2 * 1024**3
# One INSERT ... SELECT per million rows keeps each transaction's undo log modest.
CHUNK = 1_000_000

TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS {name} ("
    " id INT AUTO_INCREMENT PRIMARY KEY,"
    " email VARCHAR(191) NOT NULL,"
    " createdAt DATETIME(3) NOT NULL,"
    " INDEX (createdAt)"
    ") ENGINE=InnoDB"
)


def run(server: MariaDBServer, sql: str) -> list[tuple[Any, ...]]:
    """One statement as root in the bench database, allowed to take minutes (seeding)."""
    conn = pymysql.connect(
        host="127.0.0.1",
        port=server.port,
        user="root",
        database=DATABASE,
        autocommit=True,
        read_timeout=1800,
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        conn.close()


def table_name(rows: int) -> str:
    """`User_10000`, `User_1000000`, ... one table per size."""
    return f"User_{rows}"


@contextlib.contextmanager
def bench_server(base: Path) -> Iterator[MariaDBTestServer]:
    """A running server on `base` (datadir reused if present), stopped on the way out."""
    base.mkdir(parents=True, exist_ok=True)
    for stale in ("mariadb.sock", "mariadbd.pid"):
        (base / stale).unlink(missing_ok=True)
    server = MariaDBTestServer(base)
    server.start(timeout=120)
    try:
        server.execute(
            f"SET GLOBAL innodb_buffer_pool_size = {BUFFER_POOL}",
            f"CREATE DATABASE IF NOT EXISTS {DATABASE}",
        )
        yield server
    finally:
        server.stop()


def ensure_table(server: MariaDBServer, rows: int, log: Callable[[str], None]) -> str:
    """Make `User_<rows>` hold exactly `rows` rows (seeding only when it does not yet)."""
    name = table_name(rows)
    run(server, TABLE_DDL.format(name=name))
    have = run(server, f"SELECT COUNT(*) FROM {name}")[0][0]
    if have == rows:
        return name
    log(f"seeding {name}: {rows} rows (cached under {server.base} for later runs)")
    run(server, f"TRUNCATE TABLE {name}")
    done = 0
    while done < rows:
        step = min(CHUNK, rows - done)
        # seq_1_to_N comes from MariaDB's built-in Sequence engine: no client round trips.
        run(
            server,
            f"INSERT INTO {name} (email, createdAt) "
            f"SELECT CONCAT('user', seq + {done}, '@example.com'), "
            f"TIMESTAMP'2024-01-01 00:00:00' + INTERVAL (seq + {done}) SECOND "
            f"FROM seq_1_to_{step}",
        )
        done += step
    run(server, f"ANALYZE TABLE {name}")
    return name


def warm(server: MariaDBServer, name: str) -> None:
    """Read the table once so every measurement sees the buffer pool warm."""
    run(server, f"SELECT COUNT(*) FROM {name}")


def add_monitor(server: MariaDBServer) -> str:
    """A SELECT-only account on the bench database; its URL."""
    user, password = MONITOR
    server.execute(
        f"CREATE USER IF NOT EXISTS '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'",
        f"GRANT SELECT ON {DATABASE}.* TO '{user}'@'127.0.0.1'",
        f"GRANT SELECT ON mysql.gtid_slave_pos TO '{user}'@'127.0.0.1'",
    )
    return server.url(user, password, DATABASE)


def sidecar_env(url: str, table: str, state: Path) -> dict[str, str]:
    """`SIDECAR_*` settings for a sidecar watching `table` with a fast cycle."""
    return {
        "SIDECAR_DB_URL": url,
        "SIDECAR_TABLE": table,
        "SIDECAR_TIMESTAMP_COLUMN": "createdAt",
        "SIDECAR_STATE_DIR": str(state),
        "SIDECAR_INTERVAL": "1s",
        "SIDECAR_TIMEOUT": "500ms",
        "SIDECAR_LOG_LEVEL": "warning",
    }
