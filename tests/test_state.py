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

from sidecar.state import STATE_FILE, Memory, StateError, StateStore, TableMemory

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
