"""`sidecar volumes` as pure functions: which twin is the data, what the sidecar remembers."""

from pathlib import Path

import pytest

from sidecar.preflight.engines import ContainerMount, EngineContainer
from sidecar.preflight.recover import RememberedVolumes, compare, remembered
from sidecar.preflight.sizes import Size
from sidecar.preflight.tools import Tool
from sidecar.results import Status
from sidecar.state import Memory as SidecarMemory
from sidecar.state import StateStore
from tests.preflight.stacks import INCIDENT
from tests.preflight.test_verdict import (
    DATA,
    GOOD,
    KEY,
    NEW,
    OLD,
    observe,
    podman_labels,
    stack_in,
    volume,
)

FRESH = Size(97_000_000, 120, True)  # a datadir MariaDB initialised, plus migrations
NO_MEMORY = RememberedVolumes({}, ())


def test_after_the_incident_the_older_larger_twin_is_the_data(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, NEW, INCIDENT)
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD), day=24)
    new = volume(f"{NEW}_{KEY}", podman_labels(NEW), day=27)
    db = EngineContainer(f"{NEW}_mariadb_1", True, {}, (ContainerMount(new.name, "/x", True),))
    (report,) = compare(stack, observe((new, FRESH), (old, DATA), containers=(db,)), NO_MEMORY)
    assert [r.candidate.volume.name for r in report.rows] == [old.name, new.name]
    assert [r.current for r in report.rows] == [False, True]
    assert report.status is Status.FAIL
    assert report.summary == (
        f"the stack runs on {new.name} ({NEW}_mariadb_1), but {old.name} looks like your data"
        " (older and larger)"
    )
    down = "podman-compose down   (stops the stack; every volume is kept: no -v)"
    assert report.steps[0] == f"cd {stack.project.directory} && {down}"
    assert report.steps[1].startswith(f'add "name: {OLD}" to the compose file')
    assert report.steps[3] == "podman-compose up -d"
    assert report.steps[-1].startswith(
        f"keep {new.name} until anything written to it since 2025-11-27"
    )


def test_before_the_start_the_twin_is_the_answer(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, NEW, INCIDENT, Tool.COMPOSE)
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD))
    (report,) = compare(stack, observe((old, DATA)), NO_MEMORY)
    assert report.status is Status.FAIL
    assert report.summary.startswith(f"this stack would create {NEW}_{KEY} anew, but {old.name}")
    assert report.steps[0].endswith(
        "docker compose down   (stops the stack; every volume is kept: no -v)"
    )


def test_the_stack_on_its_data_passes(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, NEW, f"name: {OLD}\n" + INCIDENT)
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD), day=24)
    new = volume(f"{NEW}_{KEY}", podman_labels(NEW), day=27)
    (report,) = compare(stack, observe((new, FRESH), (old, DATA)), NO_MEMORY)
    assert (report.status, report.steps) == (Status.PASS, ())


def test_mixed_evidence_only_warns(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, NEW, INCIDENT)
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD), day=28)  # larger, but newer
    new = volume(f"{NEW}_{KEY}", podman_labels(NEW), day=27)
    (report,) = compare(stack, observe((new, FRESH), (old, DATA)), NO_MEMORY)
    assert report.status is Status.WARN
    assert "(larger, though newer)" in report.summary


def test_what_the_sidecar_remembers_outranks_size(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, NEW, INCIDENT)
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD), day=24)
    bigger = volume(f"other_{KEY}", podman_labels("other"), day=1)
    new = volume(f"{NEW}_{KEY}", podman_labels(NEW), day=27)
    memory = RememberedVolumes({old.name: "sidecar state /srv/state"}, ())
    observed = observe((new, FRESH), (old, DATA), (bigger, Size(900_000_000, 9, True)))
    (report,) = compare(stack, observed, memory)
    assert report.rows[0].candidate.volume.name == old.name
    assert report.status is Status.FAIL
    assert "remembered by sidecar state /srv/state" in report.summary


def test_memory_comes_from_the_state_file_and_the_pin(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, "d", GOOD)
    state = stack.project.directory / "state"  # the sidecar's bind mount, found in the file
    StateStore(state).save(SidecarMemory(identity={"volume": f"{OLD}_{KEY}"}))
    memory = remembered(stack, None)
    assert memory.volumes == {
        f"{OLD}_{KEY}": f"sidecar state {state.resolve()}",
        "shop_db_data": "SIDECAR_EXPECT_IDENTITY of sidecar",
    }
    assert memory.notes == ()


@pytest.mark.parametrize(
    ("content", "note"),
    [(None, "no sidecar state in"), ("{not json", "sidecar state not read: ")],
)
def test_an_unreadable_state_is_a_note_not_an_error(
    tmp_path: Path, content: str | None, note: str
) -> None:
    stack = stack_in(tmp_path, "d", GOOD)
    state = tmp_path / "given"
    state.mkdir()
    if content is not None:
        (state / "state.json").write_text(content)
    memory = remembered(stack, state)
    assert memory.notes[0].startswith(note)
    assert memory.volumes == {"shop_db_data": "SIDECAR_EXPECT_IDENTITY of sidecar"}
