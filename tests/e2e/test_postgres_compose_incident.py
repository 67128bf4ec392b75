"""The incident on PostgreSQL, and PostgreSQL 18's own trap, under podman-compose.

The stack is compose/postgres/ as an operator deploys it, on images built here with no
registry (tests/e2e/build-images.sh): `localhost/postgres:15`, Debian's PostgreSQL behind an
entrypoint that initialises an empty PGDATA and runs the init scripts as the official image's
does, and the same server in PostgreSQL 18's layout (`VOLUME /var/lib/postgresql`,
`PGDATA=/var/lib/postgresql/18/docker`) as `localhost/postgres:18-layout`. The same under Docker
Engine and Compose v2: tests/e2e/test_postgres_docker_compose_incident.py.

- The rename (compose/postgres/incident/compose.yaml, no `name:`), ./state kept, backups on:
  `sidecar preflight` refuses it (exit 2, both volumes and the `name:` line named); started
  anyway, PostgreSQL initialises a fresh cluster on a new volume, the sidecar fails, the app
  never migrates, `sidecar volumes` points at the old volume, the backup service's pg_dump of
  the fresh cluster fails `User:backupRows` naming the dump that still holds the 14 users, and
  the printed steps bring the stack back with every user.
- The postgres:18 trap: the stack's file without its `PGDATA` line (as files carried over from
  16 or 17 are) on the 18-layout image. `sidecar preflight` refuses it before the first `up`;
  started anyway, the cluster lands on the image's anonymous volume while the named one stays
  empty: the sidecar fails at once (the data volume holds no cluster), the app never starts,
  and `sidecar volumes` names the anonymous volume holding the cluster.
"""

from __future__ import annotations

import pytest

from sidecar.demo.throwaway import free_port
from tests.support.compose_stack import (
    POSTGRES,
    Workspace,
    assert_podman_gate_held,
    bring_up_and_fill,
    check_18_trap_caught_after_up,
    check_18_trap_refused_before_up,
    check_after_vulnerable_up,
    check_fresh_dump_fails_naming,
    deploy,
    deploy_the_18_trap,
    enable_backups,
    follow_recovery_steps,
    stop_and_rename,
    wait_for_fresh_datadir_verdict,
)

pytestmark = pytest.mark.e2e


def test_renamed_postgres_start_is_refused_caught_its_dump_failed_and_recovered(
    podman_workspace: Workspace,
) -> None:
    """podman-compose, ./state kept, backups on: refused, caught (pin, baseline), the app held,
    `sidecar volumes` on the old volume, the fresh cluster's dump failed with the good one
    named; then the printed steps bring the stack back on its 14 users."""
    stack = deploy(
        podman_workspace.engine,
        POSTGRES.compose / "incident",
        podman_workspace.old,
        free_port(),
        POSTGRES,
    )
    bring_up_and_fill(stack)
    good = enable_backups(stack)
    old_volume = stop_and_rename(stack, podman_workspace.new_name)
    up_output = stack.compose("up", "-d")
    steps = check_after_vulnerable_up(stack, old_volume)
    doc = wait_for_fresh_datadir_verdict(stack, old_volume, "pin, baseline")
    print(f"\nsidecar /health: {doc['status']}: {doc['output']}")
    assert doc["checks"]["User:rowCount"][0]["status"] == "fail"
    assert_podman_gate_held(stack, podman_workspace, up_output)

    check_fresh_dump_fails_naming(stack, good)

    follow_recovery_steps(stack, steps, old_volume, backups_on=True)


def test_the_postgres_18_trap_under_podman_compose(podman_workspace: Workspace) -> None:
    stack = deploy_the_18_trap(podman_workspace, free_port())
    check_18_trap_refused_before_up(stack)
    up_output = stack.compose("up", "-d")
    check_18_trap_caught_after_up(stack)
    assert_podman_gate_held(stack, podman_workspace, up_output)
