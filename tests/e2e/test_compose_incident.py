"""The 27.11.2025 incident replayed with real podman-compose, and the fix proven the same way.

The stack is compose/ as an operator deploys it: MariaDB, the sidecar (image built from this
repository) and an example app that migrates and seeds on start. The incident: the compose
file has no top-level `name:`, its directory is renamed between two `up`s, compose derives a
new project and a new, empty data volume, MariaDB initialises it, and (before the sidecar)
the app seeded an admin user into it and everything looked healthy.

Run through tests/e2e/run.sh (root, podman, images from build-images.sh). Project, volume and
directory names carry the run's id (tests/e2e/conftest.py), so no earlier run can collide.

This machine has no systemd, so podman never runs container health checks by itself (it
would use systemd timers); the tests run `podman healthcheck run` themselves, as the timer
would. podman-compose also skips `depends_on: condition: service_healthy` when podman is
older than 4.6 (Debian 12 ships 4.3): there the app's own /readyz wait, switched on by
compose/podman-compose.yaml (which podman-compose reads beside compose.yaml and Docker Compose
does not), is what keeps it from migrating, and the test checks whichever gate applies.

Around the renamed start an operator's commands run too (tests/support/compose_stack.py):
`sidecar preflight` refuses it beforehand, `sidecar volumes` points at the old volume
afterwards, and its printed steps bring the stack back. With the backups on, the backup
service's dump of the new, empty database is caught and the good dump named for a restore.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sidecar.demo.throwaway import free_port
from tests.support.compose_stack import (
    COMPOSE,
    Workspace,
    assert_podman_gate_held,
    bring_up_and_fill,
    check_after_vulnerable_up,
    check_fixed_stack_kept_its_data,
    check_fresh_dump_fails_naming,
    check_preflight_passes,
    deploy,
    enable_backups,
    follow_recovery_steps,
    sidecar_cli,
    stop_and_rename,
    wait_for_fresh_datadir_verdict,
)

pytestmark = pytest.mark.e2e


def test_incident_file_differs_from_the_fix_only_by_the_project_name() -> None:
    """compose/incident/compose.yaml is the fixed file minus `name:`, so the replay is faithful."""

    def body(path: Path) -> list[str]:
        lines = path.read_text().splitlines()
        return [ln for ln in lines if ln and not ln.startswith("#") and not ln.startswith("name:")]

    fixed = COMPOSE / "compose.yaml"
    assert re.search(r"(?m)^name:\s*\S+", fixed.read_text()), "compose.yaml must pin `name:`"
    assert not re.search(r"(?m)^name:", (COMPOSE / "incident" / "compose.yaml").read_text())
    assert body(fixed) == body(COMPOSE / "incident" / "compose.yaml")


def test_renamed_start_is_refused_then_caught_and_the_next_backup_fails(
    podman_workspace: Workspace,
) -> None:
    """The incident with ./state kept and the backups on: preflight refuses the renamed start;
    started anyway, it gets a new, empty volume; the sidecar fails (pin, baseline, row count),
    the app never migrates, `sidecar volumes` points at the old volume, and the backup service's
    next dump (of the empty database) fails `User:backupRows`, naming the dump of 14 users."""
    stack = deploy(podman_workspace.engine, COMPOSE / "incident", podman_workspace.old, free_port())
    bring_up_and_fill(stack)
    good = enable_backups(stack)
    old_volume = stop_and_rename(stack, podman_workspace.new_name)
    up_output = stack.compose("up", "-d")
    check_after_vulnerable_up(stack, old_volume)

    doc = wait_for_fresh_datadir_verdict(stack, old_volume, "pin, baseline")
    assert doc["checks"]["User:rowCount"][0]["status"] == "fail"
    assert_podman_gate_held(stack, podman_workspace, up_output)

    check_fresh_dump_fails_naming(stack, good)
    # On the host too: `sidecar volumes` names the same dump.
    found = sidecar_cli(stack, "volumes", "--backup-dir", str(stack.dir / "backups"))
    assert found.returncode == 2
    assert f"  restore candidate: {good.name} (written " in found.stdout, found.stdout


def test_renamed_start_without_state_is_caught_by_the_pin_and_recovered(
    podman_workspace: Workspace,
) -> None:
    """The incident with ./state lost too: the identity pinned in the compose file still
    catches it, and following the steps `sidecar volumes` prints brings the stack back on its
    data: down, the `name:` line, preflight passes, up; 14 users, the app starts."""
    stack = deploy(podman_workspace.engine, COMPOSE / "incident", podman_workspace.old, free_port())
    bring_up_and_fill(stack)
    old_volume = stop_and_rename(stack, podman_workspace.new_name, lose_state=True)
    up_output = stack.compose("up", "-d")
    steps = check_after_vulnerable_up(stack, old_volume)
    wait_for_fresh_datadir_verdict(stack, old_volume, "pin")
    assert_podman_gate_held(stack, podman_workspace, up_output)

    follow_recovery_steps(stack, steps, old_volume)


def test_fixed_project_name_survives_the_rename(podman_workspace: Workspace) -> None:
    """The fix: with `name:` pinned, preflight passes after the rename, the renamed directory
    reuses the volume, and all users remain."""
    stack = deploy(podman_workspace.engine, COMPOSE, podman_workspace.old, free_port())
    bring_up_and_fill(stack)
    volume = stack.volume
    stack.compose("down")

    stack.rename(podman_workspace.new_name)
    check_preflight_passes(stack, volume)
    stack.compose("up", "-d")
    check_fixed_stack_kept_its_data(stack, volume)
