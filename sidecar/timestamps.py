"""Times as the server hands them over and as we show them: one place for UTC conversions.

The sidecar's sessions run with `time_zone='+00:00'`, so TIMESTAMP values arrive in UTC, and
naive DATETIME values (as Prisma writes them) are taken to be UTC too.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any


def epoch(value: datetime) -> float:
    """A server datetime as epoch seconds, naive ones read as UTC."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def to_epoch(value: Any) -> float | None:
    """A column value as epoch seconds: DATETIME/TIMESTAMP, DATE, or a Unix number; else None."""
    if isinstance(value, datetime):
        return epoch(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = float(value)
        # Unix time in milliseconds (JavaScript's Date.now()) rather than seconds.
        return number / 1000 if number > 1e11 else number
    return None


def iso(seconds: float, timespec: str = "milliseconds") -> str:
    """ISO-8601 UTC with a Z, to `timespec` (as datetime.isoformat takes it)."""
    text = datetime.fromtimestamp(seconds, UTC).isoformat(timespec=timespec)
    return text.replace("+00:00", "Z")
