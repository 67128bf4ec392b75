"""One `sidecar serve` per state directory: a second one refuses to start, adopt still works."""

import signal
from pathlib import Path

from sidecar.state import STATE_FILE
from tests.faults.conftest import StartSidecar
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import SidecarProcess, monitor_env, run_cli, wait_for


def test_a_second_serve_on_one_state_directory_refuses_in_one_line(
    seeded: MariaDBTestServer, start_sidecar: StartSidecar, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    first = start_sidecar(seeded, state_dir=state_dir)
    first.wait_status("pass")
    assert first.process is not None

    second = SidecarProcess(monitor_env(seeded, state_dir=state_dir), tmp_path / "second.log")
    second.start(wait=False)
    assert second.process is not None
    assert second.process.wait(timeout=20) == 3
    refusal = [line for line in second.log().splitlines() if "SIDECAR_STATE_DIR" in line]
    assert len(refusal) == 1, second.log()
    assert f"another sidecar serve (pid {first.process.pid})" in refusal[0]
    assert "Traceback" not in second.log(), second.log()
    second.stop()

    # adopt's writes are not the service's lock: it still works while the service runs.
    adopted = run_cli("adopt", env=monitor_env(seeded, state_dir=state_dir))
    assert adopted.returncode == 0, adopted.stderr
    assert first.get("/livez").status_code == 200
    first.wait_status("pass")


def test_the_directory_is_free_again_however_the_holder_ended(
    seeded: MariaDBTestServer, start_sidecar: StartSidecar, tmp_path: Path
) -> None:
    """The kernel drops the lock with the process: no stale lock after kill -9."""
    state_dir = tmp_path / "state"
    first = start_sidecar(seeded, state_dir=state_dir)
    wait_for(lambda: (state_dir / STATE_FILE).exists(), timeout=15, what="first state file")
    first.stop(signal.SIGKILL)
    after = start_sidecar(seeded, state_dir=state_dir)  # fails here if the lock were stale
    after.wait_status("pass")
