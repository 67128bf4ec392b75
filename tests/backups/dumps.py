"""Real dumps for the tests: rows with awkward values, `mariadb-dump` runs, the three formats."""

import gzip
import os
import random
import subprocess
from pathlib import Path

import zstandard

from tests.support.mariadb import MariaDBTestServer

# Strings that trip a naive reader: quotes, escapes, statement and row ends, comment openers,
# newlines (mariadb-dump writes them escaped), unicode, and text that looks like a dump line.
AWKWARD = [
    "it's",
    "it''s",
    'say "hi"',
    "back\\slash",
    "ends with a backslash\\",
    "\\'",
    "semi;colon",
    "paren (x)",
    "),(",
    "),\n(",
    ");\n",
    "');\nINSERT INTO `User` VALUES (99,'x','2026-01-01');\n",
    "new\nline",
    "crlf\r\nline",
    "tab\tstop",
    "-- not a comment",
    "/* not a comment */",
    "/*!40000 nor this */",
    "# nor this",
    "`backtick`",
    "Grüße, 東京 😀",
    "",
    "x" * 3000,
]
NOTE_TABLE = (
    "CREATE TABLE Note (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT, data BLOB,"
    " label VARCHAR(100)) DEFAULT CHARSET=utf8mb4"
)


def blobs(count: int) -> list[bytes]:
    """Binary values holding NUL, quotes, backslashes, newlines, `;` and parentheses."""
    rng = random.Random(13)
    special = b"\x00'\\\n\r;(),\"`\x1a\xff"
    return [
        bytes(rng.choice(special + bytes(range(256))) for _ in range(i % 40)) for i in range(count)
    ]


def add_notes(server: MariaDBTestServer, database: str, rounds: int = 3) -> int:
    """A Note table in `database` holding every awkward string `rounds` times; its row count."""
    server.execute(NOTE_TABLE, database=database)
    texts = [text for text in AWKWARD for _ in range(rounds)]
    conn = server.connect(database=database)
    try:
        with conn.cursor() as cursor:
            for text, blob in zip(texts, blobs(len(texts)), strict=True):
                cursor.execute(
                    "INSERT INTO Note (body, data, label) VALUES (%s, %s, %s)",
                    (text, blob, text[:100] or None),
                )
    finally:
        conn.close()
    server.execute("INSERT INTO Note (body) VALUES (NULL)", database=database)
    return len(texts) + 1


def count(server: MariaDBTestServer, database: str, table: str) -> int:
    """`SELECT COUNT(*)`: what a dump of it must hold."""
    return int(server.execute(f"SELECT COUNT(*) FROM `{table}`", database=database)[0][0])


def mariadb_dump(server: MariaDBTestServer, *args: str) -> bytes:
    """The output of the real `mariadb-dump` against `server` as root."""
    command = ["mariadb-dump", "--host=127.0.0.1", f"--port={server.port}", "--user=root", *args]
    return subprocess.run(command, capture_output=True, check=True, timeout=120).stdout


def write(path: Path, sql: bytes, mtime: float | None = None) -> Path:
    """Write `sql` to `path`, compressed as its name says (`.gz` by gzip, `.zst` by zstd)."""
    if path.name.endswith(".gz"):
        data = gzip.compress(sql)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(sql)
    else:
        data = sql
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path
