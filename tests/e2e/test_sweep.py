"""A killed end-to-end run cannot poison the next: its leftovers are swept, a live run's are not.

The e2e tests proper (podman-compose, Docker Compose v2) show that a run cleans up after
itself when it ends or is interrupted (their finalizers, tests/e2e/run.sh's trap). These tests
kill a run outright, as SIGKILL or a lost machine would, after it made what a real run makes,
and check that the sweep every run starts with removes all of it: podman containers, networks,
volumes and the stale aardvark-dns entries that broke service names, a private dockerd with its
containers, cgroups, bridges and mounts, and the run's directory.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import dockerd, e2e_runs, e2e_sweep, podman
from tests.support.compose_stack import IMAGES, REPO, SIDECAR_IMAGE

# What an interrupted podman run leaves: a network with a container on it (so aardvark-dns has
# an entry for it), a volume, files in its directory, and a DNS file of a network that is gone,
# whose gateway is the old one (what made `mariadb` unresolvable for every later run).
PODMAN_VICTIM = """
import sys, time
from tests.support import e2e_runs, podman
run = e2e_runs.Run.start()
engine = podman.engine()
network = run.name("victim_default")
engine.ok("network", "create", network)
engine.ok("volume", "create", run.name("victim_mariadb_production_data"))
engine.ok("run", "-d", "--name", run.name("victim_app_1"), "--network", network,
          "--network-alias", "app", "--entrypoint", "sleep", sys.argv[1], "600")
(run.root / "secrets").mkdir()
(run.root / "secrets" / "password.txt").write_text("x")
gone = podman.AARDVARK_DIR / run.name("gone_default")
gone.write_text("10.89.254.1\\n" + "ab" * 32 + " 10.89.254.2  mariadb,ab\\n")
print(run.id, flush=True)
time.sleep(600)
"""

# What an interrupted Docker run leaves: its dockerd (orphaned, or killed too), containerd and
# a shim, a container's processes, a bridge, a published port, overlay and netns mounts.
DOCKER_VICTIM = """
import sys, time
from tests.support import dockerd, e2e_runs
from sidecar.demo.throwaway import free_port
run = e2e_runs.Run.start()
daemon = dockerd.Dockerd(run.root, dockerd.cgroup_of(run.id))
daemon.start()
daemon.load_images([sys.argv[1]])
docker = daemon.engine
docker.ok("network", "create", "victim")
docker.ok("run", "-d", "--network", "victim", "-p", f"127.0.0.1:{free_port()}:8080",
          "--entrypoint", "sleep", sys.argv[1], "600")
print(run.id, daemon.pidfile.read_text().strip(), flush=True)
time.sleep(600)
"""


def start_victim(script: str, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """A run in a child process; what it printed once it made everything."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=60)
        pytest.fail(
            f"the victim run failed to set up:\n{proc.stderr.read() if proc.stderr else ''}"
        )
    return proc, line.split()


def kill(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.communicate(timeout=30)


@pytest.fixture
def live_run() -> Iterator[e2e_runs.Run]:
    """A run in progress, whose objects no sweep may touch."""
    run = e2e_runs.Run.start()
    try:
        yield run
    finally:
        e2e_sweep.sweep_run(run.id, podman.engine() if podman.available() else None)
        run.close()


def test_run_ids_are_read_only_from_names_our_runs_make() -> None:
    """Only `sidecar-e2e-<8 hex>` names belong to runs: an operator's project never does."""
    run_id_of = e2e_runs.run_id_of
    assert run_id_of("sidecar-e2e-0123abcd-t1-manualmode-production_mariadb_production_data")
    assert run_id_of("pod_sidecar-e2e-0123abcd-t1-manualmode-production") == "0123abcd"
    assert run_id_of("sidecar-e2e-0123abcd.lock") == "0123abcd"
    assert run_id_of("sidecar-e2e-0123abcd") == "0123abcd"
    assert run_id_of("meaningful-conversations-production_mariadb_production_data") is None
    assert run_id_of("mysidecar-e2e-0123abcd-x") is None
    assert run_id_of("sidecar-e2e-0123abcdef-x") is None
    assert run_id_of("sidecar-e2e-0123ABCD-x") is None


def test_only_the_suites_own_pre_run_id_names_count_as_legacy() -> None:
    """The bare-suffix names the preflight tests once made are swept; an operator's are not."""
    legacy = podman.legacy_suffixed
    assert legacy("meaningful-conversations-production-c45a7e1b_mariadb_production_data")
    assert legacy("manualmode-production-c45a7e1b_mariadb_production_data")
    assert legacy("pod_manualmode-production-c45a7e1b")
    assert legacy("manualmode-production-c45a7e1b_default")
    assert not legacy("meaningful-conversations-production_mariadb_production_data")
    assert not legacy("manualmode-production-staging_mariadb_production_data")
    assert not legacy("mymanualmode-production-c45a7e1b_mariadb_production_data")
    assert not legacy("manualmode-production-c45a7e1b0_mariadb_production_data")


def test_a_live_run_cannot_be_claimed_and_a_finished_one_can() -> None:
    """The lock is what tells a run in progress from a leftover: held means hands off."""
    run = e2e_runs.Run.start()
    assert run.root.is_dir()
    with e2e_runs.claim(run.id) as claimed:
        assert not claimed
    run.close()
    assert not run.root.exists() and not e2e_runs.lock_path(run.id).exists()
    with e2e_runs.claim(run.id) as claimed:
        assert claimed
    assert not e2e_runs.lock_path(run.id).exists()


def test_a_killed_process_gives_up_its_run() -> None:
    """SIGKILL leaves the lock file but not the lock: the run is claimable at once."""
    proc, (run_id,) = start_victim(
        "from tests.support import e2e_runs; import time\n"
        "run = e2e_runs.Run.start(); print(run.id, flush=True); time.sleep(600)"
    )
    with e2e_runs.claim(run_id) as claimed:
        assert not claimed
    kill(proc)
    assert e2e_runs.lock_path(run_id).exists()
    with e2e_runs.claim(run_id) as claimed:
        assert claimed
        assert e2e_sweep.sweep_run(run_id, None) == [f"directory {e2e_runs.root_of(run_id)}"]
    assert not e2e_runs.root_of(run_id).exists()
    assert not e2e_runs.lock_path(run_id).exists()


@pytest.mark.e2e
def test_sweep_removes_a_killed_podman_runs_objects_and_stale_dns_but_not_a_live_runs(
    live_run: e2e_runs.Run,
) -> None:
    """Containers, networks, volumes, DNS entries and files of the killed run go; ours stay."""
    if not podman.available():
        pytest.skip("needs root and podman")
    engine = podman.engine()
    kept = live_run.name("keep_mariadb_production_data")
    engine.ok("volume", "create", kept)
    proc, (run_id,) = start_victim(PODMAN_VICTIM, IMAGES[0])
    kill(proc)
    victim = e2e_runs.root_of(run_id)
    dns = sorted(p.name for p in podman.AARDVARK_DIR.iterdir() if run_id in p.name)
    assert dns == [f"sidecar-e2e-{run_id}-gone_default", f"sidecar-e2e-{run_id}-victim_default"]
    assert engine.exists("containers", f"sidecar-e2e-{run_id}-victim_app_1")  # still running

    removed = e2e_sweep.sweep_finished_runs()

    def left() -> list[str]:
        names = [n for kind in ("containers", "networks", "volumes") for n in engine.names(kind)]
        names += [p.name for p in podman.AARDVARK_DIR.iterdir()]
        return [n for n in names if run_id in n]

    assert left() == []
    assert not victim.exists() and not e2e_runs.lock_path(run_id).exists()
    assert f"aardvark-dns entry sidecar-e2e-{run_id}-gone_default" in removed
    assert f"volume sidecar-e2e-{run_id}-victim_mariadb_production_data" in removed
    assert engine.exists("volumes", kept), "a live run's volume was removed"
    assert live_run.root.is_dir()


@pytest.mark.e2e
def test_sweep_removes_the_bare_suffix_volumes_of_older_runs_and_nothing_else() -> None:
    """What a killed preflight test left before its names carried a run id (it made the e2e's
    refusal list them as "also holding" the key) goes; an operator's volume of the key stays."""
    if not podman.available():
        pytest.skip("needs root and podman")
    engine = podman.engine()
    suffix = secrets.token_hex(4)
    old = f"meaningful-conversations-production-{suffix}_mariadb_production_data"
    operator = f"manualmode-production-{suffix}-staging_mariadb_production_data"
    engine.ok("volume", "create", old)
    engine.ok("volume", "create", operator)
    try:
        removed = e2e_sweep.sweep_finished_runs()
        assert f"volume {old}" in removed
        assert not engine.exists("volumes", old)
        assert engine.exists("volumes", operator), "a volume not of the suite was removed"
    finally:
        engine.remove_where({old, operator}.__contains__)


@pytest.mark.e2e
@pytest.mark.parametrize("daemon", ["orphaned", "killed"])
def test_sweep_stops_a_killed_runs_dockerd_and_removes_all_it_left(
    daemon: str, tmp_path: Path
) -> None:
    """The daemon (orphaned, or SIGKILLed under its containers), the containers' processes,
    cgroups, bridges, mounts and directory of a killed Docker run all go."""
    if (why := dockerd.available()) is not None:
        pytest.skip(why)
    proc, (run_id, daemon_pid) = start_victim(DOCKER_VICTIM, SIDECAR_IMAGE)
    kill(proc)
    root = e2e_runs.root_of(run_id)
    docker_dir = root / "docker"
    cgroup = dockerd.cgroup_of(run_id)
    if daemon == "killed":
        os.kill(int(daemon_pid), signal.SIGKILL)
    assert dockerd.processes_naming(docker_dir), "the victim's shim should still run"
    assert dockerd.cgroup_dirs(cgroup) and dockerd.bridges_in(docker_dir / "pool")
    assert e2e_runs.mounts_under(root)
    sockets = dockerd.shim_sockets(docker_dir)
    assert sockets and all(s.exists() for s in sockets)
    pool = tmp_path / "pool"  # the run's own copy goes with its directory
    pool.write_text((docker_dir / "pool").read_text())

    e2e_sweep.sweep_finished_runs()
    assert dockerd.processes_naming(docker_dir) == []
    assert dockerd.cgroup_dirs(cgroup) == []
    assert dockerd.bridges_in(pool) == []
    assert e2e_runs.mounts_under(root) == []
    assert not any(s.exists() for s in sockets)
    assert not root.exists() and not e2e_runs.lock_path(run_id).exists()
