"""`volume:identity`: is this the storage we saw before (or were told to expect)?

Readings come from every registered source (identity/registry.py); the judge compares them
with the pin (`SIDECAR_EXPECT_IDENTITY`) and with the remembered baseline and names each source
that changed. A strong source that changed (volume, inode, sentinel, lineage) fails. A metadata
source (the datadir's or the tables' creation times) also changes with an ALTER, an OPTIMIZE or
a chown of the datadir, so the data decides: when the watched tables' rows carried over it is
maintenance (the baseline rolls forward; a pin warns), when they did not it is a new or
restored database (fail, and "the database looks newly initialised" when it does), and with no
watched table to ask it warns. The baseline is recorded on first use and never replaced
silently; `sidecar adopt` replaces it.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sidecar.checks.base import JudgeContext, Judgement, ObserveContext, Problem, metric_labels
from sidecar.checks.continuity import RowCount, continuity
from sidecar.durations import approximate
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
MATCH = Family(
    "sidecar_identity_match",
    "1 when the storage identity matches, 0 when it differs; absent when nothing was verified",
)
SOURCE_MATCH = Family(
    "sidecar_identity_source_match",
    "Per compared identity source: 1 when it matches, 0 when it differs",
    ("source",),
)
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
        f"; the database looks newly initialised ({what} {approximate(max(0.0, now - when))} ago)"
    )


def _unreadable(readings: Iterable[Reading]) -> str:
    """`volume, inode (why)` for the readings without a value, one reason said once."""
    by_note: dict[str, list[str]] = {}
    for reading in readings:
        if not reading.present and reading.absence is not Absence.NOT_CONFIGURED:
            by_note.setdefault(reading.note, []).append(reading.source)
    return "; ".join(f"{', '.join(names)} ({note})" for note, names in by_note.items())


class VolumeIdentityCheck:
    """Fingerprint of the storage, compared with the pin and the remembered baseline."""

    key = KEY
    unit = UNIT
    labels = metric_labels("identity")

    def __init__(self, sources: Sequence[Source], settings: IdentitySettings) -> None:
        self.sources = tuple(sources)
        self.pin = dict(settings.pin)
        self._weak = {s.name for s in self.sources if not s.strong}
        self._configured = {s.name for s in self.sources if s.configured()}

    async def observe(self, ctx: ObserveContext) -> IdentityObservation:
        """Read every source (the sources never raise: each says why it has no value)."""
        return IdentityObservation(await read_all(self.sources, ctx.db))

    def judge(self, seen: IdentityObservation | Problem, ctx: JudgeContext) -> Judgement:
        """Compare with pin and baseline; let the data judge metadata changes."""
        if isinstance(seen, Problem):
            return Judgement(Status.FAIL, None, seen.reason)
        memory = ctx.memory
        readings, observed = seen.readings, seen.values()
        expected: dict[str, JSON] = {}
        pinned: list[Difference] = []
        remembered: list[Difference] = []
        unverifiable: list[str] = []
        if self.pin:
            expected["pinned"] = pin_text(self.pin)
            pinned, unverifiable = compare(self.sources, self.pin, readings, "pin")
        if memory.identity:
            expected["baseline"] = pin_text(memory.identity) or "schema only"
            remembered, missing = compare(self.sources, memory.identity, readings, "baseline")
            unverifiable += [m for m in missing if m not in unverifiable]
        # A configured source (a data directory, a lineage query) that gives nothing is said
        # even when nothing expects it yet: a typo'd path would otherwise pass on the rest.
        compared = set(self.pin) | set(memory.identity)
        unreadable = _unreadable(
            r for r in readings if r.source in self._configured and r.source not in compared
        )
        differences = pinned + remembered
        differing = {d.source for d in differences}
        verified = {r.source for r in readings if r.present} & (
            set(self.pin) | set(memory.identity)
        )
        volume = (self.pin or memory.identity).get("volume")
        expected_volume = volume if isinstance(volume, str) else None
        shown = pin_text(observed) or "; ".join(
            f"{s.name}: {s.show(observed[s.name])}" for s in self.sources if s.name in observed
        )

        def judgement(
            status: Status, output: str, match: int | None, *lessons: SetIdentity
        ) -> Judgement:
            details: dict[str, JSON] = {"sources": list[JSON](sorted(observed))}
            if expected_volume is not None:
                # Which volume the data should be on, as data: the status page's runbook names
                # it without parsing the pin's text back.
                details["expectedVolume"] = expected_volume
            samples = [
                Sample(SOURCE_MATCH, int(source not in differing), (source,))
                for source in sorted(verified | differing)
            ]
            if match is not None:
                details["match"] = match
                samples.insert(0, Sample(MATCH, match))
            return Judgement(
                status,
                shown or None,
                output,
                expected,
                details,
                samples=tuple(samples),
                perfdata=(PerfDatum(KEY, match, crit="1:"),) if match is not None else (),
                lessons=lessons,
            )

        def failed(found: list[Difference]) -> Judgement:
            since = memory.identity_recorded_at
            born = newly_initialised(self.sources, observed, since, ctx.now)
            return judgement(Status.FAIL, describe_all(found) + born, 0)

        by_source = {r.source: r for r in readings}
        contradictions = [c for s in self.sources if (c := s.contradicts(by_source))]
        if contradictions:
            clauses = "; ".join(
                [*contradictions, *([describe_all(differences)] if differences else [])]
            )
            return judgement(Status.FAIL, clauses, 0)
        if any(d.source not in self._weak for d in differences):
            return failed(differences)
        if differences:
            evidence = [continuity(r, memory.tables.get(r.table)) for r in ctx.seen(RowCount)]
            if any(e.lost for e in evidence):
                return failed(differences)
            changed = describe_all(differences)
            if not evidence or any(e.kept is None for e in evidence):
                return judgement(
                    Status.WARN,
                    f"{changed}: no watched table's rows to tell maintenance from a new "
                    "database (set SIDECAR_TABLE); run sidecar adopt if this is expected",
                    None,
                )
            lesson = self._roll(memory, observed, {d.source for d in remembered})
            lessons = (lesson,) if lesson else ()
            if pinned:
                return judgement(
                    Status.WARN,
                    f"{changed} while the rows carried over (maintenance, e.g. a chown of the "
                    "datadir): if so, pin the new value (sidecar adopt prints it)",
                    1,
                    *lessons,
                )
            note = f"{changed} with the rows carried over: maintenance, remembered the new value"
            differing.difference_update(d.source for d in remembered)  # rolled forward
            return judgement(Status.PASS, note, 1, *lessons)
        lesson, note = self._remember(memory, observed, ctx.now)
        lessons = (lesson,) if lesson else ()
        match = 1 if verified or lesson else None
        if unverifiable or unreadable:
            said = ["cannot verify " + ", ".join(unverifiable)] if unverifiable else []
            said += ["cannot read " + unreadable] if unreadable else []
            return judgement(Status.WARN, "; ".join(said), match, *lessons)
        errors = [r.note for r in readings if r.absence is Absence.ERROR]
        if not observed and errors:
            # The database's own reason, as the other checks say it: one line for all of them.
            return judgement(Status.WARN, errors[0], None)
        if not observed:
            return judgement(
                Status.WARN,
                "no identity source available yet: mount the data volume (SIDECAR_DATA_DIR), "
                "run sidecar adopt, or set SIDECAR_IDENTITY_QUERY",
                None,
            )
        return judgement(Status.PASS, note, match, *lessons)

    def _remember(
        self, memory: Memory, observed: dict[str, IdentityValue], now: float
    ) -> tuple[SetIdentity | None, str]:
        """The baseline on first use; new sources added, rolling sources moved forward."""
        if not observed:
            return None, ""
        if not memory.identity:
            return SetIdentity(observed, now), "baseline recorded now (trust on first use)"
        return self._roll(memory, observed, set()), ""

    def _roll(
        self, memory: Memory, observed: dict[str, IdentityValue], also: set[str]
    ) -> SetIdentity | None:
        """The baseline with new sources added and rolling sources (and `also`) moved forward."""
        rolling = {s.name for s in self.sources if s.rolls_forward} | also
        updated = dict(memory.identity)
        for source, value in observed.items():
            if source not in updated or source in rolling:
                updated[source] = value
        if updated == memory.identity:
            return None
        return SetIdentity(updated, memory.identity_recorded_at)

    async def aclose(self) -> None:
        """Nothing runs in the background."""
