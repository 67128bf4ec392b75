"""Human durations (`500ms`, `5s`, `36h`, `2d`, plain seconds) as used in every setting."""

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(value: str | float | int) -> float:
    """Return seconds for a duration; raise ValueError naming the accepted forms."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 500ms, 5s, 36h, 2d or plain seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _PATTERN.match(value)
        if match is None:
            raise ValueError(
                f"{value!r} is not a duration (use e.g. 500ms, 5s, 10m, 36h, 2d or plain seconds)"
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds < 0:
        raise ValueError(f"{value!r} is not a finite, non-negative duration")
    return seconds


def approximate(seconds: float) -> str:
    """A duration as a person reads it: `500ms`, `2.5s`, `90s`, `12m`, `1h 5m`, `24h`, `1d 2h`.

    Two units at most, the smaller rounded and left out when it is zero: a reading, not a
    value to parse back (settings use `format_duration`)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 10:
        return f"{round(seconds, 1):g}s"
    if seconds < 120 and round(seconds) != 60:  # `90s` reads better than `2m`; `1m` than `60s`
        return f"{round(seconds)}s"
    if round(seconds / 60) < 60:
        return f"{round(seconds / 60)}m"
    big, small, ratio = ("h", "m", 60) if seconds < 86400 else ("d", "h", 24)
    total = round(seconds / (60 if big == "h" else 3600))  # in the smaller unit
    whole, rest = divmod(total, ratio)
    return f"{whole}{big} {rest}{small}" if rest else f"{whole}{big}"


def format_duration(seconds: float) -> str:
    """Render seconds compactly for humans (`1.5s`, `3m`, `2d`)."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size) == int(seconds / size):
            return f"{int(seconds / size)}{unit}"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    return f"{seconds:g}s"
