"""A new check or identity source is one new file and one registry entry: docs/extending.md.

The worked example in that document is a real diff. Here it is applied to a copy of the
package (the repository is never touched), held to the same linters and types as the package,
and run against a real server: the new check reports through `sidecar check`, the new source is
remembered in the state and its change is judged by the rule every weak source gets. If the
contract or a registry moves, the diff stops applying or stops working, and this test says so.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import monitor_env, run_cli

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "extending.md"
BIN = Path(sys.executable).parent


def _example_diff() -> str:
    (diff,) = re.findall(r"^```diff\n(.*?)^```$", DOC.read_text(), re.MULTILINE | re.DOTALL)
    return str(diff)


def _files_touched(diff: str) -> dict[str, tuple[int, int, bool]]:
    """Per file of the diff: lines added, lines removed, whether the file is new."""
    touched: dict[str, tuple[int, int, bool]] = {}
    for part in re.split(r"^diff --git ", diff, flags=re.MULTILINE)[1:]:
        name = part.split()[0].removeprefix("a/")
        body = part.split("\n@@", 1)[1]
        added = sum(1 for line in body.splitlines() if line.startswith("+"))
        removed = sum(1 for line in body.splitlines() if line.startswith("-"))
        touched[name] = (added, removed, "\nnew file mode" in part.split("@@", 1)[0])
    return touched


def test_the_example_is_one_new_file_and_one_entry_per_registry() -> None:
    touched = _files_touched(_example_diff())
    new = sorted(name for name, (_, _, is_new) in touched.items() if is_new)
    assert new == ["sidecar/checks/uptime.py", "sidecar/identity/server_id.py"]
    changed = {name: counts[:2] for name, counts in touched.items() if name not in new}
    # The registry entry and its import; nothing removed, nothing else edited.
    assert changed == {
        "sidecar/checks/__init__.py": (2, 0),
        "sidecar/engines/mariadb/dialect.py": (2, 0),
    }


def test_the_example_applies_type_checks_and_runs(
    tmp_path: Path, seeded: MariaDBTestServer
) -> None:
    copy = tmp_path / "tree"
    copy.mkdir()
    shutil.copytree(
        REPO / "sidecar", copy / "sidecar", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    patch = tmp_path / "example.diff"
    patch.write_text(_example_diff())
    applied = subprocess.run(
        ["git", "apply", "--verbose", str(patch)], cwd=copy, capture_output=True, text=True
    )
    assert applied.returncode == 0, applied.stderr

    for tool in (
        [str(BIN / "ruff"), "check", "sidecar"],
        [str(BIN / "ruff"), "format", "--check", "sidecar"],
        [str(BIN / "mypy"), "--cache-dir", str(tmp_path / "mypy-cache"), "sidecar"],
    ):
        done = subprocess.run(tool, cwd=copy, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{' '.join(tool[:2])}: {done.stdout}{done.stderr}"

    # The copy, not the installed package: PYTHONPATH first, and the working directory.
    state = tmp_path / "state"
    env = {**monitor_env(seeded), "PYTHONPATH": str(copy), "SIDECAR_STATE_DIR": str(state)}
    first = run_cli("check", env=env, cwd=copy)
    assert first.returncode == 1, first.stdout + first.stderr  # a young server warns
    assert "database:uptime: the server started " in first.stdout.splitlines()[0]
    assert "'database:uptime'=" in first.stdout and "s;;" in first.stdout
    assert "server_id" in (state / "state.json").read_text()

    seeded.execute("SET GLOBAL server_id = 7")
    second = run_cli("check", "--json", env=env, cwd=copy)
    (identity,) = json.loads(second.stdout)["checks"]["volume:identity"]
    assert identity["status"] == "pass"
    assert identity["output"].startswith("server_id changed from 1 to 7 (baseline)")
    assert "with the rows carried over" in identity["output"]
    assert "server_id" in identity["sources"]
