"""The incident on PostgreSQL, and PostgreSQL 18's own trap, under Docker Engine and Compose v2.

compose/postgres/ on the same images as the podman-compose run
(tests/e2e/test_postgres_compose_incident.py), on a private dockerd of this run's own; Compose
v2 honours `depends_on: {sidecar: {condition: service_healthy}}`, so the app is never started.

- The rename with ./state lost too: refused by `sidecar preflight`; `up` fails on the sidecar's
  health; the pin alone names the change; `sidecar volumes` on the old volume; its steps bring
  the stack back with every user.
- The postgres:18 trap, refused before `up` and caught after it.
"""

from __future__ import annotations

import pytest

from sidecar.demo.throwaway import free_port
from tests.support.compose_stack import (
    POSTGRES,
    POSTGRES18_IMAGE,
    Workspace,
    assert_app_never_migrated,
    bring_up_and_fill,
    check_18_trap_caught_after_up,
    check_18_trap_refused_before_up,
    check_after_vulnerable_up,
    deploy,
    deploy_the_18_trap,
    follow_recovery_steps,
    stop_and_rename,
    wait_for_fresh_datadir_verdict,
)

pytestmark = pytest.mark.e2e
# What the private dockerd gets loaded (tests/e2e/conftest.py), beside the sidecar's image.
DATABASE_IMAGES = (POSTGRES.image, POSTGRES18_IMAGE)


def test_renamed_postgres_start_is_refused_gated_by_compose_v2_and_recovered(
    docker_workspace: Workspace,
) -> None:
    """Docker Engine and Compose v2, ./state lost too: refused; `up` fails on the sidecar's
    health and never starts the app; the pin alone names the change; `sidecar volumes` on the
    old volume; its steps bring the stack back."""
    stack = deploy(
        docker_workspace.engine,
        POSTGRES.compose / "incident",
        docker_workspace.old,
        free_port(),
        POSTGRES,
    )
    bring_up_and_fill(stack)
    old_volume = stop_and_rename(stack, docker_workspace.new_name, lose_state=True)
    status, output = stack.run_compose("up", "-d")
    steps = check_after_vulnerable_up(stack, old_volume)
    assert status != 0, output
    refusal = f"dependency failed to start: container {stack.container('sidecar')} is unhealthy"
    assert refusal in output, output
    doc = wait_for_fresh_datadir_verdict(stack, old_volume, "pin")
    print(f"\n$ docker compose up -d   (exit {status})\n{refusal}")
    print(f"sidecar /health: {doc['status']}: {doc['output']}")
    assert stack.never_started("app") and stack.logs("app").strip() == ""
    assert_app_never_migrated(stack)

    follow_recovery_steps(stack, steps, old_volume)


def test_the_postgres_18_trap_under_compose_v2(docker_workspace: Workspace) -> None:
    stack = deploy_the_18_trap(docker_workspace, free_port())
    check_18_trap_refused_before_up(stack)
    status, output = stack.run_compose("up", "-d")
    check_18_trap_caught_after_up(stack)
    assert status != 0 and "dependency failed to start" in output, output
    assert stack.never_started("app")
