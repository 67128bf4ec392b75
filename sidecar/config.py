"""Settings: modelled once, from `SIDECAR_*` variables, flags and an optional TOML file.

Settings are built from a mapping (the environment merged with command-line flags), so tests
pass a dict and nothing is read at import time. Every error becomes a `ConfigError` naming the
setting, which the CLI prints as one line and exits 3.
"""

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sidecar import identifiers
from sidecar.dburl import DatabaseURL, parse_db_url
from sidecar.durations import parse_duration
from sidecar.identity.pin import parse_pin
from sidecar.identity.settings import IdentitySettings

PREFIX = "SIDECAR_"


class ConfigError(Exception):
    """Invalid configuration: `setting` is the variable an operator has to fix."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.message = message


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
Duration = Annotated[float, BeforeValidator(_duration)]
PositiveDuration = Annotated[float, BeforeValidator(_duration), Field(gt=0)]
Identifier = Annotated[str, BeforeValidator(identifiers.validate)]


class TableConfig(BaseModel):
    """One watched table: its floor, allowed drop and staleness."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Identifier
    timestamp_column: Identifier | None = None
    min_rows: int = Field(default=0, ge=0)
    max_drop: float = Field(default=0.5, ge=0, le=1)
    max_age: Duration | None = None
    # Above this many (estimated) rows an exact COUNT(*) is too dear for every cycle: the
    # count becomes InnoDB's estimate, confirmed by bounded probes (see checks/row_count.py).
    exact_count_below: int = Field(default=200_000, ge=0)
    # How often such a large table is counted in full, in the background.
    exact_count_interval: PositiveDuration = 600.0


class Settings(BaseSettings):
    """Everything the sidecar can be told. Field `x` is `SIDECAR_X` and `--x`."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    db_url: DatabaseURLField = None
    db_password: SecretStr | None = None
    db_password_file: Path | None = None
    table: Identifier | None = None
    timestamp_column: Identifier | None = None
    min_rows: int | None = Field(default=None, ge=0)
    max_drop: float | None = Field(default=None, ge=0, le=1)
    max_age: Duration | None = None
    exact_count_below: int | None = Field(default=None, ge=0)
    config: Path | None = None
    data_dir: Path | None = None
    identity_query: str | None = None
    expect_identity: Annotated[dict[str, str] | None, BeforeValidator(_pin)] = None
    state_dir: Path | None = None
    interval: PositiveDuration = 5.0
    timeout: PositiveDuration = 2.0
    exact_count_interval: PositiveDuration | None = None
    host: str = "0.0.0.0"  # noqa: S104 - a sidecar must be reachable from its pod/stack
    port: int = Field(default=8080, ge=1, le=65535)
    details_token: SecretStr | None = None
    webhook_url: str | None = None
    push_url: str | None = None
    log_level: str = "info"

    # The only source is the mapping handed to `load_settings`: tests and the CLI decide
    # exactly what is read, and nothing leaks in from the process environment.
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @field_validator("identity_query")
    @classmethod
    def _check_query(cls, value: str | None) -> str | None:
        if value is not None and not value.lstrip().lower().startswith(("select", "with")):
            raise ValueError("must be a single SELECT returning one value")
        if value is not None and ";" in value.rstrip().rstrip(";"):
            raise ValueError("must be a single statement (no ';' inside)")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return value.lower()

    @field_validator("webhook_url", "push_url")
    @classmethod
    def _check_http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _timeout_fits(self) -> "Settings":
        if self.timeout > self.interval:
            raise ValueError("SIDECAR_TIMEOUT must not exceed SIDECAR_INTERVAL")
        return self


class ResolvedConfig(BaseModel):
    """Settings resolved once into the slices the parts need: the database URL with its
    password, the tables (each with its own settings) and the identity settings."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    settings: Settings
    database: DatabaseURLField
    tables: tuple[TableConfig, ...]
    identity: IdentitySettings

    @property
    def db(self) -> DatabaseURL:
        """The database to use; ConfigError when none was configured."""
        if self.database is None:
            raise ConfigError("SIDECAR_DB_URL", "is required (mysql://user@host:3306/database)")
        return self.database

    def secrets(self) -> list[str]:
        """Every secret value, so log and output filters can redact them."""
        values = [url.password if url else None for url in (self.database, self.settings.db_url)]
        for secret in (self.settings.db_password, self.settings.details_token):
            values.append(secret.get_secret_value() if secret else None)
        return [v for v in values if v]


def env_name(field: str) -> str:
    """The environment variable for a settings field."""
    return PREFIX + field.upper()


def settings_from_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """Pick `SIDECAR_*` entries of `environ` as settings fields; unknown names are refused."""
    fields = set(Settings.model_fields)
    chosen: dict[str, str] = {}
    for key, value in environ.items():
        if not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX) :].lower()
        if name not in fields:
            raise ConfigError(key, "is not a setting sidecar knows (check the spelling)")
        chosen[name] = value
    return chosen


def load_settings(values: Mapping[str, Any]) -> ResolvedConfig:
    """Validate settings given as field -> value, resolve secrets and tables."""
    cleaned = {k: v for k, v in values.items() if v is not None and v != ""}
    try:
        settings = Settings(**cleaned)
    except ValidationError as exc:
        raise _first_error(exc) from None
    identity = IdentitySettings(
        data_dir=settings.data_dir,
        query=settings.identity_query,
        pin=settings.expect_identity or {},
    )
    return ResolvedConfig(
        settings=settings,
        database=_resolve_database(settings),
        tables=_resolve_tables(settings),
        identity=identity,
    )


def _first_error(exc: ValidationError, prefix: str = "") -> ConfigError:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if not loc:
        # model-level validators name the setting in their own message
        setting, _, rest = message.partition(" ")
        return ConfigError(setting, rest)
    setting = prefix + ".".join(loc) if prefix else env_name(loc[0])
    sensitive = loc[0] in {"db_password", "details_token", "db_url"}
    if error["type"] == "extra_forbidden":
        return ConfigError(setting, "is not a setting sidecar knows (check the spelling)")
    if value is not None and not sensitive and not isinstance(value, dict | list):
        shown = repr(value) if len(repr(value)) < 80 else repr(value)[:77] + "..."
        if shown not in message:
            message = f"{shown}: {message}"
    return ConfigError(setting, message)


def read_secret(path: Path) -> str:
    """A secret file's content without the trailing newline editors and `echo` add."""
    return path.read_text().rstrip("\r\n")


def _resolve_database(settings: Settings) -> DatabaseURL | None:
    url = settings.db_url
    if url is None:
        return None
    password = url.password
    if settings.db_password is not None:
        password = settings.db_password.get_secret_value()
    if settings.db_password_file is not None:
        try:
            password = read_secret(settings.db_password_file)
        except OSError as exc:
            raise ConfigError(
                "SIDECAR_DB_PASSWORD_FILE",
                f"cannot read {settings.db_password_file}: {exc.strerror}",
            ) from None
    return url.with_password(password)


def _resolve_tables(settings: Settings) -> tuple[TableConfig, ...]:
    tables: list[TableConfig] = []
    # SIDECAR_EXACT_COUNT_INTERVAL is every table's default; a TOML table may set its own.
    defaults: dict[str, Any] = {}
    if settings.exact_count_interval is not None:
        defaults["exact_count_interval"] = settings.exact_count_interval
    if settings.config is not None:
        tables.extend(_tables_from_toml(settings.config, defaults))
    if settings.table is not None:
        overrides = {
            "timestamp_column": settings.timestamp_column,
            "min_rows": settings.min_rows,
            "max_drop": settings.max_drop,
            "max_age": settings.max_age,
            "exact_count_below": settings.exact_count_below,
        }
        given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        tables.append(TableConfig(name=settings.table, **{**defaults, **given}))
    elif settings.timestamp_column is not None and settings.config is None:
        raise ConfigError("SIDECAR_TIMESTAMP_COLUMN", "needs SIDECAR_TABLE to say which table")
    names = [t.name for t in tables]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError("SIDECAR_CONFIG", f"table {duplicates[0]!r} is configured twice")
    return tuple(tables)


def _tables_from_toml(path: Path, defaults: dict[str, Any]) -> list[TableConfig]:
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError("SIDECAR_CONFIG", f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("SIDECAR_CONFIG", f"{path} is not valid TOML: {exc}") from None
    unknown = set(document) - {"tables"}
    if unknown:
        raise ConfigError("SIDECAR_CONFIG", f"unknown key {sorted(unknown)[0]!r} in {path}")
    entries = document.get("tables", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError("SIDECAR_CONFIG", f"{path}: `tables` must be an array of tables")
    result = []
    for index, entry in enumerate(entries):
        try:
            result.append(TableConfig(**{**defaults, **entry}))
        except ValidationError as exc:
            raise _first_error(exc, prefix=f"SIDECAR_CONFIG tables[{index}].") from None
    return result
