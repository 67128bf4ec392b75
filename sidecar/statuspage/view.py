"""What the status page shows, built from the latest report and the history (never the database).

Cards are generic over `CheckResult`: any check, also one added later, gets a card with its
status, observed value, expectation, reason and since when its status holds. The runbook's steps
for a failing verdict name the volume that should be there from the identity check's
expectation (the pin, else the remembered baseline) and the one the database runs on now.
"""

from dataclasses import dataclass, field

from sidecar.checks import volume_identity
from sidecar.checks.volume_identity import IdentityObservation
from sidecar.durations import approximate
from sidecar.history.events import IDENTITY_KINDS, Change, Event, Kind
from sidecar.history.history import History
from sidecar.history.series import DAY
from sidecar.results import JSON, CheckResult, Report, Status
from sidecar.statuspage import charts
from sidecar.statuspage.charts import Chart, Spec
from sidecar.statuspage.words import ago, check_title, observed, short, when

_HEADLINES = {
    Status.PASS: "Every check passes: this is our database, with our data in it.",
    Status.WARN: "Working, with warnings worth a look.",
    Status.FAIL: "Do not trust this database until the reasons below are resolved.",
}
# What the chip of an event without a status says.
_LABELS = {Kind.FIRST_SEEN: "FIRST", Kind.ADOPT: "ADOPT", Kind.PIN: "PIN"}
RECENT_EVENTS = 30
IDENTITY_EVENTS = 20


@dataclass(frozen=True)
class Card:
    """One check."""

    key: str
    title: str
    status: str
    value: str
    long: bool  # a fingerprint rather than a number: set smaller
    expected: tuple[tuple[str, str], ...]
    output: str
    since: str  # "since 10:34:58 UTC (3m ago)", or ""


@dataclass(frozen=True)
class EventView:
    """One entry of a timeline."""

    when: str
    ago: str
    kind: str
    status: str  # pass, warn, fail or info
    label: str  # what the chip says
    message: str
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class ChartGroup:
    """The charts of one table (or of the cycles)."""

    title: str
    charts: tuple[Chart, ...]


@dataclass(frozen=True)
class Runbook:
    """The next steps for a failing verdict."""

    expected_volume: str | None  # the volume that should be there
    current_volume: str | None  # the volume the database runs on now
    expected_identity: str | None  # the pin or baseline, when no volume is known


@dataclass(frozen=True)
class Page:
    """Everything the template renders."""

    status: str
    word: str
    headline: str
    details: bool
    reasons: tuple[str, ...] = ()
    since: str = ""
    checked: str = ""
    runbook: Runbook | None = None
    cards: tuple[Card, ...] = ()
    groups: tuple[ChartGroup, ...] = ()
    identity: tuple[EventView, ...] = ()
    events: tuple[EventView, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def headline(report: Report) -> str:
    """One sentence for the verdict."""
    if report.output == "starting":
        return "Starting: the first check cycle has not completed yet."
    if report.output.startswith("stale"):
        return "No check cycle has completed lately: the verdict cannot be trusted."
    return _HEADLINES[report.status]


def reasons(report: Report) -> tuple[str, ...]:
    """The reasons in plain words: what is wrong with which check, one line each."""
    lines = [report.output] if report.output else []
    lines += [
        f"{check_title(check.key)}: {check.output}"
        for check in report.checks
        if check.status is not Status.PASS and check.output
    ]
    return tuple(lines)


def _expectation(value: JSON) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def card(check: CheckResult, history: History, now: float) -> Card:
    """The card of one check."""
    mark = history.marks.checks.get(check.key)
    since = ""
    if mark is not None and mark.status is check.status:
        since = f"{check.status} since {short(mark.since, now)} ({ago(now - mark.since)})"
    expected = tuple((key, _expectation(value)) for key, value in check.expected.items())
    value = observed(check)
    return Card(
        check.key,
        check_title(check.key),
        str(check.status),
        value,
        len(value) > 24,
        expected,
        check.output,
        since,
    )


def runbook(report: Report) -> Runbook:
    """Which volume should be there, and which one is: from the identity check."""
    result = report.result(volume_identity.KEY)
    expected_text = expected_volume = None
    if result is not None:
        for key in ("pinned", "baseline"):
            value = result.expected.get(key)
            if isinstance(value, str):
                expected_text = value
                break
        volume = result.details.get("expectedVolume")
        expected_volume = volume if isinstance(volume, str) else None
    current = None
    for seen in report.observations(IdentityObservation):
        reading = seen.values().get("volume")
        current = reading if isinstance(reading, str) else None
    return Runbook(expected_volume, current, expected_text)


def event_view(event: Event, now: float) -> EventView:
    """One event as the timeline shows it."""
    status = str(event.status) if event.status is not None else "info"
    label = status.upper() if event.status is not None else _LABELS.get(event.kind, "INFO")
    return EventView(
        when(event.time),
        ago(now - event.time),
        str(event.kind),
        status,
        label,
        event.message,
        event.changes,
    )


TABLE_SPECS = (
    Spec(
        "Rows",
        "rows",
        (
            ("rows_min", "rows", "rows"),
            ("high_water", "high-water", "high-water mark"),
            # The fewest rows that pass: the allowed drop below the high-water mark (or the
            # floor, when one is set above it). Mostly the drop: so it is named.
            ("min_allowed", "allowed", "allowed drop (fails below)"),
        ),
        lambda v: f"{v:,.0f}",
    ),
    Spec(
        "Newest record age",
        "age",
        (("newest_age", "age", "age of the newest record"),),
        approximate,
    ),
)
CYCLE_SPEC = Spec(
    "Cycle duration",
    "duration",
    (("duration", "duration", "cycle duration"),),
    lambda v: f"{v * 1000:,.0f} ms" if v >= 0.01 else f"{v * 1000:.1f} ms",
)
WINDOWS = ((DAY, "24 h"), (7 * DAY, "7 days"))


def chart_groups(history: History, now: float) -> tuple[ChartGroup, ...]:
    """24 h charts of every table and of the cycles; 7 days too once more than a day is kept.

    Each series' points are read once per window and shared by its charts."""
    oldest = history.cycles.tiers[-1].oldest
    kept = now - oldest if oldest is not None else 0.0
    windows = [w for w in WINDOWS if w[0] == DAY or kept > DAY]
    markers = [e for e in history.events if e.kind in (Kind.IDENTITY, Kind.ADOPT)]
    frames = [charts.frame(history.cycles, now, span, label) for span, label in windows]
    cycles = [history.cycles.window(fr.since, fr.until, charts.POINTS) for fr in frames]
    failing = [charts.failing_spans(points) for points in cycles]
    groups = []
    for name, series in history.tables.items():
        seen = [series.window(fr.since, fr.until, charts.POINTS) for fr in frames]
        drawn = tuple(
            charts.draw(points, spec, fr, spans, markers, name)
            for spec in TABLE_SPECS
            for points, fr, spans in zip(seen, frames, failing, strict=True)
        )
        groups.append(ChartGroup(name, drawn))
    cycle_charts = tuple(
        charts.draw(points, CYCLE_SPEC, fr, spans, markers)
        for points, fr, spans in zip(cycles, frames, failing, strict=True)
    )
    groups.append(ChartGroup("", cycle_charts))
    return tuple(groups)


def build(report: Report, history: History, details: bool, now: float) -> Page:
    """The page for `report`; with `details=False` the verdict alone."""
    status = report.status
    base = Page(str(status), str(status).upper(), headline(report), details)
    if not details:
        return base
    marks = history.marks
    since = ""
    if marks.verdict is status and marks.verdict_since is not None:
        since = f"since {when(marks.verdict_since)} ({ago(now - marks.verdict_since)})"
    checked = f"last check cycle {when(report.finished)} ({ago(now - report.finished)})"
    identity = [e for e in history.recent(limit=len(history.events)) if e.kind in IDENTITY_KINDS]
    return Page(
        base.status,
        base.word,
        base.headline,
        True,
        reasons(report),
        since,
        checked if report.checks else "",
        runbook(report) if status is Status.FAIL else None,
        tuple(card(check, history, now) for check in report.checks),
        chart_groups(history, now),
        tuple(event_view(e, now) for e in identity[:IDENTITY_EVENTS]),
        tuple(event_view(e, now) for e in history.recent(limit=RECENT_EVENTS)),
        (history.failing,) if history.failing else (),
    )
