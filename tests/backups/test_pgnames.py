"""Which PostgreSQL table a watched name means: the rules of sidecar/backups/pgnames.py."""

import pytest

from sidecar.backups.pgnames import QualifiedName, dump_identifier, quoted, readings, resolve
from sidecar.backups.pgscanner import connect_target

USER = QualifiedName("public", "User")


@pytest.mark.parametrize(
    ("watched", "meant"),
    [
        ("User", [USER]),
        ("public.User", [USER, QualifiedName("public", "public.User")]),
        ("user", [QualifiedName("public", "user")]),
        ("shop.Order", [QualifiedName("shop", "Order"), QualifiedName("public", "shop.Order")]),
        ('"a.b"', [QualifiedName("public", "a.b")]),
        ('shop."a.b"', [QualifiedName("shop", "a.b")]),
        ('"we""ird".x', [QualifiedName('we"ird', "x")]),
    ],
)
def test_a_watched_name_reads_as_the_app_spells_it(
    watched: str, meant: list[QualifiedName]
) -> None:
    assert list(readings(watched)) == meant


def test_case_matters_and_the_default_schema_is_public() -> None:
    present = {USER, QualifiedName("public", "user"), QualifiedName("shop", "User")}
    assert resolve("User", present).table == USER
    assert resolve("user", present).table == QualifiedName("public", "user")
    assert resolve("USER", present).table is None
    assert resolve("shop.User", present).table == QualifiedName("shop", "User")


def test_two_readings_both_present_are_refused() -> None:
    present = {QualifiedName("a", "b"), QualifiedName("public", "a.b")}
    resolution = resolve("a.b", present)
    assert resolution.table is None
    assert resolution.why("a.b") == (
        'the name a.b is ambiguous in this dump: it holds both a.b and public."a.b";'
        ' configure it with SQL quotes, as schema."table" or "table.name"'
    )
    assert resolve('"a.b"', present).table == QualifiedName("public", "a.b")
    assert resolve('a."b"', present).table == QualifiedName("a", "b")
    assert resolve("a.b", {QualifiedName("a", "b")}).table == QualifiedName("a", "b")


def test_dump_names_are_read_as_postgresql_reads_them() -> None:
    assert dump_identifier(b'"User"') == "User"
    assert dump_identifier(b'"say ""hi"""') == 'say "hi"'
    assert dump_identifier(b"Users") == "users"  # unquoted: folded
    assert dump_identifier('"Grüße"'.encode()) == "Grüße"
    assert quoted("user") == "user" and quoted("User") == '"User"' and quoted("a.b") == '"a.b"'


@pytest.mark.parametrize(
    ("line", "database"),
    [
        (b"\\connect app", "app"),
        (b'\\connect "My DB"', "My DB"),
        (b"\\connect -reuse-previous=on \"dbname='we\\'ird db'\"", "we'ird db"),
        (b"\\c app", "app"),
        (b"\\restrict abc", None),
    ],
)
def test_connect_lines_name_their_database(line: bytes, database: str | None) -> None:
    assert connect_target(line) == database
