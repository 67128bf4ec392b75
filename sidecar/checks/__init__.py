"""The registry of checks: which exist, and which a configuration turns on.

Adding a check is adding a module beside these and a line to `build_checks`.
"""

from sidecar.checks.base import Check, CycleContext
from sidecar.checks.connection import ConnectionCheck
from sidecar.checks.latest_record import LatestRecordCheck
from sidecar.checks.privileges import PrivilegesCheck
from sidecar.checks.row_count import RowCountCheck
from sidecar.checks.volume_identity import VolumeIdentityCheck
from sidecar.config import ResolvedConfig
from sidecar.identity.fingerprint import parse_pin

__all__ = ["Check", "CycleContext", "build_checks"]


def build_checks(config: ResolvedConfig) -> list[Check]:
    """The checks for `config`, in the order they are reported."""
    checks: list[Check] = [ConnectionCheck(), PrivilegesCheck()]
    for table in config.tables:
        checks.append(RowCountCheck(table))
        if table.timestamp_column is not None:
            checks.append(LatestRecordCheck(table))
    pin = config.settings.expect_identity
    checks.append(VolumeIdentityCheck(parse_pin(pin) if pin else None))
    return checks
