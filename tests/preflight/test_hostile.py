"""Hostile input, bounded: compose files, `.env` files and the engine's output.

Each is one line on stderr and exit 3 (never a traceback, never exit 1 by accident), in
bounded memory and time. The engine is a stand-in on PATH (its output is the seam); the
bounded process runner is exercised with real processes.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sidecar.preflight import engines
from sidecar.preflight.compose_file import MAX_COMPOSE_BYTES, MAX_DEPTH, MAX_NODES
from sidecar.preflight.dotenv import MAX_ENV_BYTES
from sidecar.preflight.engines import PodmanEngine
from sidecar.preflight.errors import PreflightError
from tests.preflight.stacks import INCIDENT, write_project
from tests.preflight.test_engines import PODMAN_CONTAINER_INSPECT, PODMAN_VOLUME_LS
from tests.preflight.test_preflight_cli import stand_in
from tests.support.peak import launched, peak
from tests.support.servers import run_cli


def billion_laughs(levels: int = 9) -> str:
    """A compose file whose 9 levels of 9 aliases name 9**9 strings."""
    lines = ['x-l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        aliases = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"x-l{level}: &l{level} [{aliases}]")
    return "\n".join(lines) + f"\n{INCIDENT}x-all: *l{levels - 1}\n"


COMPOSE_FILES: dict[str, tuple[str | bytes, str]] = {
    "billion laughs": (billion_laughs(), f"expands to more than {MAX_NODES} YAML nodes"),
    "recursive alias": ("services: &s\n  db: *s\n", "a recursive alias"),
    "recursive merge key": (
        "services:\n  db: &db\n    image: x\n    labels:\n      <<: *db\n",
        "a recursive alias",
    ),
    "20,000-deep flow nesting": ("x: " + "[" * 20000 + "]" * 20000 + "\n", "nest"),
    "deep block nesting": (
        "x:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(MAX_DEPTH + 5)),
        f"nested more than {MAX_DEPTH} deep",
    ),
    "huge file": ("x: " + "a" * MAX_COMPOSE_BYTES + "\n", "larger than 1 MiB: not read"),
    "not UTF-8": (b"services: {}\nx: caf\xe9\n", "not UTF-8"),
}


def _preflight(
    directory: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    result = run_cli("preflight", *args, cwd=directory, env=env)
    assert "Traceback" not in result.stderr
    return result


def _one_line_exit_3(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 3, result.stdout + result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert len(result.stderr) < 400, result.stderr
    assert message in result.stderr


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_hostile_compose_files(tmp_path: Path, name: str) -> None:
    text, message = COMPOSE_FILES[name]
    directory = write_project(tmp_path, "app", {})
    path = directory / "compose.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    env = stand_in(tmp_path, "podman", {"volume ls": "[]", "ps -a": ""})
    _one_line_exit_3(_preflight(directory, env), message)


def test_billion_laughs_peak_memory_and_time(tmp_path: Path) -> None:
    """Peak RSS of the whole `sidecar preflight` process on the file that took 5.8 GB."""
    directory = write_project(tmp_path, "app", {"compose.yaml": billion_laughs()})
    env = {**os.environ, **stand_in(tmp_path, "podman", {"volume ls": "[]", "ps -a": ""})}
    started = time.monotonic()
    report = tmp_path / "preflight.peak"
    process = launched(
        [sys.executable, "-m", "sidecar", "preflight"],
        report,
        cwd=directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, stderr_bytes = process.communicate(timeout=60)
    stderr = stderr_bytes.decode()
    elapsed = time.monotonic() - started
    code, rss = peak(report)
    assert code == 3, stderr
    assert rss < 150 * 1024 * 1024, f"peak RSS {rss // 1024} KB"
    assert elapsed < 20, elapsed


def test_a_huge_env_file(tmp_path: Path) -> None:
    directory = write_project(tmp_path, "app", {"compose.yaml": INCIDENT})
    (directory / ".env").write_text("A=" + "x" * MAX_ENV_BYTES + "\n")
    env = stand_in(tmp_path, "podman", {"volume ls": "[]", "ps -a": ""})
    _one_line_exit_3(_preflight(directory, env), "larger than 1024 KiB: not read")


def test_a_large_env_value_copied_into_many_strings(tmp_path: Path) -> None:
    copies = "".join(f"      l{i}: ${{BIG}}x\n" for i in range(100))
    compose = INCIDENT.replace("    image:", f"    labels:\n{copies}    image:")
    directory = write_project(tmp_path, "app", {"compose.yaml": compose})
    (directory / ".env").write_text("BIG=" + "b" * (MAX_ENV_BYTES - 100) + "\n")
    env = stand_in(tmp_path, "podman", {"volume ls": "[]", "ps -a": ""})
    _one_line_exit_3(_preflight(directory, env), "the strings expand past 16 MiB in all")


def _container(mounts: str) -> str:
    return '[{"Id": "c1", "Name": "db", "State": {"Running": true}, "Mounts": ' + mounts + "}]"


VOLUME = "app_mariadb_production_data"  # the one preflight measures for the stack in app/
ENGINE_OUTPUTS: dict[str, tuple[dict[str, str | bytes], str]] = {
    "deep JSON": ({"volume ls": "[" * 100_000 + "]" * 100_000}, "nested too deep"),
    "huge integer": (
        {"volume ls": '[{"Name": "v", "Size": ' + "9" * 5000 + "}]"},
        "not the engine's JSON (Exceeds the limit (4300 digits)",
    ),
    "bad UTF-8": ({"volume ls": b'[{"Name": "v\xff"}]'}, "printed bytes that are not UTF-8"),
    "Mounts: 1": (
        {"volume ls": PODMAN_VOLUME_LS, "ps -a": "c1\n", "container inspect": _container("1")},
        "podman container Mounts is a int, not a list",
    ),
    "a mount that is a string": (
        {"volume ls": PODMAN_VOLUME_LS, "ps -a": "c1\n", "container inspect": _container('["x"]')},
        "podman container Mounts holds a string",
    ),
    "Name: a number": ({"volume ls": '[{"Name": 5}]'}, "podman volume Name is a int"),
    "Labels: a string": (
        {"volume ls": '[{"Name": "v", "Labels": "x"}]'},
        "podman volume Labels is a string, not a mapping",
    ),
    "State: a list": (
        {"volume ls": "[]", "ps -a": "c1\n", "container inspect": '[{"State": []}]'},
        "podman container State is a list, not a mapping",
    ),
    "a mountpoint with a NUL": (
        {"volume ls": '[{"Name": "' + VOLUME + '", "Mountpoint": "/a\\u0000b"}]', "ps -a": ""},
        "has mountpoint '/a\\x00b': not an absolute path",
    ),
    "a relative mountpoint": (
        {"volume ls": '[{"Name": "' + VOLUME + '", "Mountpoint": "."}]', "ps -a": ""},
        "has mountpoint '.': not an absolute path",
    ),
    "a list of numbers": ({"volume ls": "[1, 2]"}, "podman volume list holds a int"),
    "not an array": ({"volume ls": '{"Name": "v"}'}, "not a JSON array"),
    "truncated": ({"volume ls": '[{"Name": "v"'}, "not JSON"),
}


@pytest.mark.parametrize("name", ENGINE_OUTPUTS)
def test_hostile_engine_output(tmp_path: Path, name: str) -> None:
    answers, message = ENGINE_OUTPUTS[name]
    directory = write_project(tmp_path, "app", {"compose.yaml": INCIDENT})
    _one_line_exit_3(_preflight(directory, stand_in(tmp_path, "podman", answers)), message)


def test_recorded_output_still_parses(tmp_path: Path) -> None:
    """The checks refuse the hostile, not the real engine's output."""
    directory = write_project(tmp_path, "app", {"compose.yaml": INCIDENT})
    answers = {
        "volume ls": PODMAN_VOLUME_LS,
        "ps -a": "c1\n",
        "container inspect": PODMAN_CONTAINER_INSPECT,
    }
    result = _preflight(directory, stand_in(tmp_path, "podman", answers))
    assert result.returncode in (0, 1, 2), result.stderr


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "podman"
    path.write_text(f"#!{sys.executable}\nimport os, sys, time\n{body}\n")
    path.chmod(0o755)
    return str(path)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"


def test_endless_output_is_cut_at_the_cap_and_the_process_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engines, "MAX_OUTPUT_BYTES", 1024 * 1024)
    pid_file = tmp_path / "pid"
    body = f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\nwhile True:\n"
    body += "    sys.stdout.write('[' * 65536); sys.stdout.flush()"
    engine = PodmanEngine(_script(tmp_path, body), timeout=20)
    with pytest.raises(PreflightError, match=r"`podman volume ls` printed more than 1 MiB"):
        engine.volumes()
    assert _gone(int(pid_file.read_text()))


def test_a_hung_engine_is_killed_at_its_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    # It also fills stderr: the reader must drain both pipes, or the engine blocks on it.
    body = (
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "sys.stderr.write('e' * 1_000_000); sys.stderr.flush()\ntime.sleep(60)"
    )
    engine = PodmanEngine(_script(tmp_path, body), timeout=1)
    started = time.monotonic()
    with pytest.raises(PreflightError, match=r"`podman volume ls` did not answer within 1 s"):
        engine.volumes()
    assert time.monotonic() - started < 10
    assert _gone(int(pid_file.read_text()))


def test_a_long_error_line_is_cut_short(tmp_path: Path) -> None:
    engine = PodmanEngine(_script(tmp_path, "sys.stderr.write('x' * 100000); sys.exit(125)"))
    with pytest.raises(PreflightError) as raised:
        engine.volumes()
    assert len(str(raised.value)) < 300
