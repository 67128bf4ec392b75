"""Possessive quantifiers run as atomic groups, so that the scanner counts right on Python 3.11.2.

The scanner's own tests (test_scanner*.py, the property test against a reference reader) run
the rewritten expressions; these pin the rewrite, and run the scanner under the machine's own
Python where that is a 3.11 release with the CPython bug (Debian 12's python3 is 3.11.2, the
one in the sidecar's image).
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sidecar.backups import scanner
from sidecar.backups.possessive import atomic
from tests.backups.dumps import mariadb_dump
from tests.support.mariadb import MariaDBTestServer

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("pattern", "rewritten"),
    [
        (rb"a++b", rb"(?>a+)b"),
        (rb"a*+", rb"(?>a*)"),
        (rb"a?+", rb"(?>a?)"),
        (rb"a{2,3}+", rb"(?>a{2,3})"),
        (rb"(?:ab?c)*+", rb"(?>(?:ab?c)*)"),  # CPython gh-106052's own example
        (rb"[^*]++x", rb"(?>[^*]+)x"),
        (rb"[]a]*+", rb"(?>[]a]*)"),  # a leading `]` belongs to the class
        (rb"[^]a]++", rb"(?>[^]a]+)"),
        (rb"\x00*+", rb"(?>\x00*)"),
        (rb"\\.*+", rb"\\(?>.*)"),
        (rb"(?P<n>a)++", rb"(?>(?P<n>a)+)"),
        (rb"(?<=;)x*+", rb"(?<=;)(?>x*)"),
        (
            rb"(?:\s++|/\*(?:[^*]++|\*(?!/))*+\*/)*+",
            rb"(?>(?:(?>\s+)|/\*(?>(?:(?>[^*]+)|\*(?!/))*)\*/)*)",
        ),
        # Greedy, lazy and literal braces are left alone.
        (rb"a*b+?c??", rb"a*b+?c??"),
        (rb"x{,2}+", rb"(?>x{,2})"),
    ],
)
def test_possessive_quantifiers_become_atomic_groups(pattern: bytes, rewritten: bytes) -> None:
    assert atomic(pattern) == rewritten
    re.compile(rewritten)


def test_no_compiled_scanner_expression_keeps_a_possessive_quantifier() -> None:
    compiled = [v for v in vars(scanner).values() if isinstance(v, re.Pattern)]
    assert len(compiled) > 10
    for expression in compiled:
        assert atomic(expression.pattern) == expression.pattern, expression.pattern


def _python_with_the_bug() -> str | None:
    """The machine's python3 when it is a 3.11 before 3.11.5 (which fixed the bug), else None."""
    python = shutil.which("python3", path="/usr/bin")
    if python is None:
        return None
    done = subprocess.run(
        [python, "-c", "import sys; print(*sys.version_info[:3])"],
        capture_output=True,
        text=True,
        check=True,
    )
    version = tuple(int(p) for p in done.stdout.split())
    return python if (3, 11) <= version < (3, 11, 5) else None


def test_the_scanner_counts_a_real_dump_under_a_python_with_the_possessive_bug(
    dump_server: MariaDBTestServer, tmp_path: Path
) -> None:
    python = _python_with_the_bug()
    if python is None:
        pytest.skip("no Python 3.11.0-3.11.4 at /usr/bin/python3 to run the scanner under")
    dump = tmp_path / "app.sql"
    dump.write_bytes(mariadb_dump(dump_server, "app"))
    # The scanner alone needs only the standard library: fed the whole dump at once.
    program = (
        "import sys; from sidecar.backups.scanner import Scanner\n"
        "s = Scanner(frozenset({'User'})); data = open(sys.argv[1], 'rb').read()\n"
        "s.finish(data[s.feed(data, final=True):])\n"
        "print(s.completed, s.counts)\n"
    )
    done = subprocess.run(
        [python, "-c", program, str(dump)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True {('app', 'User'): 14}", done.stdout
