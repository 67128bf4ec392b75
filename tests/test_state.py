"""The state file: atomic under kill -9, reported (never replaced) when damaged."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sidecar.state import (
    STATE_FILE,
    Memory,
    StateDirectoryBusy,
    StateError,
    StateStore,
    TableMemory,
    serving,
)
from tests.support.servers import wait_for

WRITER = """
import sys, itertools
from pathlib import Path
from sidecar.state import Memory, StateStore, TableMemory
store = StateStore(Path(sys.argv[1]))
for n in itertools.count(1):
    tables = {"User": TableMemory(n, float(n))}
    memory = Memory(identity={"volume": "v" * (n % 5000)}, tables=tables)
    store.save(memory)
"""


def test_kill_9_during_writes_leaves_old_or_new_state_never_torn(tmp_path: Path) -> None:
    for attempt in range(15):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)])
        # On a loaded machine the interpreter may not be writing yet: the kills are meant for
        # the middle of writes, so the first waits for one to have happened.
        wait_for(lambda: (tmp_path / STATE_FILE).exists(), timeout=30, what="a first write")
        time.sleep(0.15 + attempt * 0.02)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        memory = StateStore(tmp_path).load()  # raises StateError if torn
        assert memory is not None
        count = memory.tables["User"].high_water
        assert count is not None and count >= 1
        assert memory.identity["volume"] == "v" * (count % 5000)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != STATE_FILE]
    # A kill between mkstemp and rename may leave a temporary file; never a second state.
    assert all(name.startswith(".state-") for name in leftovers)


def test_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    memory = Memory(identity={"volume": "shop_db"}, identity_recorded_at=1.5)
    memory.tables["User"] = TableMemory(14, 1700000000.25)
    assert store.save(memory) is True
    assert store.save(memory) is False  # unchanged: no write
    loaded = StateStore(tmp_path).load()
    assert loaded == memory


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '{"format": 2}',
        '{"format": 1, "identity": {}, "tables": {}}',
        '{"format": 1, "identity": {"recorded_at": null, "sources": {}},'
        ' "tables": {"User": {"high_water": "x", "newest": null}}}',
    ],
)
def test_damaged_state_is_an_error_naming_the_file(tmp_path: Path, text: str) -> None:
    (tmp_path / STATE_FILE).write_text(text)
    with pytest.raises(StateError):
        StateStore(tmp_path).load()
    assert (tmp_path / STATE_FILE).read_text() == text


def test_state_written_is_json_an_operator_can_read(tmp_path: Path) -> None:
    memory = Memory(identity={"volume": "shop_db"})
    StateStore(tmp_path).save(memory)
    document = json.loads((tmp_path / STATE_FILE).read_text())
    assert document["identity"]["sources"] == {"volume": "shop_db"}


def test_a_fifo_as_the_state_file_is_refused_at_once_not_waited_on(tmp_path: Path) -> None:
    """Opening a FIFO blocks until a writer comes: `sidecar check` used to hang on one."""
    os.mkfifo(tmp_path / STATE_FILE)
    started = time.monotonic()
    with pytest.raises(StateError, match="not a regular file"):
        StateStore(tmp_path).load()
    assert time.monotonic() - started < 1
    assert stat.S_ISFIFO((tmp_path / STATE_FILE).stat().st_mode)  # left as it was


VALID = json.dumps(Memory(identity={"volume": "shop_db"}).to_json())
DAMAGED = [
    pytest.param(VALID.encode().replace(b"shop_db", b"shop\xffdb"), "not UTF-8", id="non-utf8"),
    pytest.param(b"[" * 100_000, "nested deeper than", id="deep-unbalanced"),
    pytest.param(b"[" * 50 + b"]" * 50, "nested deeper than", id="deep-balanced"),
    pytest.param(
        VALID.replace('"format": 1', '"format": ' + "1" * 5000).encode(),
        "5000 digits",
        id="huge-int",
    ),
    pytest.param(
        VALID.replace('"recorded_at": null', '"recorded_at": 1e999').encode(),
        "out of range",
        id="inf",
    ),
    pytest.param(
        VALID.replace('"recorded_at": null', '"recorded_at": NaN').encode(), "NaN", id="nan"
    ),
    pytest.param(
        VALID.replace('"tables": {}', '"tables": []').encode(), "AttributeError", id="tables-a-list"
    ),
    pytest.param(b'{"format": 1, "identity": [], "tables": {}}', "TypeError", id="wrong-shape"),
]


@pytest.mark.parametrize(("data", "why"), DAMAGED)
def test_a_damaged_state_is_one_state_error_saying_why(
    tmp_path: Path, data: bytes, why: str
) -> None:
    """Every way the bytes can be damaged is one StateError, never the parser's own exception."""
    (tmp_path / STATE_FILE).write_bytes(data)
    with pytest.raises(StateError) as caught:
        StateStore(tmp_path).load()
    assert str(caught.value).startswith("state file is corrupt: ") and why in str(caught.value)
    assert "\n" not in str(caught.value)
    assert (tmp_path / STATE_FILE).read_bytes() == data  # a reader that does not set aside


def test_a_3_gb_state_file_costs_one_bounded_read(tmp_path: Path) -> None:
    """A 3 GB file used to be read whole (6.3 GB RSS, 8 s): now MAX_BYTES + 1 bytes, at once."""
    with open(tmp_path / STATE_FILE, "wb") as handle:
        handle.truncate(3 * 2**30)  # sparse: costs the disk nothing
    began = time.monotonic()
    with pytest.raises(StateError, match="larger than 16 MiB"):
        StateStore(tmp_path).load()
    assert time.monotonic() - began < 2


def test_the_service_sets_a_damaged_file_aside_and_keeps_saying_so(tmp_path: Path) -> None:
    """Renamed, never deleted; a restart still refuses to start over; adopt's file ends it."""
    (tmp_path / STATE_FILE).write_bytes(b"\xff")
    with pytest.raises(StateError, match=r"not UTF-8 .*; set aside as .*state\.json\.corrupt$"):
        StateStore(tmp_path, set_aside=True).load()
    assert not (tmp_path / STATE_FILE).exists()
    assert (tmp_path / "state.json.corrupt").read_bytes() == b"\xff"

    restarted = StateStore(tmp_path, set_aside=True)
    with pytest.raises(StateError, match=r"was set aside as .*state\.json\.corrupt") as caught:
        restarted.load()
    assert "sidecar adopt" in caught.value.line()

    (tmp_path / STATE_FILE).write_bytes(b"{")  # damaged again: the first one is kept
    with pytest.raises(StateError, match=r"set aside as .*state\.json\.corrupt\.2$"):
        StateStore(tmp_path, set_aside=True).load()
    assert (tmp_path / "state.json.corrupt").read_bytes() == b"\xff"

    StateStore(tmp_path).save(Memory(adopted_at=1.0), force=True)  # what sidecar adopt does
    assert StateStore(tmp_path, set_aside=True).load() == Memory(adopted_at=1.0)


def test_an_unknown_format_is_reported_but_left_in_place(tmp_path: Path) -> None:
    """A newer sidecar's state is not damage: it stays where that version will look for it."""
    (tmp_path / STATE_FILE).write_text('{"format": 2}')
    with pytest.raises(StateError, match="unknown format 2"):
        StateStore(tmp_path, set_aside=True).load()
    assert (tmp_path / STATE_FILE).read_text() == '{"format": 2}'


def test_a_held_state_directory_refuses_a_second_service_naming_the_holder(
    tmp_path: Path,
) -> None:
    with serving(tmp_path):
        with (
            pytest.raises(
                StateDirectoryBusy, match=rf"another sidecar serve \(pid {os.getpid()}\)"
            ),
            serving(tmp_path),
        ):
            pass
        StateStore(tmp_path).save(Memory(adopted_at=1.0), force=True)  # adopt is not blocked
    with serving(tmp_path):  # released when the holder's block ends
        pass
