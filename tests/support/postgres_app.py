"""The sample app on PostgreSQL (sidecar/demo/postgres_app.py) as the tests seed and watch it:
the monitor role's password a marker that must never appear in output."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sidecar.config import load_settings
from sidecar.demo import postgres_app
from sidecar.demo.postgres import PostgresServer
from sidecar.demo.postgres_app import MONITOR, seed_admin
from sidecar.evaluator import Evaluator
from sidecar.service import build_evaluator

__all__ = ["MONITOR", "seed_admin"]

MONITOR_PASSWORD = "Pg-Mon1tor-Secret-2b7f"  # a unique marker: must never appear in output


def seed(server: PostgresServer, users: int = 14, database: str = "app") -> None:
    """The app database, its schema, `users` users and the monitor role (made once a cluster)."""
    postgres_app.seed(server, MONITOR_PASSWORD, users, database)


def incident(server: PostgresServer) -> Path:
    """The incident: a brand-new cluster, the migrations recreate the schema and seed an admin."""
    aside = server.swap_datadir()
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
