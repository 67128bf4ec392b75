"""JSON from a file we did not write this instant: bounded in size and depth, never raising
anything but `JSONRefused`.

Python's `json` accepts any size, recurses as deep as the interpreter lets it (`[` x 100000 is
a `RecursionError`), raises `ValueError` on an integer past 4300 digits, and turns `1e999`
into `inf` and `NaN` into a float. A damaged file must be one reason, so each of those becomes
a `JSONRefused` with a line an operator can read.
"""

import json
import math
import re
from typing import Any

# A JSON string, escapes included: removed before counting brackets, which may sit inside one.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = bytes.maketrans(b"[]{}", b"()()")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
# Larger integers are not counts or times of ours, and int() of a long one is quadratic.
MAX_INT_DIGITS = 40


class JSONRefused(ValueError):
    """The bytes are not JSON within the bounds; the message says why in one line."""


def loads(data: bytes, max_depth: int) -> Any:
    """Parse `data` as UTF-8 JSON nested at most `max_depth` levels; JSONRefused otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        raise JSONRefused(f"not UTF-8 (byte 0x{byte:02x} at offset {exc.start})") from None
    if _deeper_than(data, max_depth):
        raise JSONRefused(f"nested deeper than {max_depth} levels")
    try:
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise JSONRefused(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except JSONRefused:
        raise
    except RecursionError:
        # Unbalanced brackets escape the count above; the parser's own guard stops them.
        raise JSONRefused(f"nested deeper than {max_depth} levels") from None


def _deeper_than(data: bytes, limit: int) -> bool:
    """Whether balanced brackets nest deeper than `limit`, counted without recursion.

    Each pass deletes the innermost pairs, all at C speed: a 16 MiB file of brackets costs
    about 0.1 s. What is left unbalanced is the parser's to refuse."""
    brackets = _STRING.sub(b"", data).translate(_BRACKETS, _NOT_BRACKET)
    for _ in range(limit):
        shorter = brackets.replace(b"()", b"")
        if len(shorter) == len(brackets):
            return False
        brackets = shorter
    return b"()" in brackets


def _int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise JSONRefused(f"an integer of {len(digits)} digits (at most {MAX_INT_DIGITS})")
    return int(digits)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONRefused(f"the number {text[:40]} is out of range")
    return value


def _constant(name: str) -> float:
    raise JSONRefused(f"{name} is not a JSON number")
