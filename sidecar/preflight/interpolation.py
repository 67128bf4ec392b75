"""`${VAR}` interpolation in compose files, as the compose specification defines it.

The forms every compose tool implements (compose-go `template`, docker-compose v1
`config/interpolation.py`, podman-compose `var_interpolate`): `$VAR`, `${VAR}`,
`${VAR:-default}` (unset or empty), `${VAR-default}` (unset), `${VAR:+alt}`, `${VAR+alt}`,
`${VAR:?message}` and `${VAR?message}` (required), and `$$` for a literal `$`. Defaults may
nest (`${A:-${B}}`). An unset variable without a default becomes the empty string, as in
the tools (which only warn). A `$` that starts none of these forms is kept as it is:
podman-compose does so, and preflight must not refuse a file a tool accepts.

Defaults nest at most `MAX_NESTING` deep: deeper is refused, not a RecursionError (no real
file nests more than two or three); one string expands to at most `MAX_VALUE` characters.
"""

import re
from collections.abc import Mapping
from typing import Any

from sidecar.preflight.errors import PreflightError, excerpt

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Longest operators first: `:-` must win over `-`.
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
MAX_NESTING = 32
MAX_VALUE = 1024 * 1024  # characters one interpolated string may grow to
MAX_TREE = 16 * MAX_VALUE  # and all the strings of one compose file together


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """`text` with every variable reference replaced from `env`."""
    if "$" not in text:  # most strings: skip the character-by-character scan
        return text
    return _scan(text, 0, env, closing=False, depth=0)[0]


def interpolate_tree(value: Any, env: Mapping[str, str]) -> Any:
    """A parsed YAML value with every string in it (not the mapping keys) interpolated."""
    return _tree(value, env, [MAX_TREE])


def _tree(value: Any, env: Mapping[str, str], left: list[int]) -> Any:
    # `left`: the characters the whole tree may still grow to (a 1 MiB value from `.env`
    # referenced by 100,000 strings would be 100 GB).
    if isinstance(value, str):
        result = interpolate(value, env)
        left[0] -= len(result)
        if left[0] < 0:
            limit = MAX_TREE // (1024 * 1024)
            raise PreflightError(f"the strings expand past {limit} MiB in all: refused")
        return result
    if isinstance(value, dict):
        return {key: _tree(item, env, left) for key, item in value.items()}
    if isinstance(value, list):
        return [_tree(item, env, left) for item in value]
    return value


def _scan(
    text: str, pos: int, env: Mapping[str, str], closing: bool, depth: int
) -> tuple[str, int]:
    """Interpolate from `pos`; with `closing`, stop at the `}` that ends a default."""
    if depth > MAX_NESTING:
        raise PreflightError(f"variable defaults nested more than {MAX_NESTING} deep: refused")
    parts: list[str] = []
    size = len(text)
    while pos < len(text):
        char = text[pos]
        if closing and char == "}":
            return "".join(parts), pos
        if char != "$":
            parts.append(char)
            pos += 1
            continue
        following = text[pos + 1 : pos + 2]
        if following == "$":
            parts.append("$")
            pos += 2
        elif following == "{":
            value, pos = _braced(text, pos + 2, env, depth)
            size += len(value)
            parts.append(value)
        elif match := _NAME.match(text, pos + 1):
            value = env.get(match.group(), "")
            size += len(value)
            parts.append(value)
            pos = match.end()
        else:
            parts.append("$")
            pos += 1
        if size > MAX_VALUE:  # `A=${A}${A}` line after line doubles: stop before memory does
            raise PreflightError(f"a value expands past {MAX_VALUE // 1024} KiB: refused")
    if closing:
        raise PreflightError(f"unclosed ${{...}} in {excerpt(text)}")
    return "".join(parts), pos


def _braced(text: str, pos: int, env: Mapping[str, str], depth: int) -> tuple[str, int]:
    """Resolve `${...}` whose name starts at `pos`; return the value and the index after `}`."""
    match = _NAME.match(text, pos)
    if match is None:
        raise PreflightError(f"invalid variable reference in {excerpt(text)}")
    name, pos = match.group(), match.end()
    if text.startswith("}", pos):
        return env.get(name, ""), pos + 1
    operator = next((op for op in _OPERATORS if text.startswith(op, pos)), None)
    if operator is None:
        raise PreflightError(f"invalid variable reference ${{{name}...}} in {excerpt(text)}")
    operand, pos = _scan(text, pos + len(operator), env, closing=True, depth=depth + 1)
    value = env.get(name)
    is_set = value is not None
    non_empty = bool(value)
    present = non_empty if operator.startswith(":") else is_set
    if operator.endswith("-"):
        result = value if present and value is not None else operand
    elif operator.endswith("+"):
        result = operand if present else ""
    else:
        if not present:
            raise PreflightError(f"required variable {name} is missing: {operand or 'not set'}")
        result = value or ""
    return result, pos + 1
