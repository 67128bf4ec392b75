"""From reports to history: a scheduler listener that never touches the database.

Each report gives one cycle sample (the watched tables' counts, marks and ages, from the samples
the checks hand out) and the events that tell what changed since the last report: the verdict,
a check's status, an identity source's value. Adopts and the identity first seen are read from
the evaluator's memory (when it recorded its baseline, when an adopted state file was taken
up); pins from the identity check's expectation.
"""

import re
from collections.abc import Callable, Sequence

from sidecar.checks import latest_record, row_count, volume_identity
from sidecar.checks.volume_identity import IdentityObservation
from sidecar.evaluator import STATE_KEY
from sidecar.history.events import Change, Event, Kind
from sidecar.history.history import CheckMark, CycleSample, History, TableSample
from sidecar.identity.pin import pin_text
from sidecar.identity.reading import Absence
from sidecar.identity.source import Source
from sidecar.results import Family, Report, Status
from sidecar.state import Memory

# Which sample fills which field of a table's history.
_FIELDS: dict[Family, str] = {
    row_count.ROWS: "rows",
    row_count.HIGH_WATER: "high_water",
    row_count.FLOOR: "floor",
    row_count.MIN_ALLOWED: "min_allowed",
    latest_record.AGE: "newest_age",
}


def cycle_sample(report: Report) -> CycleSample:
    """The report's figures as one history sample."""
    tables: dict[str, dict[str, float]] = {}
    for check in report.checks:
        for sample in check.samples:
            name = _FIELDS.get(sample.family)
            if name is not None and sample.labels:
                tables.setdefault(sample.labels[0], {})[name] = sample.value
    return CycleSample(
        report.finished,
        max(0.0, report.finished - report.started),
        report.status,
        {table: TableSample(**fields) for table, fields in tables.items()},
    )


# A number, whole or not, with the unit `durations.approximate` may give it (`900ms`, `2s`,
# `1h 5m`): an age that ticks from 900ms to 2s is the same reason.
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:(?:ms|s|m|h|d)(?: \d+(?:ms|s|m|h|d))?)?(?![a-z])")


def gist(reason: str) -> str:
    """A reason without its numbers: ticking ages and round trips are no new reason."""
    return _NUMBER.sub("N", reason)


def reasons_text(report: Report) -> str:
    """The report's reasons on one line."""
    return "; ".join(report.reasons())


class Recorder:
    """Feeds `history` from every report (append `on_report` to the scheduler's listeners)."""

    def __init__(
        self, history: History, sources: Sequence[Source], memory: Callable[[], Memory]
    ) -> None:
        self.history = history
        self.sources = {source.name: source for source in sources}
        self.memory = memory  # the evaluator's memory, read only
        self._started = False

    async def on_report(self, report: Report) -> None:
        """Record the cycle and what changed."""
        events: list[Event] = []
        changed = self._verdict(report, events)
        # A verdict event names every reason: check events then would only repeat them.
        told = bool(events)
        checks: list[Event] = []
        changed |= self._checks(report, checks)
        events += [e for e in checks if not told or e.kind is Kind.STATE]
        changed |= self._identity(report, events)
        changed |= self._memory(events)
        changed |= self._pin(report, events)
        await self.history.record(cycle_sample(report), events, changed)

    def _verdict(self, report: Report, events: list[Event]) -> bool:
        marks, now = self.history.marks, report.finished
        status = report.status
        reasons = reasons_text(report)
        if not self._started:
            self._started = True
            said = f"; {reasons}" if reasons else ""
            events.append(
                Event(now, Kind.START, f"sidecar started: verdict {status}{said}", status)
            )
        elif status is not marks.verdict:
            was = f" (was {marks.verdict})" if marks.verdict else ""
            said = f": {reasons}" if reasons else ""
            events.append(Event(now, Kind.VERDICT, f"verdict {status}{was}{said}", status))
        if status is marks.verdict:
            return False
        marks.verdict, marks.verdict_since = status, now
        return True

    def _checks(self, report: Report, events: list[Event]) -> bool:
        marks, now = self.history.marks.checks, report.finished
        changed = False
        for check in report.checks:
            mark = marks.get(check.key)
            reason = gist(check.output)
            if mark is not None and mark.status is check.status and mark.gist == reason:
                continue
            changed = True
            since = mark.since if mark is not None and mark.status is check.status else now
            marks[check.key] = CheckMark(check.status, since, reason)
            if mark is None and check.status is Status.PASS:
                continue
            if mark is not None and mark.status is check.status is Status.PASS:
                continue  # a passing note changed (a baseline rolled forward): no event
            kind = Kind.STATE if check.key == STATE_KEY else Kind.CHECK
            if check.status is Status.PASS:
                message = f"{check.key} passes again"
            elif mark is not None and mark.status is not check.status:
                message = f"{check.key} {check.status} (was {mark.status}): {check.output}"
            else:
                message = f"{check.key} {check.status}: {check.output}"
            events.append(Event(now, kind, message, check.status, check.key))
        present = {check.key for check in report.checks}
        for key in [k for k in marks if k not in present]:
            # Only reported on trouble (the state check): gone means the trouble is over.
            if marks.pop(key).status is not Status.PASS:
                events.append(
                    Event(
                        now,
                        Kind.STATE if key == STATE_KEY else Kind.CHECK,
                        f"{key} passes again (no longer reported)",
                        Status.PASS,
                        key,
                    )
                )
            changed = True
        return changed

    def _identity(self, report: Report, events: list[Event]) -> bool:
        observations = report.observations(IdentityObservation)
        if not observations:
            return False
        seen: dict[str, str | None] = {}
        for reading in observations[0].readings:
            source = self.sources.get(reading.source)
            if reading.present and reading.value is not None:
                seen[reading.source] = source.show(reading.value) if source else str(reading.value)
            elif reading.absence is Absence.GONE:
                seen[reading.source] = None
            # Not configured, not granted or an error: the value is unknown, not changed.
        marks = self.history.marks.identity
        before = dict(marks)
        changes = [
            Change(name, before.get(name), value)
            for name, value in seen.items()
            if name not in before or before[name] != value
        ]
        if not changes:
            return False
        marks.update(seen)
        # A source read for the first time is no change (the first cycle, a grant added).
        told = tuple(c for c in changes if c.source in before)
        if told:
            result = report.result(volume_identity.KEY)
            status = result.status if result is not None else None
            message = "; ".join(c.describe() for c in told)
            events.append(Event(report.finished, Kind.IDENTITY, message, status, changes=told))
        return True

    def _memory(self, events: list[Event]) -> bool:
        memory, marks = self.memory(), self.history.marks
        changed = False
        if memory.adopted_at is not None and memory.adopted_at != marks.adopted_at:
            baseline = pin_text(memory.identity) or "the schema's tables"
            events.append(
                Event(
                    memory.adopted_at,
                    Kind.ADOPT,
                    f"sidecar adopt: the database as it was then is the baseline ({baseline})",
                )
            )
            marks.adopted_at = memory.adopted_at
            marks.baseline_at = memory.identity_recorded_at
            changed = True
        recorded = memory.identity_recorded_at
        if recorded is not None and memory.identity and recorded != marks.baseline_at:
            baseline = pin_text(memory.identity) or "the schema's tables"
            events.append(
                Event(
                    recorded,
                    Kind.FIRST_SEEN,
                    f"identity first seen, trusted on first use: {baseline}",
                )
            )
            marks.baseline_at = recorded
            changed = True
        return changed

    def _pin(self, report: Report, events: list[Event]) -> bool:
        result = report.result(volume_identity.KEY)
        if result is None:
            return False
        pinned = result.expected.get("pinned")
        pin = pinned if isinstance(pinned, str) else None
        marks = self.history.marks
        if pin == marks.pin:
            return False
        if pin is None:
            message = f"pin removed (was {marks.pin})"
        elif marks.pin is None:
            message = f"identity pinned: {pin}"
        else:
            message = f"pin changed from {marks.pin} to {pin}"
        events.append(Event(report.finished, Kind.PIN, message))
        marks.pin = pin
        return True
