"""The checks every value read back from the history files passes before it is used.

The files are ours, but a disk, an editor or a hostile hand may change them: a value in the
wrong place must be a `Malformed` (a ValueError, which the reader reports and sets aside),
never an AttributeError, an OverflowError or a lone surrogate handed on to /events. Times are
bounded to what the tiers can bucket (array('q') bucket numbers) and what `iso()` can print.
"""

import math
from typing import Any

# Year 9999: `datetime` prints nothing later, and a bucket number stays far inside int64.
LATEST = 253_402_300_799.0
# Longer than any message the sidecar writes (reasons of many checks on one line).
MAX_TEXT = 65_536


class Malformed(ValueError):
    """A value of the history files that is not what its place holds."""


def obj(value: Any, what: str) -> dict[str, Any]:
    """A JSON object."""
    if not isinstance(value, dict):
        raise Malformed(f"{what} must be an object, not {type(value).__name__}")
    return value


def seq(value: Any, what: str) -> list[Any]:
    """A JSON array."""
    if not isinstance(value, list):
        raise Malformed(f"{what} must be an array, not {type(value).__name__}")
    return value


def get(data: dict[str, Any], key: str) -> Any:
    """`data[key]`, as a Malformed when it is missing."""
    if key not in data:
        raise Malformed(f"{key!r} is missing")
    return data[key]


def number(value: Any, what: str) -> float:
    """A finite JSON number (not a bool) as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed(f"{what} must be a number, not {type(value).__name__}")
    try:
        result = float(value)
    except OverflowError:
        raise Malformed(f"{what} is out of range") from None
    if not math.isfinite(result):
        raise Malformed(f"{what} must be finite")
    return result


def optional_number(value: Any, what: str) -> float | None:
    """`number`, or None for null."""
    return None if value is None else number(value, what)


def moment(value: Any, what: str) -> float:
    """Epoch seconds from 1970 to year 9999."""
    result = number(value, what)
    if not 0 <= result <= LATEST:
        raise Malformed(f"{what} is not a time (out of range)")
    return result


def optional_moment(value: Any, what: str) -> float | None:
    """`moment`, or None for null."""
    return None if value is None else moment(value, what)


def whole(value: Any, what: str, low: int, high: int) -> int:
    """A JSON integer from `low` to `high`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed(f"{what} must be a whole number")
    if not low <= value <= high:
        raise Malformed(f"{what} is out of range")
    return value


def text(value: Any, what: str) -> str:
    """A JSON string that is valid UTF-8 (no lone surrogate) and of a sane length."""
    if not isinstance(value, str):
        raise Malformed(f"{what} must be text, not {type(value).__name__}")
    if len(value) > MAX_TEXT:
        raise Malformed(f"{what} is longer than {MAX_TEXT} characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise Malformed(f"{what} is not valid UTF-8") from None
    return value


def optional_text(value: Any, what: str) -> str | None:
    """`text`, or None for null."""
    return None if value is None else text(value, what)
