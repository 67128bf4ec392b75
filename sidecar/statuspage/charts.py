"""History as chart geometry: the template draws it as inline SVG (no script, no network).

A chart covers a window (24 hours, or 7 days once the history holds more than a day), at most
`POINTS` points wide. The x axis runs from the first sample in the window (or the window's
start) to the report's time, so a young history fills the width instead of hiding in its right
edge; the y axis starts at zero, so a drop from 14 rows to 1 falls to the floor of the chart.
Periods with a failing verdict are shaded and identity changes are marked, on every chart.
"""

import itertools
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sidecar.history.events import Event
from sidecar.history.series import Series, Window
from sidecar.statuspage.words import clock

# The SVG is stretched to its box (preserveAspectRatio="none", strokes that do not scale), so
# a chart reads the same at 360 px and at 1,100; the y labels are HTML beside it.
WIDTH, HEIGHT = 600.0, 150.0
TOP, BOTTOM = 8.0, 8.0
POINTS = 240
# A window is at least this long, so that the first two samples do not fill the whole width.
MIN_SPAN = 10.0


@dataclass(frozen=True)
class Line:
    """One drawn series: a polyline per stretch without gaps."""

    name: str  # CSS class and legend key
    label: str
    segments: tuple[str, ...]  # SVG `points` attributes


@dataclass(frozen=True)
class Band:
    """A shaded stretch of the x axis (a failing verdict)."""

    x: float
    width: float


@dataclass(frozen=True)
class Marker:
    """A vertical mark at an event (an identity change)."""

    x: float
    title: str


@dataclass(frozen=True)
class Chart:
    """Everything the template needs to draw one chart."""

    title: str
    kind: str  # rows, age or duration
    window: str  # "24 h" or "7 days"
    lines: tuple[Line, ...]
    ticks: tuple[tuple[float, str], ...]  # y position, label; top first
    start: str  # the x axis' ends, as text under the chart
    end: str
    bands: tuple[Band, ...] = ()
    markers: tuple[Marker, ...] = ()
    data: dict[str, str] = field(default_factory=dict)  # data-* attributes (tests read them)
    summary: str = ""

    @property
    def empty(self) -> bool:
        """Whether there is nothing to draw yet."""
        return not any(line.segments for line in self.lines)


@dataclass(frozen=True)
class Spec:
    """Which columns of a series a chart draws, and how its values read."""

    title: str
    kind: str
    lines: tuple[tuple[str, str, str], ...]  # (column, CSS name, legend label); first is main
    fmt: Callable[[float], str]
    scale: float = 1.0  # values are multiplied by this before drawing (seconds -> ms)


@dataclass(frozen=True)
class Frame:
    """The window a chart covers and how time maps to x."""

    since: float
    until: float
    label: str

    def x(self, t: float) -> float:
        """The x coordinate of time `t`."""
        share = (t - self.since) / (self.until - self.since)
        return min(1.0, max(0.0, share)) * WIDTH


def frame(series: Series, until: float, span: float, label: str) -> Frame:
    """The window ending at `until`: at most `span` long, starting at the first sample in it."""
    since = until - span
    tier = series.tier_for(span)
    first = next(iter(tier.points(since)), None)
    if first is not None:
        since = max(since, first.time)
    return Frame(min(since, until - MIN_SPAN), until, label)


def _nice(top: float) -> float:
    """A round number at or above `top` for the y axis' end."""
    if top <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(top))
    return next(
        step * power
        for step in (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
        if step * power >= top
    )


def _segments(
    points: Sequence[tuple[float, float]], fr: Frame, top: float, gap: float, resolution: float
) -> tuple[str, ...]:
    segments: list[list[str]] = []
    previous: float | None = None
    height = HEIGHT - TOP - BOTTOM
    for t, value in points:
        if math.isnan(value):
            previous = None
            continue
        if previous is None or t - previous > gap:
            segments.append([])
        y = TOP + height * (1 - min(value, top) / top)
        # A point stands for a bucket: drawn at its middle (the newest one ends now).
        segments[-1].append(f"{fr.x(t + resolution / 2):.1f},{y:.1f}")
        previous = t
    return tuple(" ".join(s) for s in segments)


def draw(
    window: Window,
    spec: Spec,
    fr: Frame,
    failing: Sequence[tuple[float, float]] = (),
    events: Sequence[Event] = (),
    table: str = "",
) -> Chart:
    """The chart of `spec`'s columns of `window` (a series' points in the frame)."""
    resolution = window.resolution
    columns = {
        name: [(t, v * spec.scale) for t, v in zip(window.times, window.columns[name], strict=True)]
        for name, _, _ in spec.lines
    }
    values = [v for column in columns.values() for _, v in column if not math.isnan(v)]
    top = _nice(max(values, default=0.0) * 1.08)
    steps = [b - a for a, b in itertools.pairwise(window.times)]
    gap = 3 * max(resolution, statistics.median(steps) if steps else resolution)
    lines = tuple(
        Line(css, label, _segments(columns[name], fr, top, gap, resolution))
        for name, css, label in spec.lines
    )
    height = HEIGHT - TOP - BOTTOM
    ticks = tuple(
        (TOP + height * (1 - share), spec.fmt(top * share / spec.scale))
        for share in (1.0, 0.5, 0.0)
    )
    main = [v for _, v in columns[spec.lines[0][0]] if not math.isnan(v)]
    data = {"kind": spec.kind, "window": fr.label, "points": str(len(main))}
    if table:
        data["table"] = table
    summary = ""
    if main:
        raw = [v / spec.scale for v in main]
        data.update(first=_num(raw[0]), last=_num(raw[-1]), min=_num(min(raw)), max=_num(max(raw)))
        summary = (
            f"now {spec.fmt(raw[-1])}, lowest {spec.fmt(min(raw))}, highest {spec.fmt(max(raw))}"
        )
    bands = tuple(
        Band(fr.x(a), max(1.0, fr.x(b) - fr.x(a)))
        for a, b in failing
        if b >= fr.since and a <= fr.until
    )
    markers = tuple(
        Marker(fr.x(e.time), e.message) for e in events if fr.since <= e.time <= fr.until
    )
    return Chart(
        spec.title,
        spec.kind,
        fr.label,
        lines,
        ticks,
        clock(fr.since, fr.until - fr.since),
        clock(fr.until, fr.until - fr.since),
        bands,
        markers,
        data,
        summary,
    )


def failing_spans(cycles: Window) -> list[tuple[float, float]]:
    """The stretches whose verdict was fail (from the cycles' points)."""
    resolution = cycles.resolution
    spans: list[tuple[float, float]] = []
    for time, verdict in zip(cycles.times, cycles.columns["verdict"], strict=True):
        if verdict >= 2:
            end = time + resolution
            if spans and time - spans[-1][1] <= resolution:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((time, end))
    return spans


def _num(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:.3f}"
