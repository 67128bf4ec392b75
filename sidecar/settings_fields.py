"""What a setting is: the kinds of value one may hold (durations, fractions, counts,
identifiers, database URLs, secret files) and `setting()`, which declares one with the commands
that use it and what of it is secret. The settings themselves are `sidecar.config.Settings`.
"""

import errno
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import BeforeValidator, Field, PlainSerializer, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from sidecar import identifiers
from sidecar.dburl import DatabaseURL, parse_db_url
from sidecar.durations import parse_duration
from sidecar.identity.pin import parse_pin

PREFIX = "SIDECAR_"


def env_name(field: str) -> str:
    """The environment variable for a settings field."""
    return PREFIX + field.upper()


def _duration(value: Any) -> float:
    return parse_duration(value)


def _url(value: Any) -> Any:
    return parse_db_url(value) if isinstance(value, str) else value


def _pin(value: Any) -> Any:
    return parse_pin(value) if isinstance(value, str) else value


def _redacted(url: DatabaseURL | None) -> str | None:
    return url.redacted() if url is not None else None


# A database URL, parsed once where it is read; no repr or dump of it shows the password.
DatabaseURLField = Annotated[
    DatabaseURL | None, BeforeValidator(_url), PlainSerializer(_redacted, return_type=str | None)
]

# A container secret is a short line; anything larger is the wrong file (or /dev/zero).
MAX_SECRET_BYTES = 64 * 1024
EMPTY_SECRET = "empty_secret"  # noqa: S105 - the error type of a secret file without a secret


@dataclass(frozen=True)
class SecretFile:
    """A file setting's path, and the secret it held when the settings were read."""

    path: Path
    content: SecretStr


def _read_secret(path: Path) -> str:
    """A secret file's content without the trailing newline editors and `echo` add; OSError
    (with a `strerror` to show) when it cannot be read, is too large, or is not UTF-8."""
    with path.open("rb") as file:
        data = file.read(MAX_SECRET_BYTES + 1)
    if len(data) > MAX_SECRET_BYTES:
        raise OSError(errno.EFBIG, f"larger than {MAX_SECRET_BYTES // 1024} KiB: not a secret")
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise OSError(errno.EILSEQ, "not UTF-8 text") from None
    return text.rstrip("\r\n")


def _secret_file(value: Any) -> Any:
    """Read the file a `hides="file"` setting names, once, where the settings are read: an
    unreadable or blank one refuses to start (a secret gone missing is not "no secret")."""
    if not isinstance(value, str | Path):
        return value
    path = Path(value)
    try:
        secret = _read_secret(path)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    if not secret.strip():
        # The settings model adds what to do about it: its `if_empty`.
        raise PydanticCustomError(EMPTY_SECRET, "{path} is empty", {"path": str(path)})
    return SecretFile(path, SecretStr(secret))


SecretFileField = Annotated[SecretFile | None, BeforeValidator(_secret_file)]


def _whole(value: Any) -> Any:
    # TOML's `true` would otherwise pass as 1.
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true/false")
    return value


def _fraction(value: Any) -> Any:
    # Bounds are checked here, in the terms the operator wrote (50%, or 0.5): pydantic's
    # would speak in fractions of a percentage ("less than or equal to 1" for 150%).
    if isinstance(value, bool):
        raise ValueError("must be a fraction such as 0.5 (or a percentage such as 50%)")
    if isinstance(value, str) and value.strip().endswith("%"):
        text = value.strip()
        try:
            percent = float(text[:-1])
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage (e.g. 50%)") from None
        if percent > 100:
            raise ValueError(f"{text} is more than 100%")
        if not percent >= 0:  # also NaN
            raise ValueError(f"{text} is not a percentage from 0% to 100%")
        return percent / 100
    if isinstance(value, int | float | str):
        try:
            number = float(value)
        except ValueError:
            return value  # not a number: pydantic says so
        text = str(value).strip()
        if number > 1:
            raise ValueError(f"{text} is more than 1 (100%): a fraction such as 0.5, or 50%")
        if not number >= 0:
            raise ValueError(f"{text} is not a fraction from 0 to 1 (or 0% to 100%)")
    return value


Duration = Annotated[float, BeforeValidator(_duration)]
Pin = Annotated[dict[str, str], BeforeValidator(_pin)]
PositiveDuration = Annotated[float, BeforeValidator(_duration), Field(gt=0)]
Identifier = Annotated[str, BeforeValidator(identifiers.validate)]
Count = Annotated[int, BeforeValidator(_whole), Field(ge=0)]
Fraction = Annotated[float, BeforeValidator(_fraction), Field(ge=0, le=1)]

# Which commands use a setting: `evaluate`, every command that evaluates; `serve`, the service
# only; `adopt`, `sidecar adopt` only.
Scope = Literal["evaluate", "serve", "adopt"]
# What of a setting's value is secret, so never shown (in a log line, an error, a dump):
# `value`: all of it (a password, a token); `url`: all but the scheme and host (a webhook's
# or push monitor's path and query are its key, and so is any user:password@);
# `password`: a database URL's password only (the rest names where, and is worth logging);
# `file`: a file's content, all of it (the path is not secret: container secrets).
# A `value` or `url` is read from the environment only, never from a flag (`ps` shows flags);
# a `password` URL given as a flag must carry none.
Secrecy = Literal["value", "url", "password", "file"]


def setting(
    default: Any = None,
    description: str = "",
    scope: Scope = "evaluate",
    hides: Secrecy | None = None,
    if_empty: str = "",
) -> Any:
    """A settings field with what `--help` says of it: a one-line description; which commands
    use it (`scope`); what of its value is secret (`hides`, see `Secrecy`); and, for a
    secret, what to do when it is set but empty (`if_empty`: a secret that failed to be
    generated or substituted is refused, never taken for none)."""
    return Field(
        default=default,
        description=description,
        json_schema_extra={"scope": scope, "hides": hides, "if_empty": if_empty},
    )


@dataclass(frozen=True)
class Declared:
    """What the settings model declares of one setting, beside its type and default."""

    name: str
    description: str
    scope: Scope
    hides: Secrecy | None
    if_empty: str

    @property
    def variable(self) -> str:
        """Its environment variable."""
        return env_name(self.name)

    @property
    def flag(self) -> str:
        """Its command-line flag (which a secret read from the environment only lacks)."""
        return "--" + self.name.replace("_", "-")

    @property
    def environment_only(self) -> bool:
        """A secret that is no flag: any user on the host sees flags in `ps`."""
        return self.hides in ("value", "url")


def declared(name: str, info: FieldInfo) -> Declared:
    """What `setting()` declared of field `name`."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return Declared(
        name,
        info.description or "",
        cast(Scope, extra["scope"]),
        cast(Secrecy | None, extra["hides"]),
        str(extra["if_empty"]),
    )
