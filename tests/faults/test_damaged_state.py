"""A damaged state file under a real `sidecar serve`: at start and swapped in while it runs.

Either way `/livez` answers, the verdict carries a failing `sidecar:state` saying the file is
corrupt and where it was set aside, and `sidecar adopt` ends it.
"""

import os
from pathlib import Path
from typing import Any

import pytest

from sidecar.state import STATE_FILE
from tests.faults.conftest import StartSidecar
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import SidecarProcess, monitor_env, run_cli, wait_for

DAMAGED = [
    pytest.param(b'{"format": 1, "identity": "\xff"}', "not UTF-8", id="non-utf8"),
    pytest.param(b"[" * 100_000, "nested deeper than", id="deep"),
    pytest.param(b'{"format": ' + b"9" * 5000 + b"}", "5000 digits", id="huge-int"),
    pytest.param(b'{"format": 1, "identity": [], "tables": {}}', "TypeError", id="wrong-shape"),
]


def state_check(sidecar: SidecarProcess, timeout: float = 15) -> dict[str, Any]:
    """The `sidecar:state` result, once the verdict has one."""
    seen: list[dict[str, Any]] = []

    def reported() -> bool:
        seen.append(sidecar.health())
        return "sidecar:state" in seen[-1].get("checks", {})

    wait_for(reported, timeout, what="a sidecar:state check", last=lambda: seen[-1])
    result: dict[str, Any] = seen[-1]["checks"]["sidecar:state"][0]
    assert seen[-1]["status"] == "fail", seen[-1]
    return result


def assert_reported_and_set_aside(
    sidecar: SidecarProcess, state_dir: Path, data: bytes, why: str
) -> None:
    state = state_check(sidecar)
    assert state["status"] == "fail"
    assert state["output"].startswith("state file is corrupt: ") and why in state["output"]
    assert f"set aside as {state_dir / 'state.json.corrupt'}" in state["output"]
    assert (state_dir / "state.json.corrupt").read_bytes() == data  # renamed, never deleted
    assert sidecar.get("/livez").status_code == 200
    assert "Traceback" not in sidecar.log(), sidecar.log()


@pytest.mark.parametrize(("data", "why"), DAMAGED)
def test_serve_starts_on_a_damaged_state_and_reports_it(
    seeded: MariaDBTestServer, start_sidecar: StartSidecar, tmp_path: Path, data: bytes, why: str
) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / STATE_FILE).write_bytes(data)
    sidecar = start_sidecar(seeded)  # returns once /livez answers: it used to die first
    assert_reported_and_set_aside(sidecar, state_dir, data, why)


def test_a_damaged_state_swapped_in_is_set_aside_and_adopt_ends_it(
    seeded: MariaDBTestServer, start_sidecar: StartSidecar, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    sidecar = start_sidecar(seeded)
    sidecar.wait_status("pass")
    wait_for(lambda: (state_dir / STATE_FILE).exists(), timeout=5, what="first state file")
    data = (state_dir / STATE_FILE).read_bytes().replace(b'"User"', b'"Us\xffer"')
    swapped = state_dir / "swapped.tmp"
    swapped.write_bytes(data)
    os.replace(swapped, state_dir / STATE_FILE)

    assert_reported_and_set_aside(sidecar, state_dir, data, "not UTF-8")
    first = state_check(sidecar)["time"]
    # A later cycle still reports it: the cycles neither crash nor go stale.
    later: list[dict[str, Any]] = []

    def a_later_cycle() -> bool:
        later.append(state_check(sidecar))
        return bool(later[-1]["time"] != first)

    wait_for(a_later_cycle, timeout=10, what="a later cycle")
    assert later[-1]["output"].startswith("state file is corrupt: ")

    adopted = run_cli("adopt", env=monitor_env(seeded, state_dir=state_dir))
    assert adopted.returncode == 0, adopted.stderr
    sidecar.wait_status("pass")
    assert (state_dir / "state.json.corrupt").read_bytes() == data
