"""Times as the server hands them over and as we show them: one place for UTC conversions.

The sidecar's sessions run with `time_zone='+00:00'`, so TIMESTAMP values arrive in UTC, and
naive DATETIME values (as Prisma writes them) are taken to be UTC too.

A number is Unix time in seconds, milliseconds (JavaScript's `Date.now()`) or microseconds
(Python's `time.time_ns() // 1000`, Go's `UnixMicro`), told apart by magnitude: below 1e11
seconds (until the year 5138), below 1e14 milliseconds, below 1e17 microseconds. Nanoseconds
are not recognised: 9.2e18, BIGINT's largest, would read as the year 2262 rather than as the
placeholder it is. Anything else, or a time outside the years 1-9999 that a datetime can
show, is `OutOfRange`: a reason for the check, never a crash of it.
"""

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

# Epoch seconds of 0001-01-01 and 9999-12-31T23:59:59Z: what datetime (and iso()) can show.
EARLIEST = -62135596800.0
LATEST = 253402300799.0
# (below this magnitude, divide by this to get seconds)
_UNITS = ((1e11, 1.0), (1e14, 1e3), (1e17, 1e6))


class OutOfRange(ValueError):
    """A number or date that is no time we can place; the message says which."""


def epoch(value: datetime) -> float:
    """A server datetime as epoch seconds, naive ones read as UTC."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def to_epoch(value: Any) -> float | None:
    """A column value as epoch seconds: DATETIME/TIMESTAMP, DATE, or a Unix number; None for
    other types; OutOfRange for a number that is no time."""
    if isinstance(value, datetime):
        return epoch(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return _unix(value)
    return None


def _unix(value: int | float | Decimal) -> float:
    try:
        number = float(value)  # a huge Decimal becomes inf
    except OverflowError:  # an int past 1e308
        number = math.inf
    for below, per_second in _UNITS:
        if math.isfinite(number) and abs(number) < below:
            seconds = number / per_second
            if EARLIEST <= seconds <= LATEST:
                return seconds
            break
    raise OutOfRange(
        f"{number:.6g} is not a time: out of range (Unix seconds, milliseconds or microseconds,"
        " years 1-9999)"
    )


def iso(seconds: float, timespec: str = "milliseconds") -> str:
    """ISO-8601 UTC with a Z, to `timespec` (as datetime.isoformat takes it)."""
    text = datetime.fromtimestamp(seconds, UTC).isoformat(timespec=timespec)
    return text.replace("+00:00", "Z")
