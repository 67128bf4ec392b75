"""`.env` files, the second place (after the environment) a project name can come from.

The syntax the tools share (compose-go `dotenv`, python-dotenv under podman-compose and
docker-compose >= 1.26): `KEY=VALUE` lines, an optional `export ` prefix, `#` comments,
single quotes taken literally, double quotes with `\\n`, `\\t`, `\\"`, `\\\\` escapes, and `${VAR}`
references in unquoted and double-quoted values resolved against the variables above them
and the environment.
"""

import re
from collections.abc import Mapping
from pathlib import Path

from sidecar.preflight.errors import PreflightError
from sidecar.preflight.interpolation import interpolate

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def read_env_file(path: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables `path` defines; PreflightError when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PreflightError(f"cannot read env file {path}: {_reason(exc)}") from None
    return parse_env(text, environ)


def parse_env(text: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables defined by `.env` text; references resolve from earlier lines first."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue  # the tools skip what they cannot parse; so do we
        key, raw = match.groups()
        lookup = {**environ, **values}
        values[key] = _value(raw.strip(), lookup)
    return values


def _value(raw: str, lookup: Mapping[str, str]) -> str:
    if raw.startswith("'"):
        end = raw.find("'", 1)
        return raw[1:end] if end > 0 else raw[1:]
    if raw.startswith('"'):
        chars: list[str] = []
        pos = 1
        while pos < len(raw) and raw[pos] != '"':
            if raw[pos] == "\\" and pos + 1 < len(raw):
                chars.append(_ESCAPES.get(raw[pos + 1], "\\" + raw[pos + 1]))
                pos += 2
            else:
                chars.append(raw[pos])
                pos += 1
        return interpolate("".join(chars), lookup)
    comment = re.search(r"\s#", raw)
    if comment:
        raw = raw[: comment.start()]
    return interpolate(raw.strip(), lookup)


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return "not UTF-8"
