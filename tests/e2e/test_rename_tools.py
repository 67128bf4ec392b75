"""`python -m bench.rename_tools`, the side-by-side table of docs/rename-tools.md, still says
what the table says: run for real, into a copy of the document.

It makes and removes its own private dockerd, podman objects and throwaway virtual environment
(bench/rename_tools.py); this only reads what it wrote, and checks that nothing of its run is
left.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import e2e_runs
from tests.support.compose_stack import NEW_DIR, OLD_DIR
from tests.support.servers import run_module

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def _row(table: str, command: str) -> list[str]:
    (line,) = [ln for ln in table.splitlines() if ln.startswith("| ") and f"| `{command}` |" in ln]
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_the_rename_table_is_what_the_tools_do(tmp_path: Path) -> None:
    output = tmp_path / "rename-tools.md"
    output.write_text((REPO / "docs" / "rename-tools.md").read_text())
    done = run_module("bench.rename_tools", "--output", str(output), timeout=600, cwd=REPO)
    print(done.stdout)
    assert done.returncode == 0, done.stderr[-3000:]
    table = output.read_text()
    # The prose above the table is kept; only the marked section is rewritten.
    assert table.startswith("# The incident's rename, tool by tool")

    refused = _row(table, "sidecar preflight --engine docker")
    assert refused[2] == "2", refused
    new, old = (f"{d}_mariadb_production_data" for d in (NEW_DIR, OLD_DIR))
    assert refused[3].startswith(
        f"fail: this start would create a NEW, EMPTY volume {new}; {old} (created "
    ), refused
    assert _row(table, "sidecar preflight --engine podman")[2] == "2"

    doctor = _row(table, "docker-compose-doctor")
    assert doctor[2] == "0" and "All checks passed" in doctor[3], doctor

    for command in ("docker compose up --no-start", "podman-compose up --no-start"):
        started = _row(table, command)
        assert started[2] == "0", started
        assert started[4].startswith("created `") and f"{new}`, mounted it at" in started[4]

    # Nothing of the run is left: its directory and its lock went (its podman objects are
    # named after it: the sweep at the end of run.sh would report any).
    run_id = e2e_runs.run_id_of(_row(table, "podman-compose up --no-start")[4])
    assert run_id is not None
    assert not e2e_runs.root_of(run_id).exists() and not e2e_runs.lock_path(run_id).exists()
