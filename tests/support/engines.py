"""The two container engines the end-to-end runs drive (podman, a private dockerd), one interface.

Both CLIs take the same verbs for what the tests need (ps, inspect, exec, logs, volume, network),
so the differences fit in a few fields. Every call runs in a process group of its own: when a
run is interrupted in the middle of `compose up`, the whole group (compose and the engine
commands it started) is stopped, so no orphaned `podman run` creates a container after the
clean-up has listed what to remove.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Literal

# The listing verbs and the name field each prints; podman alone has pods.
_LISTINGS = {
    "containers": (("ps", "-a"), "{{.Names}}"),
    "pods": (("pod", "ps"), "{{.Name}}"),
    "networks": (("network", "ls"), "{{.Name}}"),
    "volumes": (("volume", "ls"), "{{.Name}}"),
}
Kind = Literal["containers", "pods", "networks", "volumes"]


def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 120,
    stdin: int | IO[bytes] | None = subprocess.DEVNULL,
) -> subprocess.CompletedProcess[str]:
    """Run argv in a new process group; output captured as text.

    On a timeout or an interruption (KeyboardInterrupt, which the e2e conftest also raises on
    SIGTERM) the whole group gets SIGTERM, then SIGKILL, before the exception goes on.
    """
    proc = subprocess.Popen(
        list(argv),
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        stop_group(proc)
        raise
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


def stop_group(proc: subprocess.Popen[str], grace: float = 10) -> None:
    """SIGTERM a child's process group, SIGKILL it after `grace` seconds, and reap the child."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.communicate(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass(frozen=True)
class Engine:
    """How one container engine and its compose implementation are driven."""

    name: Literal["podman", "docker"]
    cli: tuple[str, ...]
    compose_cli: tuple[str, ...]
    # Compose v2 names containers `<project>-<service>-1`, podman-compose `<project>_<service>_1`.
    separator: str
    # Docker runs HEALTHCHECKs itself; podman without systemd runs them only when asked.
    runs_healthchecks: bool
    env: Mapping[str, str] = field(default_factory=dict)

    def run(
        self, *args: str, timeout: float = 120, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The engine's CLI with these arguments (never raises on a non-zero exit)."""
        return run_command([*self.cli, *args], env={**self.env, **(env or {})}, timeout=timeout)

    def ok(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """The engine's CLI with these arguments; its stdout, or an AssertionError with stderr."""
        proc = self.run(*args, env=env)
        assert proc.returncode == 0, f"{self.name} {' '.join(args)}: {proc.stderr.strip()}"
        return proc.stdout

    def container(self, project: str, service: str) -> str:
        """The name compose gives the first container of `service` in `project`."""
        return self.separator.join((project, service, "1"))

    def names(self, kind: Kind) -> list[str]:
        """Names of every object of this kind the engine has (not only ours)."""
        if kind == "pods" and self.name != "podman":
            return []
        verb, template = _LISTINGS[kind]
        return self.ok(*verb, "--format", template).split()

    def exists(self, kind: Kind, name: str) -> bool:
        """Whether the engine has an object of this kind with exactly this name."""
        return name in self.names(kind)

    def remove_where(self, match: Callable[[str], bool]) -> list[str]:
        """Remove every container, pod, network and volume whose name matches; what went."""
        removed: list[str] = []
        force = ("rm", "-f", "-v", "-t", "2") if self.name == "podman" else ("rm", "-f", "-v")
        steps: list[tuple[Kind, tuple[str, ...]]] = [
            ("containers", force),
            ("pods", ("pod", "rm", "-f")),
            ("networks", ("network", "rm")),
            ("volumes", ("volume", "rm", "-f")),
        ]
        for kind, verb in steps:
            doomed = [n for n in self.names(kind) if match(n)]
            # podman may refuse at first a container whose conmon was killed ("timed out
            # waiting for file .../exits/<id>") or one an interrupted `podman start` still
            # holds; it gives in within seconds.
            deadline = time.monotonic() + 60
            while doomed:
                proc = self.run(*verb, *doomed)
                left = set(self.names(kind))
                removed += [f"{kind[:-1]} {n}" for n in doomed if n not in left]
                doomed = [n for n in doomed if n in left]
                if doomed and time.monotonic() > deadline:
                    raise AssertionError(
                        f"{self.name} could not remove {kind} {doomed}: {proc.stderr.strip()}"
                    )
                if doomed:
                    time.sleep(1)
        return removed
