"""The incident on PostgreSQL, and PostgreSQL 18's own trap, under podman-compose and Compose v2.

The stack is compose/postgres/ as an operator deploys it, on images built here with no
registry (tests/e2e/build-images.sh): `localhost/postgres:15`, Debian's PostgreSQL behind an
entrypoint that initialises an empty PGDATA and runs the init scripts as the official image's
does, and the same server in PostgreSQL 18's layout (`VOLUME /var/lib/postgresql`,
`PGDATA=/var/lib/postgresql/18/docker`) as `localhost/postgres:18-layout`.

- The rename (compose/postgres/incident/compose.yaml, no `name:`): `sidecar preflight` refuses
  it (exit 2, both volumes and the `name:` line named); started anyway, PostgreSQL initialises
  a fresh cluster on a new volume, the sidecar fails, the app never migrates, `sidecar volumes`
  points at the old volume, and its printed steps bring the stack back with every user. Under
  podman-compose with the backups on, the backup service's pg_dump of the fresh cluster fails
  `User:backupRows`, naming the dump that still holds the 14 users.
- The postgres:18 trap: the stack's file without its `PGDATA` line (as files carried over from
  16 or 17 are) on the 18-layout image. `sidecar preflight` refuses it before the first `up`;
  started anyway, the cluster lands on the image's anonymous volume while the named one stays
  empty: the sidecar fails at once (the data volume holds no cluster), the app never starts,
  and `sidecar volumes` names the anonymous volume holding the cluster.
"""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.mariadb_server import free_port
from tests.support.compose_stack import (
    POSTGRES,
    POSTGRES18_IMAGE,
    USERS,
    Stack,
    Workspace,
    assert_app_never_migrated,
    assert_podman_gate_held,
    bring_up_and_fill,
    check_after_vulnerable_up,
    check_before_renamed_up,
    deploy,
    enable_backups,
    follow_recovery_steps,
    forget_state,
    line_starting,
    newest_dump,
    poll,
    sidecar_cli,
    wait_for_backup_verdict,
    wait_for_fresh_datadir_verdict,
)

pytestmark = pytest.mark.e2e

PGDATA_LINE = "      PGDATA: /var/lib/postgresql/data\n"


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
    old_volume = stack.volume
    stack.compose("down")  # volumes kept
    stack.rename(podman_workspace.new_name)

    check_before_renamed_up(stack, old_volume)
    up_output = stack.compose("up", "-d")
    steps = check_after_vulnerable_up(stack, old_volume)
    doc = wait_for_fresh_datadir_verdict(stack, old_volume, "pin, baseline")
    print(f"\nsidecar /health: {doc['status']}: {doc['output']}")
    assert doc["checks"]["User:rowCount"][0]["status"] == "fail"
    assert_podman_gate_held(stack, podman_workspace, up_output)

    # The backup service does not wait for the sidecar: it dumps the fresh cluster.
    poll("a dump of the fresh cluster", lambda: newest_dump(stack, None), 90, stack.diagnose)
    doc = wait_for_backup_verdict(stack, good)
    rows = doc["checks"]["User:backupRows"][0]
    print(f"User:backupRows: {rows['status']}: {rows['output']}")
    assert rows["status"] == "fail", rows
    assert "does not hold table User" in rows["output"], rows
    assert f"restore candidate: {good.name} ({USERS} User rows, " in rows["output"], rows

    follow_recovery_steps(stack, steps, old_volume, backups_on=True)


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
    old_volume = stack.volume
    stack.compose("down")
    stack.rename(docker_workspace.new_name)
    forget_state(stack)

    check_before_renamed_up(stack, old_volume)
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


def deploy_the_18_trap(workspace: Workspace) -> Stack:
    """compose/postgres/ without its PGDATA line, on the 18-layout image: a file written for
    16 or 17, its named volume at /var/lib/postgresql/data, pointed at PostgreSQL 18."""
    stack = deploy(workspace.engine, POSTGRES.compose, workspace.old, free_port(), POSTGRES)
    compose_file = stack.dir / "compose.yaml"
    text = compose_file.read_text()
    assert text.count(PGDATA_LINE) == 1
    compose_file.write_text(text.replace(PGDATA_LINE, ""))
    env = stack.dir / ".env"
    env.write_text(env.read_text().replace(POSTGRES.image, POSTGRES18_IMAGE))
    return stack


def check_18_trap_refused_before_up(stack: Stack) -> None:
    refused = sidecar_cli(stack, "preflight")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    key = POSTGRES.volume_key
    fail = line_starting(refused.stdout, f"fail: postgres ({POSTGRES18_IMAGE}) keeps")
    assert fail.startswith(
        f"fail: postgres ({POSTGRES18_IMAGE}) keeps its PostgreSQL data in"
        " /var/lib/postgresql/18/docker (PGDATA of postgres:18), on the image's own VOLUME"
        f" /var/lib/postgresql, not on {key} mounted at /var/lib/postgresql/data;"
    ), fail
    assert fail.endswith(
        f'mount it at /var/lib/postgresql: "- {key}:/var/lib/postgresql" or add'
        ' "PGDATA: /var/lib/postgresql/data" to postgres\'s environment'
    ), fail


def check_18_trap_caught_after_up(stack: Stack) -> None:
    """The named volume stayed empty, the sidecar fails on it at once, and `sidecar volumes`
    names the anonymous volume the cluster went to."""
    assert not (stack.volume_path(stack.volume) / "PG_VERSION").exists()

    def fails_on_the_volume() -> dict[str, Any] | None:
        # Once PostgreSQL answers (the server runs a cluster; the volume holds none).
        doc = stack.verdict("fail")
        if doc is None or doc["checks"]["database:connection"][0]["status"] != "pass":
            return None
        return doc if "holds no cluster" in doc["output"] else None

    doc = poll("the sidecar to fail on the empty volume", fails_on_the_volume, 60, stack.diagnose)
    print(f"\nsidecar /health: {doc['status']}: {doc['output']}")
    assert_app_never_migrated(stack)
    found = sidecar_cli(stack, "volumes")
    assert found.returncode == 2, found.stdout + found.stderr
    verdict = line_starting(found.stdout, "fail:")
    assert verdict.startswith(f"fail: {stack.volume} is empty, but anonymous volume "), verdict
    container = stack.container("postgres")
    assert f"cluster in 18/docker (mounted by {container} at /var/lib/postgresql)" in verdict


def test_the_postgres_18_trap_under_podman_compose(podman_workspace: Workspace) -> None:
    stack = deploy_the_18_trap(podman_workspace)
    check_18_trap_refused_before_up(stack)
    up_output = stack.compose("up", "-d")
    check_18_trap_caught_after_up(stack)
    assert_podman_gate_held(stack, podman_workspace, up_output)


def test_the_postgres_18_trap_under_compose_v2(docker_workspace: Workspace) -> None:
    stack = deploy_the_18_trap(docker_workspace)
    check_18_trap_refused_before_up(stack)
    status, output = stack.run_compose("up", "-d")
    check_18_trap_caught_after_up(stack)
    assert status != 0 and "dependency failed to start" in output, output
    assert stack.never_started("app")
