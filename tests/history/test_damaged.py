"""A damaged history file is a reported problem, never a crash (issue 20, row 12).

Every line below carries a valid checksum (or is damaged in a way the checksum cannot hide):
what it holds is wrong in type, range, depth or encoding. Each must be skipped and named, the
journal set aside, the good lines around it kept, and `sidecar events` and `sidecar serve`
must carry on over it.
"""

import asyncio
import gzip
import json
import zlib
from pathlib import Path

import pytest

from sidecar.history import History, Kind
from sidecar.history.files import JOURNAL, MAX_LINE, SNAPSHOT, encode
from sidecar.history.history import CycleSample, TableSample
from sidecar.results import Status
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import monitor_env, run_cli, running_sidecar, wait_for

T0 = 1_800_000_000.0
GOOD = {"t": T0, "d": 0.003, "v": "pass", "tables": {"User": [14, 14, 0, 7, 60]}}
EVENT = {"timestamp": T0, "kind": "verdict", "status": "fail", "message": "rows gone"}
MARKS = {
    "verdict": "pass",
    "verdict_since": T0,
    "checks": {},
    "identity": {},
    "pin": None,
    "baseline_at": None,
    "adopted_at": None,
}


def signed(text: bytes) -> bytes:
    """A journal line with a checksum that matches whatever `text` is."""
    return b"%08x %s" % (zlib.crc32(text), text)


def entry(**fields: object) -> bytes:
    return signed(json.dumps({"seq": 2, **fields}).encode())


def cycle(**change: object) -> bytes:
    return entry(cycle={**GOOD, **change})


def event(**change: object) -> bytes:
    return entry(event={**EVENT, **change})


def marks(**change: object) -> bytes:
    return entry(marks={**MARKS, **change})


MALFORMED = {
    "tables is an array (the reported crash)": cycle(tables=[]),
    "tables is a string": cycle(tables="User"),
    "a table's values are a string": cycle(tables={"User": "14"}),
    "a table's values are too few": cycle(tables={"User": [14]}),
    "a table's value is text": cycle(tables={"User": ["14", 14, 0, 7, 60]}),
    "a table's value is a huge integer": cycle(tables={"User": [10**400, 14, 0, 7, 60]}),
    "the time is text": cycle(t="1800000000"),
    "the time is a bool": cycle(t=True),
    "the time is a huge integer": cycle(t=10**400),
    "the time is past year 9999": cycle(t=1e300),
    "the time is before 1970": cycle(t=-5),
    "the time is infinite": signed(b'{"seq":2,"cycle":{"t":1e999,"d":0,"v":"pass","tables":{}}}'),
    "the time is NaN": signed(b'{"seq":2,"cycle":{"t":NaN,"d":0,"v":"pass","tables":{}}}'),
    "the verdict is unknown": cycle(v="purple"),
    "the verdict is an array": cycle(v=["pass"]),
    "the cycle is an array": entry(cycle=[GOOD]),
    "a key is missing": entry(cycle={"t": T0}),
    "the event is an array": entry(event=[EVENT]),
    "the event's message is a number": event(message=5),
    "the event's kind is unknown": event(kind="nope"),
    "the event's changes are a string": event(changes="abc"),
    "a change is a number": event(changes=[1]),
    "a change's value is an object": event(changes=[{"source": "volume", "old": {}, "new": "b"}]),
    "the event's message holds a lone surrogate": signed(
        b'{"seq":2,"event":{"timestamp":1800000000,"kind":"check","status":null,'
        b'"message":"\\udcff"}}'
    ),
    "the marks are an array": entry(marks=[]),
    "a check mark is a string": marks(checks={"rowCount:User": "abc"}),
    "a check mark is short": marks(checks={"rowCount:User": ["pass", T0]}),
    "the identity marks are an array": marks(identity=["volume"]),
    "an identity mark is a number": marks(identity={"volume": 5}),
}
DAMAGED = {
    "nested 100,000 deep": signed(b"[" * 100_000),
    "an object nested 100,000 deep": signed(b'{"seq":2,"cycle":' * 100_000),
    "bad UTF-8": signed(b'{"seq":2,"event":{"message":"\xff\xfe"}}'),
    "a 5000-digit integer": signed(b'{"seq":2,"cycle":{"t":' + b"9" * 5000 + b"}}"),
    "truncated JSON": signed(b'{"seq":2,"cycle":{"t":1800000'),
    "the seq is text": signed(b'{"seq":"2"}'),
    "the seq is past int64": signed(b'{"seq":%d}' % 2**64),
    "not an object": signed(b"[1, 2]"),
    "a line over the size cap": signed(b'{"seq":2,"x":"' + b"a" * MAX_LINE + b'"}'),
    "a checksum that is not hex": b'zzzzzzzz {"seq":2}',
}


def journal(tmp_path: Path, bad: bytes) -> None:
    """A good cycle, the bad line, a good cycle."""
    first = encode({"seq": 1, "cycle": GOOD})
    last = encode({"seq": 3, "cycle": {**GOOD, "t": T0 + 5}})
    (tmp_path / JOURNAL).write_bytes(first + bad + b"\n" + last)


def points(history: History) -> list[float]:
    return [p.time for p in history.tables["User"].tiers[0].points()]


@pytest.mark.parametrize("bad", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_entry_is_skipped_named_and_set_aside(tmp_path: Path, bad: bytes) -> None:
    journal(tmp_path, bad)
    history = History(tmp_path, ["User"])
    (problem,) = history.load()
    assert problem.startswith(f"1 malformed entry of {JOURNAL} skipped (first: ")
    assert problem.endswith(f"; set aside as {JOURNAL}.corrupt"), problem
    assert points(history) == [T0, T0 + 5]
    (warning,) = history.recent()
    assert warning.kind is Kind.STATE and warning.status is Status.WARN
    json.dumps(warning.to_json(), allow_nan=False).encode()  # what /events serves
    assert bad in (tmp_path / f"{JOURNAL}.corrupt").read_bytes()  # kept for a look
    assert History(tmp_path, ["User"]).load() == []  # what was kept reads back cleanly


@pytest.mark.parametrize("bad", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_line_is_skipped_named_and_set_aside(tmp_path: Path, bad: bytes) -> None:
    journal(tmp_path, bad)
    history = History(tmp_path, ["User"])
    assert history.load() == [
        f"1 damaged lines of {JOURNAL} skipped; set aside as {JOURNAL}.corrupt"
    ]
    assert points(history) == [T0, T0 + 5]


SNAPSHOTS = {
    "tables is an array": {"tables": []},
    "a tier's first bucket past int64": {
        "cycles": {"24h": {"first": 2**70, "steps": [], "columns": {}}}
    },
    "a tier's steps are a string": {"cycles": {"24h": {"first": 1, "steps": "12", "columns": {}}}},
    "a column is an object": {
        "cycles": {"24h": {"first": 1, "steps": [], "columns": {"duration": {}, "verdict": [0]}}}
    },
    "events is an object": {"events": {}},
    "an event is a string": {"events": ["verdict fail"]},
    "through is text": {"through": "7"},
    "marks are null": {"marks": None},
}


def snapshot(**change: object) -> dict[str, object]:
    return {
        "format": 1,
        "through": 0,
        "tables": {},
        "cycles": {},
        "events": [],
        "marks": MARKS,
        **change,
    }


@pytest.mark.parametrize("change", SNAPSHOTS.values(), ids=SNAPSHOTS.keys())
def test_a_malformed_snapshot_is_set_aside_and_the_journal_still_read(
    tmp_path: Path, change: dict[str, object]
) -> None:
    (tmp_path / SNAPSHOT).write_bytes(gzip.compress(json.dumps(snapshot(**change)).encode()))
    journal(tmp_path, encode({"seq": 2, "event": EVENT}).rstrip(b"\n"))
    history = History(tmp_path, ["User"])
    (problem,) = history.load()
    assert problem.startswith(f"{SNAPSHOT} is corrupt") and problem.endswith(".corrupt")
    assert points(history) == [T0, T0 + 5]
    assert "rows gone" in [e.message for e in history.recent()]


@pytest.mark.parametrize(
    "packed",
    [
        gzip.compress(b"[" * 100_000),
        gzip.compress(b'{"format":1,"through":' + b"9" * 5000 + b"}"),
        gzip.compress(b'{"format":1,"through":0,"x":"\xff"}'),
        gzip.compress(json.dumps(snapshot()).encode())[:-9],  # truncated
        b"\x1f\x8b not gzip at all",
    ],
    ids=["deep", "huge integer", "bad UTF-8", "truncated", "not gzip"],
)
def test_an_undecodable_snapshot_is_a_problem_not_a_crash(tmp_path: Path, packed: bytes) -> None:
    (tmp_path / SNAPSHOT).write_bytes(packed)
    (problem,) = History(tmp_path, ["User"]).load(repair=False)
    assert problem.startswith(f"{SNAPSHOT} is corrupt (")


def test_a_snapshot_that_expands_past_the_cap_is_not_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cap is what stops a small bomb; it is lowered here so the test stays small."""
    monkeypatch.setattr("sidecar.history.files.MAX_SNAPSHOT", 1024 * 1024)
    (tmp_path / SNAPSHOT).write_bytes(gzip.compress(b" " * (2 * 1024 * 1024)))
    (problem,) = History(tmp_path, ["User"]).load(repair=False)
    assert problem == f"{SNAPSHOT} is corrupt (expands past 1 MiB)"


def damaged_history(directory: Path) -> None:
    """A real history with one entry the service itself once crashed on (row 12)."""
    history = History(directory, ["User"])
    history.load()
    sample = CycleSample(T0, 0.003, Status.PASS, {"User": TableSample(14, 14, 0, 7, 60)})

    async def write() -> None:
        await history.record(sample, [], False)

    asyncio.run(write())
    history.close()
    with open(directory / JOURNAL, "ab") as file:
        file.write(signed(json.dumps({"seq": 9, "cycle": {**GOOD, "tables": []}}).encode()) + b"\n")


def test_sidecar_events_reports_a_damaged_history_and_prints_the_rest(tmp_path: Path) -> None:
    damaged_history(tmp_path)
    before = (tmp_path / JOURNAL).read_bytes()
    result = run_cli("events", env={"SIDECAR_STATE_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"sidecar events: 1 malformed entry of {JOURNAL} skipped")
    assert (tmp_path / JOURNAL).read_bytes() == before  # read only


def test_sidecar_serve_starts_on_a_damaged_history_and_says_so(
    tmp_path: Path, seeded: MariaDBTestServer
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    damaged_history(state)
    env = monitor_env(seeded, state_dir=state)
    with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
        sidecar.wait_status("pass")
        found = sidecar.get("/events").json()["events"]
        assert any(e["kind"] == "state" and "malformed entry" in e["message"] for e in found)
        wait_for(lambda: sidecar.get("/livez").status_code == 200, 5, "/livez")
        assert "Traceback" not in sidecar.log()
        assert "history: 1 malformed entry" in sidecar.log()
    assert (state / f"{JOURNAL}.corrupt").exists()
