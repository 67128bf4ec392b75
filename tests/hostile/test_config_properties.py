"""Property tests: whatever an operator (or an attacker with a foot in the config) types,
configuration either becomes plain identifiers and sane numbers, or a clean refusal.

Anything that is not a plain identifier raises ValueError/ConfigError and never reaches SQL;
a quoted identifier is always one backtick-quoted run of `[A-Za-z0-9_$]`; no error message
ever carries the password.
"""

import math
import re
import string
from urllib.parse import quote as urlquote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sidecar import identifiers
from sidecar.config import ConfigError, Settings, load_settings
from sidecar.dburl import parse_db_url
from sidecar.durations import parse_duration

QUOTED = re.compile(r"`[A-Za-z0-9_$]+`")
PLAIN = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]{0,63}")
SECRET_MARK = "Pw7q"  # every generated password starts with it, so we can find any echo

examples = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Identifiers that look almost right: the characters SQL injection and quoting bugs live on.
NEAR_IDENTIFIERS = st.text(
    alphabet=st.sampled_from(
        [
            *"Ab_$0",
            "`",
            "'",
            '"',
            ";",
            " ",
            "-",
            "/",
            "*",
            "\\",
            "\n",
            "\x00",
            "é",
            "İ",
            "\u200b",
            ".",
        ]
    ),
    max_size=70,
)
ANY_TEXT = st.text(max_size=80)


@examples
@given(st.one_of(ANY_TEXT, NEAR_IDENTIFIERS))
@example("User")
@example("`User`; DROP TABLE User; --")
@example("a" * 65)
def test_identifiers_are_plain_or_refused(name: str) -> None:
    """validate() passes exactly the plain identifiers; quote() is always one clean token."""
    try:
        quoted = identifiers.quote(name)
    except ValueError as exc:
        assert not PLAIN.fullmatch(name), name
        assert "not a plain identifier" in str(exc)
        return
    assert PLAIN.fullmatch(name), name
    assert QUOTED.fullmatch(quoted), quoted
    assert quoted == f"`{name}`"


def test_a_trailing_newline_is_not_an_identifier() -> None:
    """`User\\n` (an env file with a stray newline) is refused, not quoted as `User\\n`."""
    with pytest.raises(ValueError):
        identifiers.quote("User\n")


@examples
@given(st.one_of(ANY_TEXT, st.floats(allow_nan=True), st.integers(), st.booleans()))
@example("9" * 400)
@example("1e3s")
@example("-1s")
@example("nan")
def test_durations_are_finite_non_negative_or_refused(value: object) -> None:
    """parse_duration() returns a finite number >= 0, or raises ValueError: nothing else."""
    try:
        seconds = parse_duration(value)  # type: ignore[arg-type]
    except ValueError:
        return
    assert math.isfinite(seconds) and seconds >= 0


@examples
@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["ms", "s", "m", "h", "d", ""]))
def test_durations_mean_what_they_say(number: int, unit: str) -> None:
    """`<n><unit>` is n times the unit, with plain numbers in seconds."""
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}[unit]
    assert parse_duration(f"{number}{unit}") == pytest.approx(number * factor)


PASSWORDS = st.text(min_size=0, max_size=30).map(lambda tail: SECRET_MARK + tail)
URL_PART = st.one_of(st.text(max_size=20), NEAR_IDENTIFIERS)


@st.composite
def db_urls(draw: st.DrawFn) -> tuple[str, str]:
    """A mysql:// URL (often odd) carrying a password, encoded properly or not at all."""
    password = draw(PASSWORDS)
    encoded = draw(st.booleans())
    secret = urlquote(password, safe="") if encoded else password
    scheme = draw(st.sampled_from(["mysql", "mariadb", "postgres", "MYSQL", ""]))
    user = draw(st.one_of(st.just("monitor"), URL_PART))
    host = draw(st.one_of(st.just("127.0.0.1"), st.just("[::1"), URL_PART))
    port = draw(st.one_of(st.just(""), st.integers(-5, 70000).map(lambda p: f":{p}"), URL_PART))
    database = draw(st.one_of(st.just("app"), URL_PART))
    query = draw(st.one_of(st.just(""), st.just("?unix_socket=/run/m.sock"), URL_PART))
    return f"{scheme}://{user}:{secret}@{host}{port}/{database}{query}", password


@examples
@given(db_urls())
@example(("mysql://monitor:Pw7q@secret@127.0.0.1/app", "Pw7q@secret"))
@example(("mysql://monitor:Pw7q:x@127.0.0.1:99999/app", "Pw7q:x"))
def test_db_urls_parse_or_refuse_without_echoing_the_password(case: tuple[str, str]) -> None:
    """parse_db_url() yields a plain database name or a ValueError that hides the password."""
    url, password = case
    try:
        parsed = parse_db_url(url)
    except ValueError as exc:
        assert password not in str(exc)
        assert SECRET_MARK not in str(exc)
        return
    assert PLAIN.fullmatch(parsed.database), parsed
    assert password not in repr(parsed)


SETTING_VALUES = st.one_of(
    ANY_TEXT,
    NEAR_IDENTIFIERS,
    st.sampled_from(
        [
            "1s",
            "500ms",
            "0",
            "-1",
            "1e309",
            "nan",
            "99999999999999999999d",
            "User",
            "createdAt",
            "0.5",
            "1.5",
            "70000",
            "true",
            "volume=x",
            "SELECT 1",
            "http://x",
            "/nonexistent",
        ]
    ),
)
# Paths come from the environment or argv, where a NUL byte cannot occur.
FIELDS = sorted(set(Settings.model_fields) - {"db_url"})


@examples
@given(
    st.dictionaries(st.sampled_from(FIELDS), SETTING_VALUES, max_size=6),
    db_urls(),
)
def test_any_settings_load_or_fail_with_one_config_error(
    values: dict[str, str], case: tuple[str, str]
) -> None:
    """load_settings() returns plain identifiers or raises ConfigError naming a setting."""
    url, password = case
    for key in ("config", "db_password_file", "data_dir", "state_dir"):
        if key in values:
            values[key] = values[key].replace("\x00", "")
    values["db_url"] = url
    try:
        config = load_settings(values)
    except ConfigError as exc:
        assert exc.setting.startswith("SIDECAR_"), exc
        assert password not in str(exc) and SECRET_MARK not in str(exc), str(exc)
        return
    for table in config.tables:
        assert PLAIN.fullmatch(table.name), table
        assert table.timestamp_column is None or PLAIN.fullmatch(table.timestamp_column)
        assert QUOTED.fullmatch(identifiers.quote(table.name))
    assert config.settings.timeout <= config.settings.interval
    assert math.isfinite(config.settings.interval) and config.settings.interval > 0


@examples
@given(st.text(alphabet=string.printable, max_size=30).map(lambda t: SECRET_MARK + t))
def test_a_bad_setting_next_to_a_password_never_echoes_it(password: str) -> None:
    """The refusal of one setting names that setting, not the password sitting beside it."""
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "db_url": "mysql://monitor@127.0.0.1/app",
                "db_password": password,
                "details_token": password,
                "table": "no such table",
            }
        )
    assert caught.value.setting == "SIDECAR_TABLE"
    assert SECRET_MARK not in str(caught.value)
