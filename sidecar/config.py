"""Settings: modelled once, from `SIDECAR_*` variables, flags and an optional TOML file.

Settings are built from a mapping (the environment merged with command-line flags), so tests
pass a dict and nothing is read at import time. Every error becomes a `ConfigError` naming the
setting, which the CLI prints as one line and exits 3.
"""

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sidecar.backups.catalog import DEFAULT_PATTERNS
from sidecar.backups.judge import MAX_AGE
from sidecar.dburl import DatabaseURL
from sidecar.engines import dialect_of
from sidecar.identity.registry import pinnable_on
from sidecar.identity.settings import IdentitySettings
from sidecar.logs import Secrets
from sidecar.settings_fields import (
    EMPTY_SECRET,
    PREFIX,
    Count,
    DatabaseURLField,
    Declared,
    Duration,
    Fraction,
    Identifier,
    Pin,
    PositiveDuration,
    SecretFile,
    SecretFileField,
    declared,
    env_name,
    setting,
)


class ConfigError(Exception):
    """Invalid configuration: `setting` is the variable an operator has to fix."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.message = message


class TableConfig(BaseModel):
    """One watched table: its floor, allowed drop and staleness."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Identifier
    timestamp_column: Identifier | None = None
    min_rows: Count = 0
    max_drop: Fraction = 0.5
    max_age: Duration | None = None
    # Above this many (estimated) rows an exact COUNT(*) is too dear for every cycle: the
    # count becomes InnoDB's estimate, confirmed by bounded probes (see checks/row_count.py).
    exact_count_below: Count = 200_000
    # How often such a large table is counted in full, in the background.
    exact_count_interval: PositiveDuration = 600.0


@dataclass(frozen=True)
class BackupSettings:
    """The slice of configuration the backup checks need."""

    directory: Path
    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    max_age: float = MAX_AGE
    state_dir: Path | None = None  # where what each dump held is remembered


class BackupTable(BaseModel):
    """`[backups]` in the TOML file: the same three settings as the variables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dir: Path
    glob: list[str] | str | None = None
    max_age: PositiveDuration | None = None


class Settings(BaseSettings):
    """Everything the sidecar can be told. Field `x` is `SIDECAR_X` and `--x`."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    db_url: DatabaseURLField = setting(
        None,
        "mysql://user@host[:port]/database (mariadb:// too; ?unix_socket=/path)",
        hides="password",
    )
    db_password: SecretStr | None = setting(
        None,
        "the database password",
        hides="value",
        if_empty="unset it for an account without a password",
    )
    db_password_file: SecretFileField = setting(
        None,
        "a file holding the database password",
        hides="file",
        if_empty="an account without a password needs no password file",
    )
    table: Identifier | None = setting(None, "the table to watch, e.g. User")
    timestamp_column: Identifier | None = setting(
        None, "its creation-time column, e.g. createdAt (enables the newest-record check)"
    )
    min_rows: Count | None = setting(None, "fail below this many rows (default: 0)")
    max_drop: Fraction | None = setting(
        None, "fail when rows drop more than this below the high-water mark (default: 0.5 = 50%)"
    )
    max_age: Duration | None = setting(None, "warn when the newest record is older, e.g. 36h")
    exact_count_below: Count | None = setting(
        None, "above this many rows, estimates and bounded probes (default: 200000)"
    )
    exact_count_interval: PositiveDuration | None = setting(
        None, "how often large tables are counted in full (default: 10m)"
    )
    config: Path | None = setting(None, "a TOML file with several tables")
    data_dir: Path | None = setting(
        None, "where the database's data volume is mounted (read-only) in the sidecar"
    )
    identity_query: str | None = setting(None, "a lineage query returning one value")
    expect_identity: Pin | None = setting(None, "the pinned identity, as printed by sidecar adopt")
    state_dir: Path | None = setting(None, "where the memory is kept (a host path; default: none)")
    admin_url: DatabaseURLField = setting(
        None,
        "mysql:// URL of an account that may create the sentinel (CREATE, INSERT) in the same"
        " database, for --plant-sentinel",
        "adopt",
        hides="password",
    )
    admin_password_file: SecretFileField = setting(
        None,
        "a file holding the admin password",
        "adopt",
        hides="file",
        if_empty="an account without a password needs no password file",
    )
    timeout: PositiveDuration = setting(2.0, "the budget of each check")
    interval: PositiveDuration = setting(5.0, "time between check cycles", "serve")
    host: str = setting("0.0.0.0", "listen address", "serve")  # noqa: S104 - reachable from the stack
    port: int = setting(8080, "listen port", "serve")
    details_token: SecretStr | None = setting(
        None,
        "details (and /metrics) only for Authorization: Bearer <token>",
        "serve",
        hides="value",
        if_empty="set a token (openssl rand -hex 32), or unset it to show details to all",
    )
    details_token_file: SecretFileField = setting(
        None,
        "a file holding the details token",
        "serve",
        hides="file",
        if_empty="put a token in it (openssl rand -hex 32 > FILE)",
    )
    webhook_url: str | None = setting(
        None, "JSON POST on every verdict change (it may hold a secret)", "serve", hides="url"
    )
    push_url: str | None = setting(
        None,
        "GET after every cycle, for push monitors (it may hold a secret)",
        "serve",
        hides="url",
    )
    backup_dir: Path | None = setting(
        None, "where the backups are mounted (read-only); turns the backup checks on"
    )
    backup_glob: str | None = setting(
        None, "which files are backups, comma-separated (default: *.sql,*.sql.gz,*.sql.zst,*.dump)"
    )
    backup_max_age: PositiveDuration | None = setting(
        None, "warn when the newest backup is older, fail past twice it (default: 26h)"
    )
    log_level: str = setting("info", "debug, info, warning or error")

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

    @field_validator("port")
    @classmethod
    def _check_port(cls, value: int) -> int:
        if not 1 <= value <= 65535:
            raise ValueError("must be a port number from 1 to 65535")
        return value

    @model_validator(mode="after")
    def _timeout_fits(self) -> "Settings":
        if self.timeout > self.interval:
            raise ValueError("SIDECAR_TIMEOUT must not exceed SIDECAR_INTERVAL")
        return self

    @model_validator(mode="after")
    def _admin_on_the_same_database(self) -> "Settings":
        # The sentinel must be planted where the monitor account looks for it.
        admin, db = self.admin_url, self.db_url
        if admin is not None and db is not None and admin.database != db.database:
            raise ValueError(
                f"SIDECAR_ADMIN_URL must name the same database as SIDECAR_DB_URL ({db.database})"
            )
        if admin is not None and db is not None and admin.scheme != db.scheme:
            raise ValueError("SIDECAR_ADMIN_URL must name the same engine as SIDECAR_DB_URL")
        return self


# Every setting as the model declares it, in its order: what `--help`, the flags, the
# redaction and the refusals are derived from.
SETTINGS: dict[str, Declared] = {
    name: declared(name, info) for name, info in Settings.model_fields.items()
}


def _secret(settings: Settings, name: str) -> SecretStr | None:
    """Secret `name` (`details_token`): the content of its file setting (`details_token_file`)
    when that is set, else its variable (there may be only the file: `admin_password`)."""
    file: SecretFile | None = getattr(settings, f"{name}_file", None)
    if file is not None:
        return file.content
    value: SecretStr | None = getattr(settings, name, None)
    return value


def _with_password(settings: Settings, name: str) -> DatabaseURL | None:
    """URL setting `name` (`db_url`) with its password: from `db_password_file`, else
    `db_password`, else the URL's own."""
    url: DatabaseURL | None = getattr(settings, name)
    secret = _secret(settings, name.removesuffix("url") + "password")
    if url is None or secret is None:
        return url
    return url.with_password(secret.get_secret_value())


class ResolvedConfig(BaseModel):
    """Settings resolved once into the slices the parts need: the tables (each with its own
    settings), the identity settings and the backups; the database URLs and the details token
    with their secrets, from wherever the settings took them."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    settings: Settings
    tables: tuple[TableConfig, ...]
    identity: IdentitySettings
    backups: BackupSettings | None  # None: no backup directory to watch

    @property
    def db(self) -> DatabaseURL:
        """The database to use, with its password; ConfigError when none was configured."""
        url = _with_password(self.settings, "db_url")
        if url is None:
            raise ConfigError(
                "SIDECAR_DB_URL",
                "is required (mysql://user@host:3306/database or postgresql://user@host:5432/database)",
            )
        return url

    @property
    def admin(self) -> DatabaseURL | None:
        """The account `adopt --plant-sentinel` creates the sentinel with, with its password."""
        return _with_password(self.settings, "admin_url")

    @property
    def details_token(self) -> SecretStr | None:
        """The details token, from SIDECAR_DETAILS_TOKEN or its file."""
        return _secret(self.settings, "details_token")

    def secrets(self) -> Secrets:
        """Every secret, by what each setting declares secret, so log filters can redact them."""
        values: list[str | None] = []
        urls: list[str] = []
        for name, declaration in SETTINGS.items():
            value = getattr(self.settings, name)
            if value is None or declaration.hides is None:
                continue
            if declaration.hides == "url":
                urls.append(value)
            elif declaration.hides == "password":
                values.append(value.password)
            elif declaration.hides == "file":
                values.append(value.content.get_secret_value())
            else:
                values.append(value.get_secret_value())
        return Secrets(tuple(v for v in values if v), tuple(urls))


def settings_from_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """Pick `SIDECAR_*` entries of `environ` as settings fields; unknown names are refused."""
    chosen: dict[str, str] = {}
    for key, value in environ.items():
        if not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX) :].lower()
        if name not in SETTINGS:
            raise ConfigError(key, "is not a setting sidecar knows (check the spelling)")
        chosen[name] = value
    return chosen


def load_settings(values: Mapping[str, Any], flags: Collection[str] = ()) -> ResolvedConfig:
    """Validate settings given as field -> value, resolve secrets and tables. `flags`: which
    of them were given as command-line flags (which any user on the host sees in `ps`)."""
    for name, value in values.items():
        # An empty setting is an unset one, except a secret: set but empty is a secret that
        # failed to be generated or substituted, and an unset token shows details to everyone.
        declaration = SETTINGS.get(name)
        blank = isinstance(value, str) and not value.strip()
        if declaration is not None and declaration.hides == "value" and blank:
            raise ConfigError(declaration.variable, f"is empty: {declaration.if_empty}")
    cleaned = {k: v for k, v in values.items() if v is not None and v != ""}
    try:
        settings = Settings(**cleaned)
    except ValidationError as exc:
        raise _first_error(exc) from None
    for name in flags:
        _refuse_password_in_flag(settings, name)
    tables = _resolve_tables(settings)
    identity = IdentitySettings(
        data_dir=settings.data_dir,
        query=settings.identity_query,
        pin=_pin_for(settings.expect_identity or {}, settings.db_url),
        tables=tuple(table.name for table in tables),
    )
    return ResolvedConfig(
        settings=settings, tables=tables, identity=identity, backups=_resolve_backups(settings)
    )


def _pin_for(pin: dict[str, str], database: DatabaseURL | None) -> dict[str, str]:
    """The pin, refused when it names a source the engine cannot read: never compared, such a
    pin would protect nothing while looking like it does."""
    if database is None:
        return pin
    dialect = dialect_of(database)
    readable = pinnable_on(dialect)
    for name in pin:
        if name not in readable:
            raise ConfigError(
                "SIDECAR_EXPECT_IDENTITY",
                f"names {name}, which {dialect.name} has no way to read"
                f" (on {dialect.name}: {', '.join(readable)})",
            )
    return pin


def _refuse_password_in_flag(settings: Settings, name: str) -> None:
    """A password inside a URL given as a flag would show in `ps`: refused, never used."""
    declaration = SETTINGS[name]
    if declaration.hides != "password" or getattr(settings, name).password is None:
        return
    # Where its password may come from instead: the settings `_with_password` reads.
    stem = name.removesuffix("url") + "password"
    sources = [SETTINGS[other] for other in (stem, f"{stem}_file") if other in SETTINGS]
    instead = [other.variable if other.environment_only else other.flag for other in sources]
    raise ConfigError(
        declaration.flag,
        "must not carry a password (any user on the host sees it in ps): use "
        + " or ".join(instead),
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
    sensitive = loc[0] in SETTINGS and SETTINGS[loc[0]].hides is not None
    if error["type"] == "extra_forbidden":
        return ConfigError(setting, "is not a setting sidecar knows (check the spelling)")
    if error["type"] == EMPTY_SECRET:
        message = f"{message}: {SETTINGS[loc[0]].if_empty}"
    if value is not None and not sensitive and not isinstance(value, dict | list):
        shown = repr(value) if len(repr(value)) < 80 else repr(value)[:77] + "..."
        # Not when the message already starts with the value, as the operator wrote it.
        if shown not in message and not message.startswith(str(value).strip()):
            message = f"{shown}: {message}"
    return ConfigError(setting, message)


def _patterns(value: list[str] | str, setting: str) -> tuple[str, ...]:
    parts = value if isinstance(value, list) else value.split(",")
    patterns = tuple(p.strip() for p in parts if p.strip())
    if not patterns or any("/" in p for p in patterns):
        raise ConfigError(setting, "must be file-name patterns such as *.sql.gz, comma-separated")
    return patterns


def _resolve_backups(settings: Settings) -> BackupSettings | None:
    table = _backups_from_toml(settings.config) if settings.config is not None else None
    directory = settings.backup_dir or (table.dir if table else None)
    if directory is None:
        if settings.backup_glob is not None or settings.backup_max_age is not None:
            raise ConfigError("SIDECAR_BACKUP_DIR", "is needed to watch backups")
        return None
    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    if settings.backup_glob is not None:
        patterns = _patterns(settings.backup_glob, "SIDECAR_BACKUP_GLOB")
    elif table is not None and table.glob is not None:
        patterns = _patterns(table.glob, "SIDECAR_CONFIG backups.glob")
    max_age = settings.backup_max_age or (table.max_age if table else None) or MAX_AGE
    return BackupSettings(directory, patterns, max_age, settings.state_dir)


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


def _toml(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError("SIDECAR_CONFIG", f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("SIDECAR_CONFIG", f"{path} is not valid TOML: {exc}") from None
    return document


def _backups_from_toml(path: Path) -> BackupTable | None:
    entry = _toml(path).get("backups")
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise ConfigError("SIDECAR_CONFIG", f"{path}: `backups` must be a table")
    try:
        return BackupTable(**entry)
    except ValidationError as exc:
        raise _first_error(exc, prefix="SIDECAR_CONFIG backups.") from None


def _tables_from_toml(path: Path, defaults: dict[str, Any]) -> list[TableConfig]:
    document = _toml(path)
    unknown = set(document) - {"tables", "backups"}
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
