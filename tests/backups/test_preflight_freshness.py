"""`sidecar preflight` before a restart: warn when the newest dump is older than max_age.

The incident report's first recommendation: take a fresh dump before a restart. The stack is
the compose file as written (sidecar, MariaDB, the backup job), loaded as preflight loads it.
"""

import os
import time
from pathlib import Path

import pytest

from sidecar.preflight import render
from sidecar.preflight.stack import load_stack
from sidecar.preflight.tools import Tool
from sidecar.preflight.verdict import Observation, judge
from tests.preflight.stacks import invocation, write_project

HOUR = 3600.0
STACK = """\
name: shop
services:
  mariadb:
    image: mariadb:10.11
    volumes: ["data:/var/lib/mysql"]
  sidecar:
    image: sidecar
    environment:
      SIDECAR_DATA_DIR: /var/lib/mysql
      SIDECAR_STATE_DIR: /var/lib/sidecar
      SIDECAR_BACKUP_DIR: /backups
      {max_age}
    volumes: ["data:/var/lib/mysql:ro", "./state:/var/lib/sidecar", "./backups:/backups:ro"]
  nightly:
    image: mariadb:10.11
    volumes: ["./backups:/out"]
volumes:
  data: {{}}
"""


def stale(tmp_path: Path, tool: Tool, age: float, max_age: str = "") -> list[str]:
    setting = f"SIDECAR_BACKUP_MAX_AGE: {max_age}" if max_age else ""
    directory = write_project(tmp_path, "shop", {"compose.yaml": STACK.format(max_age=setting)})
    (directory / "backups").mkdir()
    dump = directory / "backups" / "shop-2026-12-01T060000Z.sql.gz"
    dump.write_bytes(b"")
    os.utime(dump, (time.time() - age, time.time() - age))
    stack = load_stack(tool, invocation(directory))
    findings = [f for f in judge(stack, Observation("docker", (), ())) if f.code == "backup-stale"]
    if findings:
        assert render.exit_code([f.status for f in findings]) == 1
    return [f"{f.status}: {f.message}" for f in findings]


@pytest.mark.parametrize(
    ("tool", "command"),
    [(Tool.COMPOSE, "docker compose"), (Tool.PODMAN_COMPOSE, "podman-compose")],
)
def test_a_dump_older_than_max_age_warns_with_the_command_that_takes_one(
    tmp_path: Path, tool: Tool, command: str
) -> None:
    assert stale(tmp_path, tool, age=30 * HOUR) == [
        "warn: the newest dump (shop-2026-12-01T060000Z.sql.gz) is 30h old"
        " (SIDECAR_BACKUP_MAX_AGE 26h): take a fresh one before the restart:"
        f" {command} exec nightly bash /backup/backup.sh once"
    ]


def test_a_fresh_dump_says_nothing_and_the_stack_setting_is_the_bound(tmp_path: Path) -> None:
    assert stale(tmp_path / "a", Tool.COMPOSE, age=2 * HOUR) == []
    (said,) = stale(tmp_path / "b", Tool.COMPOSE, age=2 * HOUR, max_age="1h")
    assert "is 2h old (SIDECAR_BACKUP_MAX_AGE 1h)" in said
