"""README.md's "Quick start with compose", followed to the letter, under real podman-compose.

Its commands are read from README.md and run in bash as written, in a copy of compose/ of this
run's own, with what isolates the run from the host and from other runs, and nothing else:
the compose file's fixed `name:` becomes the run's (as in every e2e stack), the images are the
locally built ones (no registry), the port is a free one, `docker compose` is podman-compose,
and podman reads the tests' containers.conf. Then the quick start's `curl` must get a verdict.
Cost: one `up` of the stack, about a minute.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Iterator

import pytest

from sidecar.demo.throwaway import free_port
from tests.support.compose_stack import (
    COMPOSE,
    MARIADB_IMAGE,
    OLD_DIR,
    REPO,
    SIDECAR_IMAGE,
    Stack,
    Workspace,
    poll,
)
from tests.support.engines import run_command

pytestmark = pytest.mark.e2e


def quick_start() -> list[str]:
    """The quick start's commands: the first ```sh block under its heading in README.md."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Quick start with compose\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```sh\n(.*?)^```", section, re.M | re.S)
    assert match, "README.md's quick start has no ```sh block"
    # A line ending in `; do` continues on the next: join into whole commands.
    return re.split(r"\n(?!\s)", match.group(1).strip())


@pytest.fixture
def stack(podman_workspace: Workspace) -> Iterator[Stack]:
    """compose/ copied to a directory of the run's own; brought down however the test ends."""
    parent = podman_workspace.old
    parent.mkdir(parents=True)
    directory = parent / "compose"
    # What the repository holds: no .env, secrets, state or backups of a developer's own.
    mine = shutil.ignore_patterns(".env", "secrets", "state", "backups")
    shutil.copytree(COMPOSE, directory, symlinks=True, ignore=mine)
    compose_file = directory / "compose.yaml"
    compose_file.write_text(compose_file.read_text().replace(OLD_DIR, parent.name))
    built = Stack(podman_workspace.engine, directory, free_port())
    try:
        yield built
    finally:
        built.run_compose("down", "--volumes")


def test_the_readme_quick_start_brings_the_stack_up(stack: Stack) -> None:
    commands = quick_start()
    assert commands[0] == "cd compose" and commands[-1].startswith("curl "), commands
    compose = shlex.join(stack.engine.compose_cli)
    script = "\n".join(commands[:-1]).replace("docker compose", compose)
    curl = commands[-1].replace("127.0.0.1:8080", f"127.0.0.1:{stack.port}")
    env = {
        **stack.engine.env,
        "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
        # The environment wins over .env for both tools: the images built here, a free port.
        "MARIADB_IMAGE": MARIADB_IMAGE,
        "SIDECAR_IMAGE": SIDECAR_IMAGE,
        "SIDECAR_PUBLISH": f"127.0.0.1:{stack.port}",
    }
    cwd = stack.dir.parent
    done = run_command(["bash", "-euo", "pipefail", "-c", script], env=env, cwd=cwd, timeout=600)
    assert done.returncode == 0, f"{script}\n{done.stdout}{done.stderr}"

    def verdict() -> dict[str, object] | None:
        said = run_command(["bash", "-c", curl], env=env, cwd=cwd, timeout=30).stdout
        try:
            document = json.loads(said)
        except ValueError:
            return None  # not up yet
        # While MariaDB initialises the sidecar already answers, failing on the connection.
        # The first deployment then has no baseline yet: it warns, or passes once the app
        # migrated. Either lets the app start.
        ready = isinstance(document, dict) and document.get("status") in ("pass", "warn")
        return document if ready else None

    document = poll("a ready verdict from the quick start's curl", verdict, 240, stack.diagnose)
    assert document["checks"], document
