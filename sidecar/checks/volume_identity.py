"""`volume:identity`: is this the storage we saw before (or were told to expect)?

Readings come from every registered source (identity/registry.py); the judge compares them
with the pin (`SIDECAR_EXPECT_IDENTITY`) and with the remembered baseline, names each source
that changed, and says so plainly when the database looks newly initialised: that is the
incident. The baseline is recorded on first use and never replaced silently; `sidecar adopt`
replaces it.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sidecar.checks.base import Judgement, ObserveContext, Problem
from sidecar.durations import format_duration
from sidecar.identity.compare import (
    Difference,
    compare,
    describe_all,
    observed_values,
    read_all,
)
from sidecar.identity.pin import pin_text
from sidecar.identity.reading import Absence, Reading
from sidecar.identity.settings import IdentitySettings
from sidecar.identity.source import Source
from sidecar.results import JSON, Family, PerfDatum, Sample, Status
from sidecar.state import IdentityValue, Memory, SetIdentity

KEY = "volume:identity"
UNIT = "fingerprint"
MATCH = Family("sidecar_identity_match", "1 when the storage identity matches, 0 when it differs")
# A datadir born within a day (or after the baseline was recorded) is "newly initialised".
RECENT = 86400.0


@dataclass(frozen=True)
class IdentityObservation:
    """What every identity source said this cycle."""

    readings: tuple[Reading, ...]

    def values(self) -> dict[str, IdentityValue]:
        """Source -> value, for the sources that gave one."""
        return observed_values(self.readings)


def newly_initialised(
    sources: Sequence[Source], values: Mapping[str, IdentityValue], since: float | None, now: float
) -> str:
    """A clause saying the database looks newly initialised, or '' when it does not."""
    born = next((b for s in sources if s.name in values and (b := s.born(values[s.name]))), None)
    if born is None:
        return ""
    when, what = born
    recent = now - when < RECENT or (since is not None and when > since)
    if not recent:
        return ""
    return (
        f"; the database looks newly initialised ({what} "
        f"{format_duration(max(0, round(now - when)))} ago)"
    )


class VolumeIdentityCheck:
    """Fingerprint of the storage, compared with the pin and the remembered baseline."""

    key = KEY
    unit = UNIT
    labels = (("check", KEY),)

    def __init__(self, sources: Sequence[Source], settings: IdentitySettings) -> None:
        self.sources = tuple(sources)
        self.pin = dict(settings.pin)

    async def observe(self, ctx: ObserveContext) -> IdentityObservation:
        """Read every source (the sources never raise: each says why it has no value)."""
        return IdentityObservation(await read_all(self.sources, ctx.db))

    def judge(self, seen: IdentityObservation | Problem, memory: Memory, now: float) -> Judgement:
        """Compare with pin and baseline; record or extend the baseline when all is well."""
        if isinstance(seen, Problem):
            return Judgement(Status.FAIL, None, seen.reason)
        readings = seen.readings
        observed = seen.values()
        expected: dict[str, JSON] = {}
        differences: list[Difference] = []
        unverifiable: list[str] = []
        if self.pin:
            expected["pinned"] = pin_text(self.pin)
            differences, unverifiable = compare(self.sources, self.pin, readings, "pin")
        if memory.identity:
            expected["baseline"] = pin_text(memory.identity) or "schema only"
            found, missing = compare(self.sources, memory.identity, readings, "baseline")
            differences += found
            unverifiable += [m for m in missing if m not in unverifiable]
        match = 0 if differences else 1

        def judgement(status: Status, output: str, *lessons: SetIdentity) -> Judgement:
            return Judgement(
                status,
                pin_text(observed),
                output,
                expected,
                {"match": match, "sources": list[JSON](sorted(observed))},
                samples=(Sample(MATCH, match),),
                perfdata=(PerfDatum(KEY, match, crit="1:"),),
                lessons=lessons,
            )

        if differences:
            born = newly_initialised(self.sources, observed, memory.identity_recorded_at, now)
            return judgement(Status.FAIL, describe_all(differences) + born)
        lesson, note = self._remember(memory, observed, now)
        lessons = (lesson,) if lesson else ()
        if unverifiable:
            return judgement(Status.WARN, "cannot verify " + ", ".join(unverifiable), *lessons)
        errors = [r.note for r in readings if r.absence is Absence.ERROR]
        if not observed and errors:
            return judgement(Status.WARN, f"cannot read the identity sources: {errors[0]}")
        if not observed:
            return judgement(
                Status.WARN,
                "no identity source available yet: mount the data volume (SIDECAR_DATA_DIR), "
                "run sidecar adopt, or set SIDECAR_IDENTITY_QUERY",
            )
        return judgement(Status.PASS, note, *lessons)

    def _remember(
        self, memory: Memory, observed: dict[str, IdentityValue], now: float
    ) -> tuple[SetIdentity | None, str]:
        """The baseline on first use; new sources added, rolling sources moved forward."""
        if not observed:
            return None, ""
        if not memory.identity:
            return SetIdentity(observed, now), "baseline recorded now (trust on first use)"
        rolling = {s.name for s in self.sources if s.rolls_forward}
        updated = dict(memory.identity)
        for source, value in observed.items():
            if source not in updated or source in rolling:
                updated[source] = value
        if updated == memory.identity:
            return None, ""
        return SetIdentity(updated, memory.identity_recorded_at), ""

    async def aclose(self) -> None:
        """Nothing runs in the background."""
