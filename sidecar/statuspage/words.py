"""How the page says things: times, ages, check names and values in plain words."""

from datetime import UTC, datetime

from sidecar.durations import approximate
from sidecar.history.series import DAY
from sidecar.results import CheckResult

# A check's measurement, in words; `{}` is its component (the table). Checks not named here
# (a new check, the backup checks) read as their key.
_MEASUREMENTS = {
    "rowCount": "rows in {}",
    "latestRecord": "newest record in {}",
    "identity": "storage identity",
    "connection": "database connection",
    "privileges": "the monitor account's privileges",
    "state": "the sidecar's memory",
}
_UNITS = {"rows": "rows", "s": "s", "ms": "ms"}


def when(t: float) -> str:
    """`2026-11-25 10:34:58 UTC`."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short(t: float, now: float) -> str:
    """`10:34:58 UTC` today, `Nov 24 10:34 UTC` before."""
    moment, today = datetime.fromtimestamp(t, UTC), datetime.fromtimestamp(now, UTC)
    if moment.date() == today.date():
        return moment.strftime("%H:%M:%S UTC")
    return moment.strftime("%b %d %H:%M UTC")


def clock(t: float, span: float = DAY) -> str:
    """`Nov 25 10:34` (UTC), or `10:34:58` on an axis shorter than an hour: short enough for a
    chart's axis at 360 px."""
    moment = datetime.fromtimestamp(t, UTC)
    return moment.strftime("%H:%M:%S" if span < 3600 else "%b %d %H:%M")


def ago(seconds: float) -> str:
    """`just now`, `40s ago`, `3m ago`, `2d ago`."""
    if seconds < 2:
        return "just now"
    return f"{approximate(seconds)} ago"


def check_title(key: str) -> str:
    """`User:rowCount` -> `Rows in User`; unknown measurements read as the key."""
    component, _, measurement = key.partition(":")
    words = _MEASUREMENTS.get(measurement)
    text = words.format(component) if words else key
    return text[:1].upper() + text[1:]


def observed(check: CheckResult) -> str:
    """The observed value with its unit, or a dash when there is none."""
    value = check.observed_value
    if value is None:
        return "-"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if check.observed_unit == "s":
            return approximate(value)
        shown = (
            f"{value:,}"
            if isinstance(value, int)
            else f"{value:,.3g}"
            if value < 100
            else f"{value:,.0f}"
        )
        unit = _UNITS.get(check.observed_unit, check.observed_unit)
        return f"{shown} {unit}".strip()
    return str(value)
