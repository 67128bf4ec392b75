"""Real PostgreSQL dumps for the tests: an app database with awkward rows, pg_dump and pg_dumpall.

The tables are shaped like the app's: Prisma's quoted `"User"` (an identity column, so
`--inserts` writes `OVERRIDING SYSTEM VALUE`), a lowercase `user` beside it, `shop."Order"`
in another schema, and `a.b` / `public."a.b"`, the two readings of one configured name. The
values hold what trips a naive reader of COPY or of INSERTs, and a function body in dollar
quotes holds statements that are not data.
"""

import gzip
import os
import subprocess
from pathlib import Path

import zstandard

from sidecar.demo.postgres import SUPERUSER, SUPERUSER_PASSWORD, bin_dir
from tests.support.postgres_server import PostgresTestServer

# Values that trip a naive reader: COPY escapes (tab, newline, backslash, `\.`, `\N`), SQL
# quotes and statement ends, dollar quotes, comment openers, unicode, a dump line.
AWKWARD = [
    "tab\there",
    "new\nline",
    "crlf\r\nline",
    "back\\slash",
    "ends with a backslash\\",
    "\\.",
    "\\.\n",
    "\n\\.\n",
    "\\N",
    "it's",
    "it''s",
    'say "hi"',
    "semi;colon",
    "paren (x)",
    "),(",
    ");\n",
    "');\nINSERT INTO public.\"User\" VALUES (99, 'x');\n",
    '\\.\nCOPY public."User" (id) FROM stdin;\n1\n',
    "$$ not a body $$",
    "$fn$",
    "-- not a comment",
    "/* not a comment */",
    "E'\\''",
    "Grüße, 東京 😀",
    "",
    "x" * 5000,
]
USERS = 14
ODD_DATABASE = 'Shop\'s "DB" \\ 1'  # a quote, double quotes, a backslash, blanks
WATCHED = ["User", "user", "shop.Order", "a.b", '"a.b"', 'a."b"']
SCHEMA = [
    'CREATE TABLE "User" (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL,'
    " note text, data bytea, tags text[], meta jsonb)",
    'CREATE TABLE "user" (id int PRIMARY KEY, name text)',
    "CREATE SCHEMA shop",
    'CREATE TABLE shop."Order" (id int, "the body" text, "it""s" int)',
    "CREATE SCHEMA a",
    "CREATE TABLE a.b (id int)",
    'CREATE TABLE "a.b" (id int)',
    # A body in dollar quotes holding `;`, an INSERT and a COPY: none of it is data.
    "CREATE FUNCTION shop.touch() RETURNS int LANGUAGE plpgsql AS $fn$ BEGIN"
    " INSERT INTO public.\"User\" (email) VALUES ('from a body;'); -- $$ inside\n"
    " EXECUTE 'COPY public.\"user\" (id) FROM stdin;'; RETURN 1; END; $fn$",
]


def seed_app(server: PostgresTestServer, database: str = "app", users: int = USERS) -> None:
    """`database` with `users` plain users, one user per awkward value, and the other tables."""
    server.psql(f"CREATE DATABASE {database}")
    rows = [
        "INSERT INTO \"User\" (email, note, data, tags, meta) SELECT 'u' || g || '@example.com',"
        " NULL, '\\x00ff5c0a09'::bytea, ARRAY['a,b', 'c\"d', NULL], '{\"k\": \"v;)\"}'"
        f" FROM generate_series(1, {users}) g",
    ]
    for value in AWKWARD:
        literal = "'" + value.replace("'", "''") + "'"
        rows.append(f'INSERT INTO "User" (email, note) VALUES ({literal}, {literal})')
    rows += [
        "INSERT INTO \"user\" SELECT g, 'name ' || g FROM generate_series(1, 130) g",
        "INSERT INTO shop.\"Order\" SELECT g, E'line\\nbody\\t' || g, g"
        " FROM generate_series(1, 7) g",
        "INSERT INTO a.b SELECT generate_series(1, 5)",
        'INSERT INTO "a.b" SELECT generate_series(1, 2)',
    ]
    server.psql(*SCHEMA, *rows, database=database)


def live_counts(server: PostgresTestServer, database: str = "app") -> dict[str, int]:
    """SELECT COUNT(*) of each watched table, by its watched names."""
    tables = {
        "User": 'public."User"',
        "user": "public.user",
        "shop.Order": 'shop."Order"',
        '"a.b"': 'public."a.b"',
        'a."b"': "a.b",
    }
    counts = {}
    for name, table in tables.items():
        counts[name] = int(server.psql(f"SELECT COUNT(*) FROM {table}", database=database))
    return counts


def _env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "PGPASSWORD": SUPERUSER_PASSWORD}


def _connection(server: PostgresTestServer) -> list[str]:
    return ["-h", "127.0.0.1", "-p", str(server.port), "-U", SUPERUSER]


def pg_dump(server: PostgresTestServer, database: str, *options: str) -> bytes:
    """What the real `pg_dump` writes for `database` with `options`."""
    done = subprocess.run(
        [str(bin_dir() / "pg_dump"), *_connection(server), *options, database],
        capture_output=True,
        env=_env(),
        timeout=300,
        check=True,
    )
    return done.stdout


def pg_dumpall(server: PostgresTestServer) -> bytes:
    """What the real `pg_dumpall` writes for the whole cluster."""
    done = subprocess.run(
        [str(bin_dir() / "pg_dumpall"), *_connection(server)],
        capture_output=True,
        env=_env(),
        timeout=300,
        check=True,
    )
    return done.stdout


def write(path: Path, data: bytes, mtime: float | None = None) -> Path:
    """`data` at `path`, compressed by its name (`.gz`, `.zst`), with `mtime` if given."""
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path
