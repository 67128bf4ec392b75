"""`volume:identity`: is this the storage we saw before (or were told to expect)?

Readings come from every source at hand (identity/*.py); the check compares them with the
pin (`SIDECAR_EXPECT_IDENTITY`) and with the remembered baseline, names each source that
changed, and says so plainly when the database looks newly initialised: that is the incident.
The baseline is recorded on first use and never replaced silently; `sidecar adopt` replaces it.
"""

import asyncio
from typing import Any

from sidecar.checks.base import CycleContext
from sidecar.durations import format_duration
from sidecar.identity import datadir, fingerprint, lineage, mount, schema, sentinel
from sidecar.identity.reading import Absence, Reading
from sidecar.results import CheckResult, Status
from sidecar.state import Memory


async def read_all(ctx: CycleContext) -> list[Reading]:
    """Readings of every identity source, the database ones concurrently."""
    settings = ctx.config.settings
    from_db = await asyncio.gather(
        sentinel.read(ctx.db),
        lineage.read(ctx.db, settings.identity_query),
        datadir.read(ctx.db),
        schema.read(ctx.db),
    )
    return [*mount.read(settings.data_dir), *from_db]


def newly_initialised(readings: list[Reading], since: float | None, now: float) -> str:
    """A clause saying the database looks newly initialised, or '' when it does not."""
    values = fingerprint.observed_values(readings)
    born: float | None = None
    what = ""
    if "datadir" in values:
        born, what = datadir.parse_compact(values["datadir"]), "datadir initialised"
    elif "schema" in values:
        born, what = min(values["schema"].values()), "every table created"
    if born is None:
        return ""
    recent = now - born < 86400 or (since is not None and born > since)
    if not recent:
        return ""
    return (
        f"; the database looks newly initialised ({what} "
        f"{format_duration(max(0, round(now - born)))} ago)"
    )


class VolumeIdentityCheck:
    """Fingerprint of the storage, compared with the pin and the remembered baseline."""

    key = "volume:identity"
    unit = "fingerprint"

    def __init__(self, pin: dict[str, str] | None) -> None:
        self.pin = pin

    async def run(self, ctx: CycleContext) -> CheckResult:
        """Read the sources, compare, and record or extend the baseline when all is well."""
        memory = ctx.memory
        readings = await read_all(ctx)
        observed = fingerprint.observed_values(readings)
        differences: list[fingerprint.Difference] = []
        unverifiable: list[str] = []
        expected: dict[str, Any] = {}
        if self.pin:
            expected["pinned"] = fingerprint.pin_text(self.pin)
            found, missing = fingerprint.compare(self.pin, readings, "pin")
            differences += found
            unverifiable += missing
        if memory.identity:
            expected["baseline"] = fingerprint.pin_text(memory.identity) or "schema only"
            found, missing = fingerprint.compare(memory.identity, readings, "baseline")
            differences += found
            unverifiable += [m for m in missing if m not in unverifiable]

        def result(status: Status, output: str) -> CheckResult:
            return ctx.result(
                self.key,
                status,
                fingerprint.pin_text(observed),
                "fingerprint",
                output,
                expected,
                match=0 if differences else 1,
                sources=sorted(observed),
            )

        now = ctx.clock()
        if differences:
            output = fingerprint.describe_all(differences)
            return result(
                Status.FAIL, output + newly_initialised(readings, memory.identity_recorded_at, now)
            )
        note = self._remember(memory, observed, now)
        if unverifiable:
            return result(Status.WARN, "cannot verify " + ", ".join(unverifiable))
        errors = [r.note for r in readings if r.absence is Absence.ERROR]
        if not observed and errors:
            return result(Status.WARN, f"cannot read the identity sources: {errors[0]}")
        if not observed:
            return result(
                Status.WARN,
                "no identity source available yet: mount the data volume (SIDECAR_DATA_DIR), "
                "run sidecar adopt, or set SIDECAR_IDENTITY_QUERY",
            )
        return result(Status.PASS, note)

    @staticmethod
    def _remember(memory: Memory, observed: dict[str, Any], now: float) -> str:
        """Record the baseline on first use; add new sources and roll `schema` forward."""
        if not observed:
            return ""
        if not memory.identity:
            memory.identity = dict(observed)
            memory.identity_recorded_at = now
            return "baseline recorded now (trust on first use)"
        for source, value in observed.items():
            if source not in memory.identity or source == "schema":
                memory.identity[source] = value
        return ""

    async def aclose(self) -> None:
        """Nothing runs in the background."""
