"""The registry of checks: which exist, and which a configuration turns on.

Adding a check is adding a module beside these and a line to `build_checks`. Each check gets
only its slice of the configuration.
"""

from typing import Any

from sidecar.checks.backups import backup_checks
from sidecar.checks.base import Check
from sidecar.checks.connection import ConnectionCheck
from sidecar.checks.latest_record import LatestRecordCheck
from sidecar.checks.privileges import PrivilegesCheck
from sidecar.checks.row_count import RowCountCheck
from sidecar.checks.volume_identity import VolumeIdentityCheck
from sidecar.config import ResolvedConfig
from sidecar.engines import dialect_of
from sidecar.identity.registry import build_sources

__all__ = ["Check", "build_checks"]


def build_checks(config: ResolvedConfig) -> list[Check[Any]]:
    """The checks for `config`, in the order they are reported."""
    checks: list[Check[Any]] = [ConnectionCheck(config.settings.timeout), PrivilegesCheck()]
    for table in config.tables:
        checks.append(RowCountCheck(table))
        if table.timestamp_column is not None:
            checks.append(LatestRecordCheck(table))
    sources = build_sources(config.identity, dialect_of(config.db))
    checks.append(VolumeIdentityCheck(sources, config.identity))
    if config.backups is not None:
        checks += backup_checks(config.backups, config.tables, config.db.database)
    return checks
