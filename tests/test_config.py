"""Configuration: every bad value is refused before anything connects, in one line, exit 3."""

from pathlib import Path

import pytest

from sidecar.config import ConfigError, load_settings
from tests.support.servers import run_cli

GOOD = {"SIDECAR_DB_URL": "mysql://monitor:s3cret-pw@127.0.0.1:1/app", "SIDECAR_TABLE": "User"}


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("SIDECAR_INTERVAL", "soon", "SIDECAR_INTERVAL"),
        ("SIDECAR_TIMEOUT", "-2s", "SIDECAR_TIMEOUT"),
        ("SIDECAR_MIN_ROWS", "-1", "SIDECAR_MIN_ROWS"),
        ("SIDECAR_MAX_DROP", "1.5", "SIDECAR_MAX_DROP"),
        ("SIDECAR_MAX_AGE", "yesterday", "SIDECAR_MAX_AGE"),
        ("SIDECAR_DB_URL", "redis://u@h/db", "SIDECAR_DB_URL"),
        ("SIDECAR_DB_URL", "postgres://u@h/", "SIDECAR_DB_URL"),
        ("SIDECAR_DB_URL", "mysql://u@h/", "SIDECAR_DB_URL"),
        ("SIDECAR_TABLE", "User`; DROP TABLE x", "SIDECAR_TABLE"),
        ("SIDECAR_TABLE", "User; DROP TABLE x", "SIDECAR_TABLE"),
        ("SIDECAR_TIMESTAMP_COLUMN", "created`At", "SIDECAR_TIMESTAMP_COLUMN"),
        ("SIDECAR_PORT", "99999", "SIDECAR_PORT"),
        ("SIDECAR_EXPECT_IDENTITY", "colour=blue", "SIDECAR_EXPECT_IDENTITY"),
        ("SIDECAR_IDENTITY_QUERY", "DELETE FROM User", "SIDECAR_IDENTITY_QUERY"),
        ("SIDECAR_TABEL", "User", "SIDECAR_TABEL"),
        ("SIDECAR_DB_PASSWORD_FILE", "/nonexistent/secret", "SIDECAR_DB_PASSWORD_FILE"),
    ],
)
def test_bad_setting_exits_3_with_one_line_naming_it(setting: str, value: str, named: str) -> None:
    result = run_cli("check", env={**GOOD, setting: value}, timeout=30)
    assert result.returncode == 3, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_bad_flag_value_is_refused_like_the_variable() -> None:
    # (`check` runs one cycle: it has --timeout but no --interval, which only `serve` uses.)
    result = run_cli("check", "--timeout", "soon", env=GOOD)
    assert result.returncode == 3
    assert "SIDECAR_TIMEOUT" in result.stderr


def test_timeout_longer_than_interval_is_refused() -> None:
    result = run_cli("serve", env={**GOOD, "SIDECAR_INTERVAL": "1s", "SIDECAR_TIMEOUT": "5s"})
    assert result.returncode == 3
    assert "SIDECAR_TIMEOUT" in result.stderr


def test_missing_database_url_is_refused_before_serving() -> None:
    result = run_cli("serve", env={"SIDECAR_TABLE": "User"})
    assert result.returncode == 3
    assert "SIDECAR_DB_URL" in result.stderr


def test_toml_with_several_tables(tmp_path: Path) -> None:
    path = tmp_path / "sidecar.toml"
    path.write_text(
        '[[tables]]\nname = "User"\ntimestamp_column = "createdAt"\nmin_rows = 10\n'
        'max_age = "36h"\n\n[[tables]]\nname = "Order"\nmax_drop = 0.2\n'
    )
    config = load_settings({"db_url": GOOD["SIDECAR_DB_URL"], "config": str(path)})
    assert [t.name for t in config.tables] == ["User", "Order"]
    assert config.tables[0].max_age == 36 * 3600
    assert config.tables[1].max_drop == 0.2


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ('[[tables]]\nname = "Us er"\n', "tables[0].name"),
        ('[[tables]]\nname = "User"\nmin_rows = -3\n', "tables[0].min_rows"),
        # TOML's true is not 1 row, nor 0.5 a count.
        ('[[tables]]\nname = "User"\nmin_rows = true\n', "tables[0].min_rows"),
        ('[[tables]]\nname = "User"\nmin_rows = 0.5\n', "tables[0].min_rows"),
        ('[[tables]]\nname = "User"\nmax_drop = false\n', "tables[0].max_drop"),
        ('[[tables]]\nname = "User"\ncolour = "red"\n', "tables[0].colour"),
        ('[[tables]]\nname = "User"\n[[tables]]\nname = "User"\n', "configured twice"),
        ("not toml at all [", "not valid TOML"),
        ("tabels = []\n", "unknown key"),
    ],
)
def test_bad_toml_names_the_entry(tmp_path: Path, document: str, named: str) -> None:
    path = tmp_path / "sidecar.toml"
    path.write_text(document)
    with pytest.raises(ConfigError) as caught:
        load_settings({"db_url": GOOD["SIDECAR_DB_URL"], "config": str(path)})
    assert named in str(caught.value)
    assert caught.value.setting.startswith("SIDECAR_CONFIG")


def test_password_comes_from_file_without_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file-pw\n")
    config = load_settings(
        {"db_url": "mysql://monitor@127.0.0.1/app", "db_password_file": str(secret)}
    )
    assert config.db.password == "from-file-pw"
    assert "from-file-pw" not in repr(config)
    assert "from-file-pw" not in repr(config.db)


def test_durations_in_every_documented_form() -> None:
    config = load_settings({"interval": "36h", "timeout": "500ms", "max_age": "2d"})
    assert config.settings.interval == 36 * 3600
    assert config.settings.timeout == 0.5
    assert config.settings.max_age == 2 * 86400
    assert load_settings({"interval": "7"}).settings.interval == 7.0


def test_url_forms() -> None:
    url = load_settings({"db_url": "mariadb://u:p%40ss@db.example:3307/shop"}).db
    assert (url.user, url.host, url.port, url.database, url.password) == (
        "u",
        "db.example",
        3307,
        "shop",
        "p@ss",
    )
    socket = load_settings({"db_url": "mysql://u@localhost/shop?unix_socket=/run/mysqld/m.sock"})
    assert socket.db.unix_socket == "/run/mysqld/m.sock"


@pytest.mark.parametrize(
    ("setting", "content"),
    [
        ("SIDECAR_DETAILS_TOKEN_FILE", b"\n"),
        ("SIDECAR_DETAILS_TOKEN_FILE", b""),
        ("SIDECAR_DETAILS_TOKEN_FILE", b" \t\r\n"),
        ("SIDECAR_DETAILS_TOKEN_FILE", b"\xff\xfeMarker-91"),
        ("SIDECAR_DETAILS_TOKEN_FILE", b"x" * (64 * 1024 + 1)),
        # An account without a password needs no file: an empty one is a secret gone missing.
        ("SIDECAR_DB_PASSWORD_FILE", b"\n"),
        ("SIDECAR_ADMIN_PASSWORD_FILE", b""),  # adopt's, read and refused as the others are
    ],
    ids=["newline", "empty", "whitespace", "not-utf8", "too-large", "password-newline", "admin"],
)
def test_a_secret_file_without_a_secret_refuses_to_start(
    tmp_path: Path, setting: str, content: bytes
) -> None:
    """A token file that failed to be generated would have opened the details to everyone:
    `serve` exits 3 with one line naming the setting (and never echoes the content)."""
    path = tmp_path / "secret"
    path.write_bytes(content)
    result = run_cli("serve", env={**GOOD, setting: str(path)}, timeout=20)
    assert result.returncode == 3, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"configuration: {setting}: " in lines[0], result.stderr
    assert str(path) in lines[0] and "Marker-91" not in result.stderr


@pytest.mark.parametrize("setting", ["SIDECAR_DETAILS_TOKEN", "SIDECAR_DB_PASSWORD"])
@pytest.mark.parametrize("value", ["", "  "])
def test_a_secret_variable_set_but_empty_refuses_to_start(setting: str, value: str) -> None:
    """`SIDECAR_DETAILS_TOKEN=` (a substitution that found nothing) is not "no token"."""
    result = run_cli("serve", env={**GOOD, setting: value}, timeout=20)
    assert result.returncode == 3, result
    assert result.stderr.strip() == result.stderr.strip().splitlines()[0]
    assert f"configuration: {setting}: is empty" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("150%", "SIDECAR_MAX_DROP: 150% is more than 100%"),
        ("-5%", "SIDECAR_MAX_DROP: -5% is not a percentage from 0% to 100%"),
        ("nan%", "SIDECAR_MAX_DROP: nan% is not a percentage from 0% to 100%"),
        ("100.5%", "SIDECAR_MAX_DROP: 100.5% is more than 100%"),
        ("1.5", "SIDECAR_MAX_DROP: 1.5 is more than 1 (100%): a fraction such as 0.5, or 50%"),
        ("-0.1", "SIDECAR_MAX_DROP: -0.1 is not a fraction from 0 to 1 (or 0% to 100%)"),
    ],
)
def test_a_percentage_out_of_range_is_refused_in_percent(value: str, message: str) -> None:
    """Not pydantic's "less than or equal to 1": in the terms the operator wrote."""
    with pytest.raises(ConfigError) as caught:
        load_settings({"db_url": GOOD["SIDECAR_DB_URL"], "table": "User", "max_drop": value})
    assert str(caught.value) == message


def test_a_percentage_out_of_range_in_toml_is_refused_in_percent(tmp_path: Path) -> None:
    path = tmp_path / "sidecar.toml"
    path.write_text('[[tables]]\nname = "User"\nmax_drop = "150%"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings({"db_url": GOOD["SIDECAR_DB_URL"], "config": str(path)})
    assert str(caught.value) == "SIDECAR_CONFIG tables[0].max_drop: 150% is more than 100%"
    assert load_settings({"max_drop": "100%", "table": "User"}).tables[0].max_drop == 1.0
