"""The `preflight` and `volumes` command lines: exit codes, one-line errors, JSON.

Where no real engine is needed, a stand-in `podman`/`docker` executable on PATH answers
with recorded output (the process seam); everything above it is the real program.
"""

import json
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.preflight.stacks import INCIDENT, write_project
from tests.preflight.test_engines import DOCKER_VOLUME_INSPECT
from tests.support.servers import run_cli

STAND_IN = """\
#!{python}
import pathlib, sys
here = pathlib.Path(__file__).parent
answer = here / ("answer-" + "-".join(sys.argv[1:3]))
if answer.exists():
    sys.stdout.buffer.write(answer.read_bytes())
    sys.exit(0)
sys.stderr.write("stand-in: no answer for " + " ".join(sys.argv[1:]) + "\\n")
sys.exit(125)
"""


def stand_in(tmp_path: Path, engine: str, answers: Mapping[str, str | bytes]) -> dict[str, str]:
    """An environment whose PATH holds only a stand-in `engine` answering `answers`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    program = bin_dir / engine
    program.write_text(STAND_IN.format(python=sys.executable))
    program.chmod(0o755)
    for command, text in answers.items():
        answer = bin_dir / f"answer-{command.replace(' ', '-')}"
        answer.write_bytes(text if isinstance(text, bytes) else text.encode())
    return {"PATH": str(bin_dir)}


def test_help_lists_both_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "preflight" in result.stdout and "volumes" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("preflight", "--bogus"),
        ("preflight", "--engine", "lxc"),
        ("volumes", "-f"),
        ("preflight", "--tool", "kubectl"),
    ],
)
def test_bad_arguments_exit_3(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.returncode == 3, result.stderr
    assert "error:" in result.stderr and "Traceback" not in result.stderr


def test_no_engine_is_one_line_and_exit_3(tmp_path: Path) -> None:
    directory = write_project(tmp_path, "app", {"compose.yaml": INCIDENT})
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = run_cli("preflight", cwd=directory, env={"PATH": str(empty)})
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == (
        "sidecar preflight: no container engine found: neither podman nor docker is on PATH\n"
    )


def test_an_engine_that_fails_is_one_line_and_exit_3(tmp_path: Path) -> None:
    directory = write_project(tmp_path, "app", {"compose.yaml": INCIDENT})
    env = stand_in(tmp_path, "docker", {})
    result = run_cli("volumes", "--engine", "docker", cwd=directory, env=env)
    assert result.returncode == 3
    assert result.stderr == (
        "sidecar volumes: `docker volume ls` failed: stand-in: no answer for volume ls -q\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services: [\n", "compose.yaml: invalid YAML: line 2"),
        ("services:\n  a:\n    extends: {service: b}\n", "extends is not supported"),
        ("name: ${NAME:?set NAME}\n" + INCIDENT, "required variable NAME is missing: set NAME"),
    ],
)
def test_unusable_compose_files_exit_3_with_json_too(
    tmp_path: Path, text: str, message: str
) -> None:
    directory = write_project(tmp_path, "app", {"compose.yaml": text})
    env = stand_in(tmp_path, "podman", {"volume ls": "[]", "ps -a": ""})
    result = run_cli("preflight", "--json", cwd=directory, env=env)
    assert result.returncode == 3
    assert message in result.stderr and len(result.stderr.splitlines()) == 1
    assert json.loads(result.stdout)["status"] == "unknown"


def test_the_docker_adapter_end_to_end_on_recorded_output(tmp_path: Path) -> None:
    """Docker Engine 20.10 as recorded: the renamed start fails, names both, in JSON."""
    directory = write_project(tmp_path, "manualmode-production", {"compose.yaml": INCIDENT})
    env = stand_in(
        tmp_path,
        "docker",
        {
            "volume ls": "meaningful-conversations-production_mariadb_production_data\n3f2a9c\n",
            "volume inspect": DOCKER_VOLUME_INSPECT,
            "ps -a": "",
        },
    )
    result = run_cli("preflight", "--engine", "docker", "--json", cwd=directory, env=env)
    assert result.returncode == 2, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "fail"
    assert report["project"]["name"] == "manualmode-production"
    assert report["project"]["tool"] == "compose"
    (volume,) = report["volumes"]
    assert volume["name"] == "manualmode-production_mariadb_production_data"
    assert volume["existing"] is None
    assert report["findings"][0]["code"] == "new-empty-volume"
    assert (
        "meaningful-conversations-production_mariadb_production_data"
        in (report["findings"][0]["message"])
    )
    assert "size unknown" in report["findings"][0]["message"]  # its mountpoint is not here
    names = report["namesByTool"]
    assert (names["compose"], names["podman-compose"]) == ("manualmode-production",) * 2
    # docker-compose v1 looks for docker-compose.yml / .yaml only
    for v1 in ("docker-compose", "docker-compose-legacy"):
        assert names[v1].startswith("error: no compose file found (docker-compose.yml or ")


def test_warnings_exit_1(tmp_path: Path) -> None:
    directory = write_project(tmp_path, "app", {"compose.yaml": INCIDENT})
    env = stand_in(tmp_path, "podman", {"volume ls": "[]", "ps -a": ""})
    result = run_cli("preflight", cwd=directory, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (
        "project app (directory app; podman-compose rules; engine podman)"
    )
    assert [line.split(":")[0] for line in result.stdout.splitlines()[1:]] == [
        "warn",
        "warn",
        "pass",
    ]
