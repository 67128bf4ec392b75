"""Validation and quoting of table and column names taken from configuration.

Nothing from configuration reaches SQL except through `quote()`, and `quote()` only accepts
names that already passed `validate()`: plain identifiers of letters, digits, `_` and `$`,
as MariaDB allows unquoted, at most 64 characters. Anything else (backticks, quotes, spaces,
semicolons, comments) is refused rather than escaped.
"""

import re

_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]{0,63}")


def validate(name: str) -> str:
    """Return `name` if it is a plain identifier, else raise ValueError saying why."""
    # fullmatch: `$` alone would also accept a trailing newline (`User\n` from an env file).
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a plain identifier "
            "(letters, digits, _ and $; not starting with a digit; at most 64 characters)"
        )
    return name


def quote(name: str) -> str:
    """Backtick-quote a validated identifier for use in SQL."""
    return f"`{validate(name)}`"


def quote_double(name: str, longest: int = 63) -> str:
    """Double-quote a validated identifier (SQL standard, PostgreSQL), refusing names longer
    than `longest`: PostgreSQL would cut them to 63 bytes and name another table."""
    if len(validate(name)) > longest:
        raise ValueError(f"{name!r} is longer than {longest} characters")
    return f'"{name}"'
