"""`sidecar events --since` takes a duration back from now as well as a time (issue 20)."""

import asyncio
import time
from pathlib import Path

import pytest

from sidecar.history import Event, History, Kind
from sidecar.history.events import parse_since
from sidecar.results import Status
from tests.support.servers import run_cli

NOW = 1_790_000_000.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", NOW - 3600),
        ("90m", NOW - 5400),
        ("2d", NOW - 2 * 86400),
        ("1.5h", NOW - 5400),
        ("1700000000", 1_700_000_000.0),  # a plain number is epoch seconds, as before
        ("2026-11-25T10:34:58Z", 1_795_602_898.0),
        ("2026-11-25T10:34:58", 1_795_602_898.0),  # naive means UTC
    ],
)
def test_since_is_a_time_or_a_duration_back_from_now(text: str, expected: float) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["soon", "-1h", "1w", "inf", "1h ago"])
def test_since_that_is_neither_names_both_forms(text: str) -> None:
    with pytest.raises(ValueError, match="nor a duration back from now") as raised:
        parse_since(text, NOW)
    assert "ISO-8601" in str(raised.value)


def test_sidecar_events_since_1h_prints_the_last_hour(tmp_path: Path) -> None:
    history = History(tmp_path, [])
    history.load()
    now = time.time()
    old = Event(now - 2 * 3600, Kind.VERDICT, "verdict fail (was pass): two hours ago", Status.FAIL)
    new = Event(now - 600, Kind.VERDICT, "verdict pass (was fail): ten minutes ago", Status.PASS)

    async def write() -> None:
        await history.record(None, [old, new], False)

    asyncio.run(write())
    history.close()
    result = run_cli("events", "--state-dir", str(tmp_path), "--since", "1h")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [new.line()]
    result = run_cli("events", "--state-dir", str(tmp_path), "--since", "3h")
    assert result.stdout.splitlines() == [old.line(), new.line()]
    result = run_cli("events", "--state-dir", str(tmp_path), "--since", "an hour")
    assert result.returncode == 3
    assert "--since: 'an hour' is not a time" in result.stderr
    assert len(result.stderr.splitlines()) == 1
