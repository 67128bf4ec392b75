"""`postgresql://` URLs in libpq's form: what is accepted, and one plain line for the rest."""

from functools import partial

import pytest

from sidecar.dburl import DatabaseURL
from sidecar.engines.postgres.url import parse_postgres_url

PG = partial(DatabaseURL, scheme="postgresql")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://monitor@db/app", PG("monitor", "db", 5432, "app")),
        ("postgres://monitor@db:6432/app", PG("monitor", "db", 6432, "app")),
        (
            "postgresql://monitor:p%40ss@db/app?sslmode=require",
            DatabaseURL("monitor", "db", 5432, "app", None, "p@ss", "postgresql", "require"),
        ),
        (
            "postgresql://monitor@/app?host=/run/postgresql",
            PG("monitor", "localhost", 5432, "app", "/run/postgresql"),
        ),
        ("  postgresql://monitor@db/app\n", PG("monitor", "db", 5432, "app")),
    ],
)
def test_accepted_forms(url: str, expected: DatabaseURL) -> None:
    assert parse_postgres_url(url) == expected


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://monitor@db/app", "must start with postgresql:// or postgres://"),
        ("postgresql://db/app", "names no user"),
        ("postgresql://monitor@db/", "names no database"),
        ("postgresql://monitor@db:99999/app", "is not a valid URL"),
        ("postgresql://monitor@db/app;drop", "not a plain identifier"),
        ("postgresql://monitor@db/app?application_name=x", "unsupported parameter(s)"),
        ("postgresql://monitor@db/app?sslmode=maybe", "sslmode must be one of"),
        ("postgresql://monitor@db/app?host=relative/dir", "socket directory"),
        ("postgresql://monitor@db/app?sslmode=require&sslmode=disable", "names a parameter twice"),
        ("postgresql://monitor@db/app?sslmode", "malformed query string"),
        ("postgresql://monitor@/app", "names no host"),
    ],
)
def test_refused_forms_in_one_line_without_the_password(url: str, words: str) -> None:
    secret = url.replace("monitor@", "monitor:Hunter2-secret@", 1)
    with pytest.raises(ValueError) as refused:
        parse_postgres_url(secret)
    message = str(refused.value)
    assert words in message and "\n" not in message
    assert "Hunter2-secret" not in message


def test_the_redacted_form_keeps_what_locates_and_drops_the_password() -> None:
    url = parse_postgres_url(
        "postgres://monitor:pw@db/app?host=/run/postgresql&sslmode=verify-full"
    )
    assert (
        url.redacted()
        == "postgresql://monitor@db:5432/app?host=/run/postgresql&sslmode=verify-full"
    )
    assert "pw" not in repr(url)
