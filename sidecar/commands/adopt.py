"""`sidecar adopt`: the operator's deliberate acceptance of the database as it is now.

After a restore or a planned migration the remembered identity and marks no longer describe
the database, on purpose. `adopt` replaces them with what it sees now (even over a state file
that was reported corrupt), optionally plants the sentinel first, and prints the line to pin
in the compose file.
"""

import asyncio
import dataclasses
import sys

from sidecar.checks import connection
from sidecar.commands.check import evaluate
from sidecar.config import ConfigError, ResolvedConfig
from sidecar.engines import connect
from sidecar.engines.base import DatabaseError
from sidecar.identity import sentinel
from sidecar.identity.pin import pin_text
from sidecar.results import ExitCode
from sidecar.state import Memory, StateError, StateStore
from sidecar.timestamps import iso


async def _plant(config: ResolvedConfig) -> str:
    if config.admin is None:
        raise ConfigError(
            "SIDECAR_ADMIN_URL",
            "is required with --plant-sentinel (an account with CREATE, INSERT)",
        )
    admin = connect(config.admin, config.settings.timeout, read_only=False)
    try:
        return await sentinel.plant(admin)
    finally:
        admin.close()


def adopt(config: ResolvedConfig, plant_sentinel: bool = False) -> int:
    """Record the current identity and marks as the baseline, planting the sentinel first
    with `config.admin` when asked; print the pin line."""
    store = StateStore(config.settings.state_dir)
    # What is there now is what is accepted: an old pin must not stand in the way.
    unpinned = config.model_copy(update={"identity": dataclasses.replace(config.identity, pin={})})
    if plant_sentinel:
        try:
            token = asyncio.run(_plant(config))
        except DatabaseError as exc:
            print(f"sidecar adopt: cannot plant the sentinel: {exc.reason}", file=sys.stderr)
            return int(ExitCode.CRITICAL)
        print(f"sentinel planted: {sentinel.TABLE} holds {token}")
    report, memory = asyncio.run(evaluate(unpinned, Memory()))
    reached = report.result(connection.KEY)
    if reached is not None and reached.output:
        print(f"sidecar adopt: cannot adopt: {reached.output}", file=sys.stderr)
        return int(ExitCode.CRITICAL)
    memory.adopted_at = report.finished
    try:
        store.save(memory, force=True)
    except StateError as exc:
        print(f"sidecar adopt: {exc}", file=sys.stderr)
        return int(ExitCode.CRITICAL)
    where = store.path or "memory only (SIDECAR_STATE_DIR not set: nothing kept)"
    print(f"baseline adopted and written to {where}:")
    for name, table in sorted(memory.tables.items()):
        newest = iso(table.newest) if table.newest is not None else "none"
        print(f"  {name}: high-water {table.high_water} rows, newest record {newest}")
    pin = pin_text(memory.identity)
    if pin:
        print("pin this identity in your compose file / environment:")
        print(f"SIDECAR_EXPECT_IDENTITY={pin}")
    else:
        print(
            "no pinnable identity source: mount the data volume (SIDECAR_DATA_DIR), "
            "plant a sentinel (--plant-sentinel) or set SIDECAR_IDENTITY_QUERY"
        )
    return int(ExitCode.OK)
