"""`.env` files, read exactly as the compose tool that reads them, or refused.

The two parsers in use disagree on real files, so preflight carries both:

- **compose-go** (`dotenv/parser.go`, `dotenv/godotenv.go`, compose-go v2.9.1 in Docker
  Compose v2.40.3): a leading BOM is dropped; `export` is dropped; a key ends at `=`, at `:`
  (YAML style, `KEY: value`) or at a newline (a key alone takes its value from the
  environment); a key may hold letters, digits and `_.-[]`, anything else and a space inside
  a key refuse the whole file. Unquoted values end at the newline, lose what follows ` #`
  and trailing space, and are interpolated. Quotes may span lines; `\\` before the quote
  character escapes it; double-quoted values expand `\\n`-style escapes and are interpolated,
  single-quoted values are literal. An unterminated quote and a failed `${VAR:?msg}` refuse
  the file. Interpolation looks up the environment first, then the lines above.
- **python-dotenv** (`dotenv/parser.py`, `dotenv/main.py`, 1.2.4 under podman-compose 1.6;
  docker-compose v1 also reads `.env` through python-dotenv): the file is opened as UTF-8
  text (universal newlines: CRLF and a lone CR end lines) and a BOM dropped. A line it
  cannot parse (`KEY: value`, a space in a key, text after a closing quote) is skipped with
  a warning, never refused. Only `${VAR}` and `${VAR:-default}` are interpolated, in every
  value, quoted or not, the lines above winning over the environment; podman-compose then
  interpolates the project name again with its full syntax (`project.py`).

Both read at most `MAX_ENV_BYTES`; a larger file is refused (exit 3), as is a file
python-dotenv cannot decode.
"""

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from sidecar.preflight.errors import PreflightError, excerpt
from sidecar.preflight.interpolation import MAX_VALUE, interpolate
from sidecar.preflight.tools import Tool

_Lookup = Callable[[str], str | None]
_Refuse = Callable[[int, str], PreflightError]

# A `.env` is a few KB; this bounds memory and time on a hostile one.
MAX_ENV_BYTES = 1024 * 1024
# What all values of one file may add up to once interpolated (each `${A}` copies A).
MAX_ENV_EXPANDED = 4 * MAX_ENV_BYTES
BOM = "\ufeff"


def read_env_files(tool: Tool, paths: Iterable[Path], environ: Mapping[str, str]) -> dict[str, str]:
    """The variables the `.env` files define, as `tool` reads them (later files win)."""
    values: dict[str, str] = {}
    for path in paths:
        data = _read_bounded(path)
        if tool is Tool.COMPOSE:
            # compose-go GetEnvFromFile: one map across the files, each file's references
            # resolved against the environment, then everything read so far.
            text = data.decode("utf-8", errors="surrogateescape")  # Go reads bytes
            parse_compose(text, environ, values, where=str(path))
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise PreflightError(
                f"env file {path} is not UTF-8 ({tool.label} fails on it too)"
            ) from None
        # python-dotenv: each file resolved on its own against the environment.
        values.update(parse_python_dotenv(text, environ))
    return values


def _read_bounded(path: Path) -> bytes:
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_ENV_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise PreflightError(f"cannot read env file {path}: {reason}") from None
    if len(data) > MAX_ENV_BYTES:
        raise PreflightError(
            f"env file {path} is larger than {MAX_ENV_BYTES // 1024} KiB: not read"
        )
    return data


# --- compose-go -------------------------------------------------------------------------

_GO_SPACE = "\t\v\f\r \x85\xa0"  # parser.go isSpace: blanks that are not a line break
_GO_EXPORT = re.compile(r"export[\t\n\f\r ]")  # Go's `^export\s+`: \s is [\t\n\f\r ]
_GO_KEY_PUNCTUATION = "_.-[]"
_GO_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0\d{0,3})")
_GO_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    '"': '"',
    "\\": "\\",
}


def _go_is_unicode_space(char: str) -> bool:
    # Go's unicode.IsSpace is the White_Space property; Python's isspace adds \x1c-\x1f.
    return char.isspace() and char not in "\x1c\x1d\x1e\x1f"


def _go_is_letter_or_number(char: str) -> bool:
    return char.isalpha() or unicodedata.category(char).startswith("N")


def parse_compose(
    text: str,
    environ: Mapping[str, str],
    out: dict[str, str] | None = None,
    where: str = ".env",
) -> dict[str, str]:
    """`.env` text as compose-go reads it into `out`; PreflightError where compose refuses."""
    values = {} if out is None else out
    text = text.removeprefix(BOM)
    pos = expanded = 0

    def lookup(name: str) -> str | None:
        found = environ.get(name)
        return found if found is not None else values.get(name)

    def refuse(at: int, problem: str) -> PreflightError:
        line = text.count("\n", 0, at) + 1
        return PreflightError(f"{where} line {line}: {problem} (docker compose refuses the file)")

    while (pos := _go_statement_start(text, pos)) < len(text):
        start = pos
        if _GO_EXPORT.match(text, pos):
            pos += len("export")
            while pos < len(text) and text[pos] in _GO_SPACE:
                pos += 1
            if pos >= len(text):
                raise refuse(start, "`export` without a variable")
        key, pos, inherited = _go_key(text, pos, refuse)
        if " " in key:
            raise refuse(start, f"key {excerpt(key)} cannot contain a space")
        if inherited:  # a key alone on its line takes its value from the environment
            found = lookup(key)
            if found is not None:
                values[key] = found
            continue
        value, pos = _go_value(text, pos, lookup, refuse)
        values[key] = value
        expanded += len(value)
        if expanded > MAX_ENV_EXPANDED:
            raise refuse(start, _too_much())
    return values


def _go_statement_start(text: str, pos: int) -> int:
    """The index of the next statement: past blank space and `#` comment lines."""
    while True:
        while pos < len(text) and _go_is_unicode_space(text[pos]):
            pos += 1
        if pos >= len(text) or text[pos] != "#":
            return pos
        newline = text.find("\n", pos)
        if newline < 0:
            return len(text)
        pos = newline


def _go_key(text: str, pos: int, refuse: _Refuse) -> tuple[str, int, bool]:
    """The key from `pos`, the index after its `=`/`:`/newline, and whether it stood alone."""
    start = pos
    for index in range(pos, len(text)):
        char = text[index]
        if char in _GO_SPACE:
            continue
        if char in "=:\n":
            key = text[start:index].rstrip("".join(_GO_SPACE))
            rest = index + 1
            while rest < len(text) and text[rest] in _GO_SPACE:
                rest += 1
            return key, rest, char == "\n"
        if char in _GO_KEY_PUNCTUATION or _go_is_letter_or_number(char):
            continue
        line = text[start:].split("\n", 1)[0]
        raise refuse(index, f"unexpected character {char!r} in variable name {excerpt(line)}")
    # The last line holds no `=`: compose-go reads it as a value for the empty key.
    return "", start, False


def _go_value(text: str, pos: int, lookup: _Lookup, refuse: _Refuse) -> tuple[str, int]:
    """The value from `pos` and the index after it."""
    quote = text[pos] if pos < len(text) and text[pos] in "'\"" else ""
    if not quote:
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        # Only ` #` starts a comment: `a#b` and `a\t#b` keep theirs.
        return _go_expand(_go_rstrip(text[pos:end].split(" #", 1)[0]), pos, lookup, refuse), end
    chars: list[str] = []
    escaped = False
    for index in range(pos + 1, len(text)):
        char = text[index]
        if char != quote:
            if not escaped and char == "\\":
                escaped = True
                continue
            if escaped:
                escaped = False
                chars.append("\\")
            chars.append(char)
            continue
        if escaped:  # \" in a double-quoted value, \' in a single-quoted one
            escaped = False
            chars.append(char)
            continue
        value = "".join(chars)
        if quote == '"':
            value = _go_expand(_go_escapes(value), pos, lookup, refuse)
        return value, index + 1
    line = text[pos:].split("\n", 1)[0]
    raise refuse(pos, f"unterminated quoted value {excerpt(line)}")


def _go_rstrip(value: str) -> str:
    end = len(value)
    while end and _go_is_unicode_space(value[end - 1]):
        end -= 1
    return value[:end]


def _go_escapes(value: str) -> str:
    """parser.go expandEscapes: Go's rune-literal escapes, `\\$` as a literal `$`."""

    def one(match: re.Match[str]) -> str:
        escape = match.group()
        if escape == "\\$":
            return "$$"  # the interpolation's own escape for a literal `$`
        if escape.startswith("\\0"):
            octal = "\\" + escape[2:]  # Go's octal escapes have no leading 0
            digits = octal[1:]
            valid = len(digits) == 3 and all(d in "01234567" for d in digits)
            return chr(int(digits, 8)) if valid and int(digits, 8) <= 0xFF else octal
        return _GO_SIMPLE_ESCAPES.get(escape[1], escape)  # `\c` is no Go escape: kept

    return _GO_ESCAPE.sub(one, value)


def _go_expand(value: str, pos: int, lookup: _Lookup, refuse: _Refuse) -> str:
    try:
        return interpolate(value, _LookupMapping(lookup))
    except PreflightError as exc:
        raise refuse(pos, str(exc)) from None


# --- python-dotenv ----------------------------------------------------------------------

_PY_WHITESPACE = re.compile(r"\s*", re.MULTILINE)
_PY_BLANK = re.compile(r"[^\S\r\n]*")
_PY_EXPORT = re.compile(r"(?:export[^\S\r\n]+)?")
_PY_QUOTED_KEY = re.compile(r"'([^']+)'")
_PY_KEY = re.compile(r"([^=\#\s]+)")
_PY_EQUALS = re.compile(r"(=[^\S\r\n]*)")
_PY_SINGLE = re.compile(r"'((?:\\.|[^'\\])*)'", re.DOTALL)
_PY_DOUBLE = re.compile(r'"((?:\\.|[^"\\])*)"', re.DOTALL)
_PY_UNQUOTED = re.compile(r"([^\r\n]*)")
_PY_COMMENT = re.compile(r"(?:[^\S\r\n]*#[^\r\n]*)?")
_PY_END = re.compile(r"[^\S\r\n]*(?:\r\n|\n|\r|$)")
_PY_REST = re.compile(r"[^\r\n]*(?:\r|\n|\r\n)?")
_PY_DOUBLE_ESCAPES = re.compile(r"\\[\\'\"abfnrtv]")
_PY_SINGLE_ESCAPES = re.compile(r"\\[\\']")
_PY_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_PY_VARIABLE = re.compile(r"\$\{(?P<name>[^\}:]*)(?::-(?P<default>[^\}]*))?\}")


class _Skip(Exception):
    """A line python-dotenv cannot parse: it warns and goes on after it."""


def parse_python_dotenv(text: str, environ: Mapping[str, str]) -> dict[str, str]:
    """`.env` text as python-dotenv's `dotenv_values` reads it (a bare key reads as unset)."""
    # open() in text mode has already turned CRLF and a lone CR into LF.
    text = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix(BOM)
    raw: list[tuple[str, str | None]] = []
    pos = 0
    while pos < len(text):
        pos = _PY_WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            break
        try:
            key, value, pos = _py_binding(text, pos)
        except _Skip as skip:
            pos = _PY_REST.match(text, int(str(skip))).end()  # type: ignore[union-attr]
            continue
        if key is not None:
            raw.append((key, value))
    resolved: dict[str, str | None] = {}
    # main.py resolve_variables(override=True): the lines above win over the environment.
    scope: dict[str, str | None] = dict(environ)
    expanded = 0
    for key, value in raw:
        resolved[key] = scope[key] = None if value is None else _py_interpolate(value, scope)
        expanded += len(resolved[key] or "")
        if expanded > MAX_ENV_EXPANDED:
            raise PreflightError(_too_much())
    return {key: value for key, value in resolved.items() if value is not None}


def _py_binding(text: str, pos: int) -> tuple[str | None, str | None, int]:
    """One statement from `pos`: key, value (None for a bare key), the index after it."""
    pos = _PY_EXPORT.match(text, pos).end()  # type: ignore[union-attr]
    if text.startswith("#", pos):
        key = None
    else:
        match = (_PY_QUOTED_KEY if text.startswith("'", pos) else _PY_KEY).match(text, pos)
        if match is None:
            raise _Skip(pos)
        key, pos = match.group(1), match.end()
    pos = _PY_BLANK.match(text, pos).end()  # type: ignore[union-attr]
    value: str | None = None
    if text.startswith("=", pos):
        equals = _PY_EQUALS.match(text, pos)
        assert equals is not None
        pos = equals.end()
        # `KEY= # note` is empty; `KEY=#x` keeps the `#`.
        if len(equals.group(1)) > 1 and text.startswith("#", pos):
            value = ""
        else:
            value, pos = _py_value(text, pos)
    pos = _PY_COMMENT.match(text, pos).end()  # type: ignore[union-attr]
    end = _PY_END.match(text, pos)
    if end is None:
        raise _Skip(pos)
    return key, value, end.end()


def _py_value(text: str, pos: int) -> tuple[str, int]:
    char = text[pos : pos + 1]
    if char in ("'", '"'):
        match = (_PY_SINGLE if char == "'" else _PY_DOUBLE).match(text, pos)
        if match is None:
            raise _Skip(pos)
        escapes = _PY_SINGLE_ESCAPES if char == "'" else _PY_DOUBLE_ESCAPES
        return escapes.sub(_py_unescape, match.group(1)), match.end()
    if char in ("", "\n", "\r"):
        return "", pos
    match = _PY_UNQUOTED.match(text, pos)
    assert match is not None
    return re.sub(r"\s+#.*", "", match.group(1)).rstrip(), match.end()


def _py_unescape(match: re.Match[str]) -> str:
    char = match.group()[1]
    return _PY_ESCAPES.get(char, char)


def _py_interpolate(value: str, scope: Mapping[str, str | None]) -> str:
    """variables.py: `${NAME}` and `${NAME:-default}` only; everything else stays as it is."""

    size = len(value)

    def one(match: re.Match[str]) -> str:
        nonlocal size
        found = scope.get(match["name"], match["default"] or "")
        size += len(found or "")
        if size > MAX_VALUE:  # as in `interpolate`: a doubling value is refused, not built
            raise PreflightError(f"a value expands past {MAX_VALUE // 1024} KiB: refused")
        return found or ""

    return _PY_VARIABLE.sub(one, value)


# --- shared -----------------------------------------------------------------------------


def _too_much() -> str:
    return f"the values expand past {MAX_ENV_EXPANDED // (1024 * 1024)} MiB in all: refused"


class _LookupMapping(Mapping[str, str]):
    """A lookup function as the Mapping `interpolate` reads (get() is all it uses)."""

    def __init__(self, lookup: _Lookup) -> None:
        self._lookup = lookup

    def __getitem__(self, key: str) -> str:
        found = self._lookup(key)
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0
