"""`sidecar preflight` runs on the host: installed from the repository into a venv of its own.

This is the install the README gives (`python3 -m venv /opt/sidecar && /opt/sidecar/bin/pip
install <this repository>`; pipx does the same with a venv it names), done for real: a fresh
venv, a plain `pip install` of a copy of the repository, and the installed `sidecar` run in
`compose/` against the real engine, as a deploy script would run it. The copy's project and
volume key carry a random suffix, so that no other volume on a shared engine can be its twin.
"""

import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_a_venv_install_on_the_host_runs_preflight(tmp_path: Path) -> None:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    source = tmp_path / "source"
    # What a clone holds, without this checkout's venv and caches.
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", "build"),
    )
    venv = tmp_path / "opt-sidecar"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]

    compose = tmp_path / "compose"
    shutil.copytree(REPO / "compose", compose)
    suffix = secrets.token_hex(4)
    project = f"meaningful-conversations-production-{suffix}"
    text = (compose / "compose.yaml").read_text()
    text = text.replace("meaningful-conversations-production", project)
    text = text.replace("mariadb_production_data", f"mariadb_production_data_{suffix}")
    (compose / "compose.yaml").write_text(text)
    done = subprocess.run(
        [str(venv / "bin" / "sidecar"), "preflight", "--engine", "podman"],
        cwd=compose,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == (
        f"project {project} (name: in compose.yaml; podman-compose rules; engine podman)"
    )
    # The installed command, not this checkout's package.
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sidecar; print(sidecar.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(venv)), where.stdout
