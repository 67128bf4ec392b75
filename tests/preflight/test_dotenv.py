"""`.env` files as each tool's parser reads them; the side-by-side table is in
test_dotenv_conformance.py. These pin what the table cannot show: the refusal's one line,
bytes that are not UTF-8, the size bound, and the incident end to end."""

from pathlib import Path

import pytest

from sidecar.preflight.dotenv import (
    MAX_ENV_BYTES,
    parse_compose,
    parse_python_dotenv,
    read_env_files,
)
from sidecar.preflight.errors import PreflightError
from sidecar.preflight.interpolation import interpolate
from sidecar.preflight.tools import Tool
from tests.preflight.stacks import INCIDENT, write_project
from tests.preflight.test_preflight_cli import stand_in
from tests.support.servers import run_cli

SYNTAX = "\n".join(
    [
        "# a comment",
        "",
        "PLAIN=plain value  # trailing comment",
        "export EXPORTED=yes",
        "SINGLE='${NOT} interpolated # kept'",
        'DOUBLE="line\\nbreak ${PLAIN}"',
        "REF=${PLAIN}-${FROM_ENV}",
        "SPACED = around ",
        "EMPTY=",
    ]
)


def test_the_shared_syntax_reads_alike() -> None:
    common = {
        "PLAIN": "plain value",
        "EXPORTED": "yes",
        "DOUBLE": "line\nbreak plain value",
        "REF": "plain value-env",
        "SPACED": "around",
        "EMPTY": "",
    }
    assert parse_compose(SYNTAX, {"FROM_ENV": "env"}) == {
        **common,
        "SINGLE": "${NOT} interpolated # kept",
    }
    # python-dotenv interpolates single-quoted values too.
    assert parse_python_dotenv(SYNTAX, {"FROM_ENV": "env"}) == {
        **common,
        "SINGLE": " interpolated # kept",
    }


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ('A=1\nB="open\nC=3\n', 2, "unterminated quoted value"),
        ("A=1\n\nnot a variable line\n", 3, "cannot contain a space"),
        ("# x\nKEY@=1\n", 2, "unexpected character '@'"),
        ("A='x\ny'\nB=${B:?set B}\n", 3, "required variable B is missing: set B"),
        ("A=${}\n", 1, "invalid variable reference"),
    ],
)
def test_compose_refusals_name_the_file_and_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(PreflightError) as raised:
        parse_compose(text, {}, where="/srv/app/.env")
    message = str(raised.value)
    assert message.startswith(f"/srv/app/.env line {line}: ")
    assert problem in message and "docker compose refuses" in message
    assert "\n" not in message


def test_python_dotenv_skips_what_compose_refuses() -> None:
    text = 'A="open\nnot a variable line\nKEY@=1\nB: 2\nC=3\n'
    assert parse_python_dotenv(text, {}) == {"KEY@": "1", "C": "3"}


def test_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_bytes(b"NOTE=caf\xe9\nCOMPOSE_PROJECT_NAME=shop\n")
    # Go reads bytes: compose takes the file. python-dotenv opens it as UTF-8 and fails.
    assert read_env_files(Tool.COMPOSE, [env], {})["COMPOSE_PROJECT_NAME"] == "shop"
    for tool in (Tool.PODMAN_COMPOSE, Tool.DOCKER_COMPOSE):
        with pytest.raises(PreflightError, match=r"\.env is not UTF-8"):
            read_env_files(tool, [env], {})


def test_a_huge_env_file_is_refused_unread(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    with env.open("w") as out:
        out.write("A=" + "x" * MAX_ENV_BYTES + "\n")
    for tool in Tool:
        with pytest.raises(PreflightError, match="larger than 1024 KiB"):
            read_env_files(tool, [env], {})


def test_deeply_nested_defaults_are_refused_not_a_crash() -> None:
    nested = "${X:-" * 5000 + "}" * 5000
    with pytest.raises(PreflightError, match="nested more than 32 deep"):
        parse_compose(f"A={nested}\n", {})
    # python-dotenv's own pattern does not nest; podman-compose interpolates the rest later.
    value = parse_python_dotenv(f"A={nested}\n", {})["A"]
    with pytest.raises(PreflightError, match="nested more than 32 deep"):
        interpolate(value, {})


def test_values_doubling_line_after_line_are_refused_before_memory_runs_out() -> None:
    text = "A=x\n" + "A=${A}${A}\n" * 64 + "COMPOSE_PROJECT_NAME=$A\n"
    with pytest.raises(PreflightError, match="expands past 1024 KiB"):
        parse_compose(text, {})
    with pytest.raises(PreflightError, match="expands past 1024 KiB"):
        parse_python_dotenv(text, {})


def test_many_copies_of_a_large_value_are_refused() -> None:
    text = "A=x\n" + "A=${A}${A}\n" * 18 + "".join(f"C{i}=${{A}}x\n" for i in range(10_000))
    for parse in (parse_compose, parse_python_dotenv):
        with pytest.raises(PreflightError, match="expand past 4 MiB in all"):
            parse(text, {})


@pytest.mark.parametrize(
    ("dotenv", "tool", "expected"),
    [
        ("\ufeffCOMPOSE_PROJECT_NAME=other\n", "compose", "other"),
        ("COMPOSE_PROJECT_NAME: other\n", "compose", "other"),
        ("COMPOSE_PROJECT_NAME: other\n", "podman-compose", "app"),
        ('COMPOSE_PROJECT_NAME="other\nname"\n', "podman-compose", "othername"),
    ],
)
def test_the_incident_forms_name_the_project_as_the_tool(
    tmp_path: Path, dotenv: str, tool: str, expected: str
) -> None:
    """The incident: a `.env` form read another way than the tool's resolved another name."""
    directory = write_project(tmp_path, "app", {"compose.yaml": INCIDENT, ".env": dotenv})
    env = stand_in(tmp_path, "podman", {"volume ls": "[]", "ps -a": ""})
    result = run_cli("preflight", "--tool", tool, cwd=directory, env=env)
    assert result.stdout.splitlines()[0].startswith(f"project {expected} "), result.stderr


def test_a_file_compose_refuses_is_one_line_and_exit_3(tmp_path: Path) -> None:
    dotenv = 'COMPOSE_PROJECT_NAME="other\nname"\n'
    directory = write_project(tmp_path, "app", {"compose.yaml": INCIDENT, ".env": dotenv})
    env = stand_in(tmp_path, "docker", {"volume ls": "", "ps -a": ""})
    result = run_cli("preflight", "--engine", "docker", cwd=directory, env=env)
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr.startswith("sidecar preflight: invalid project name 'other\\nname'")
    assert len(result.stderr.splitlines()) == 1
