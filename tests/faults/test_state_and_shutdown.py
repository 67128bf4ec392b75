"""The sidecar's own surroundings fail: its state directory, and a SIGTERM mid-cycle.

The state directory is a real filesystem made read-only or full under the running sidecar
(a tmpfs mounted for the test: we run as root, so chmod would not stop us).
"""

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.history.files import JOURNAL, SNAPSHOT
from sidecar.state import SERVE_LOCK, STATE_FILE, Memory
from tests.faults.conftest import StartSidecar
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import add_users, wait_for


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """An empty directory backed by its own small tmpfs, unmounted afterwards."""
    target = tmp_path / "state"
    target.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(target))
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}); these scenarios need CAP_SYS_ADMIN")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False, timeout=10)


def read_state(directory: Path) -> Memory:
    """The state file parsed the way the sidecar parses it: it must always be whole."""
    return Memory.from_json(json.loads((directory / STATE_FILE).read_text()))


BREAKS = [
    pytest.param("remount,ro", "remount,rw", "read-only", id="read-only"),
    # Exactly the pages in use (the state and the history beside it): the atomic write of the
    # state needs one more.
    pytest.param("remount,size={used}", "remount,size=1m", "no space", id="full"),
]


def _break(target: Path, how: str) -> None:
    """Remount `target` as `how` says; `{used}` is the bytes in use right then (the history
    may append a line between measuring and remounting: then measure again)."""
    for _ in range(5):
        status = os.statvfs(target)
        used = (status.f_blocks - status.f_bfree) * status.f_frsize
        try:
            _mount("-o", how.format(used=used), str(target))
            return
        except subprocess.CalledProcessError:
            time.sleep(0.05)
    _mount("-o", how.format(used=used), str(target))


@pytest.mark.parametrize(("break_it", "heal_it", "why"), BREAKS)
def test_unwritable_state_directory_warns_and_keeps_serving(
    seeded: MariaDBTestServer,
    start_sidecar: StartSidecar,
    tmpfs: Path,
    break_it: str,
    heal_it: str,
    why: str,
) -> None:
    """Unwritable state: warn with a state reason, keep serving 200, never a torn file."""
    sidecar = start_sidecar(seeded, state_dir=tmpfs)
    sidecar.wait_status("pass")
    wait_for(lambda: (tmpfs / STATE_FILE).exists(), timeout=5, what="first state file")
    before = read_state(tmpfs)
    assert before.tables["User"].high_water == 14

    _break(tmpfs, break_it)
    add_users(seeded, 3, prefix="late")  # new memory that the sidecar has to write
    body = sidecar.wait_status("warn", timeout=5)
    state = body["checks"]["sidecar:state"][0]
    assert state["status"] == "warn", body
    assert "cannot write state" in state["output"] and why in state["output"].lower(), body
    for _ in range(10):  # a few cycles of failed writes: still serving, file still whole
        assert sidecar.get("/readyz").status_code == 200
        assert read_state(tmpfs).tables["User"].high_water == 14
        time.sleep(0.2)
    kept = {STATE_FILE, SERVE_LOCK, SNAPSHOT, JOURNAL}
    assert not [p.name for p in tmpfs.iterdir() if p.name not in kept], "temp files left"

    _mount("-o", heal_it, str(tmpfs))
    sidecar.wait_status("pass", timeout=5)
    wait_for(
        lambda: read_state(tmpfs).tables["User"].high_water == 17, timeout=5, what="state saved"
    )


def test_sigterm_mid_cycle_exits_promptly_with_state_intact(
    seeded: MariaDBTestServer, start_sidecar: StartSidecar, tmp_path: Path
) -> None:
    """SIGTERM while a cycle waits on a hung server: exit 0 within seconds, state is whole."""
    # timeout == interval: against a hung server the cycles run back to back, always in flight.
    sidecar = start_sidecar(seeded, interval="1s", timeout="1s")
    sidecar.wait_status("pass")
    state_dir = tmp_path / "state"
    wait_for(lambda: (state_dir / STATE_FILE).exists(), timeout=5, what="first state file")
    before = (state_dir / STATE_FILE).read_text()
    assert sidecar.process is not None
    process = sidecar.process

    seeded.pause()
    try:
        time.sleep(1.3)  # the next cycle has started and is waiting on the hung server
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
        took = time.monotonic() - began
    finally:
        seeded.resume()

    assert code == 0, sidecar.log()
    assert took < 3, f"shutdown took {took:.1f}s"
    assert (state_dir / STATE_FILE).read_text() == before
    read_state(state_dir)
    assert "Traceback" not in sidecar.log(), sidecar.log()


def test_sigterm_exit_status_is_zero(
    seeded: MariaDBTestServer, start_sidecar: StartSidecar
) -> None:
    """A graceful stop is a clean exit: status 0, as `serve()` documents."""
    sidecar = start_sidecar(seeded)
    sidecar.wait_status("pass")
    assert sidecar.process is not None
    sidecar.process.send_signal(signal.SIGTERM)
    assert sidecar.process.wait(timeout=10) == 0
