"""The verdict rules as pure functions: a stack from a compose file, the engine as data."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sidecar.preflight.engines import ContainerMount, EngineContainer, EngineVolume
from sidecar.preflight.sizes import Size
from sidecar.preflight.stack import Stack, load_stack
from sidecar.preflight.tools import Tool
from sidecar.preflight.verdict import Finding, Observation, judge, volumes_to_measure
from sidecar.results import Status, worst
from tests.preflight.stacks import INCIDENT, invocation, write_project

REPO = Path(__file__).resolve().parents[2]
KEY = "mariadb_production_data"
OLD = "meaningful-conversations-production"
NEW = "manualmode-production"
DATA = Size(182_000_000, 250, True)
EMPTY = Size(4096, 0, True)


def volume(name: str, labels: dict[str, str] | None = None, day: int = 24) -> EngineVolume:
    return EngineVolume(name, datetime(2025, 11, day, tzinfo=UTC), f"/v/{name}", labels or {}, "")


def podman_labels(project: str) -> dict[str, str]:
    return {"com.docker.compose.project": project, "io.podman.compose.project": project}


def v1_labels(project: str, key: str) -> dict[str, str]:
    return {"com.docker.compose.project": project, "com.docker.compose.volume": key}


def observe(
    *volumes: tuple[EngineVolume, Size], containers: tuple[EngineContainer, ...] = ()
) -> Observation:
    return Observation(
        "podman", tuple(v for v, _ in volumes), containers, {v.name: s for v, s in volumes}
    )


def stack_in(
    tmp_path: Path,
    directory: str,
    text: str,
    tool: Tool = Tool.PODMAN_COMPOSE,
    environ: dict[str, str] | None = None,
    **flags: object,
) -> Stack:
    path = write_project(tmp_path, directory, {"compose.yaml": text, "docker-compose.yml": text})
    return load_stack(tool, invocation(path, environ, **flags))


def only(findings: list[Finding], status: Status) -> list[Finding]:
    return [f for f in findings if f.status is status]


def about_volumes(findings: list[Finding]) -> list[Finding]:
    """Leave out the warning that a bare test stack has no sidecar."""
    return [f for f in findings if f.code != "no-sidecar"]


def test_the_incident_rename_fails_naming_both_volumes_and_the_fix(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, NEW, INCIDENT)
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD))
    (fail,) = only(judge(stack, observe((old, DATA))), Status.FAIL)
    assert fail.message == (
        f"this start would create a NEW, EMPTY volume {NEW}_{KEY}; {OLD}_{KEY} (created"
        f' 2025-11-24, 182 MB, project {OLD}) holds your data: add "name: {OLD}" to the'
        " compose file"
    )
    assert fail.code == "new-empty-volume"


def test_the_incident_compose_file_also_fails_its_identity_pin(tmp_path: Path) -> None:
    text = (REPO / "compose" / "incident" / "compose.yaml").read_text()
    stack = stack_in(tmp_path, NEW, text)
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD))
    findings = judge(stack, observe((old, DATA)))
    assert [f.code for f in only(findings, Status.FAIL)] == ["new-empty-volume", "identity-pin"]
    pin = only(findings, Status.FAIL)[1].message
    assert pin.startswith(
        f"sidecar pins SIDECAR_EXPECT_IDENTITY volume={OLD}_{KEY}, but this start would mount"
        f" {NEW}_{KEY} at /var/lib/mysql: the pinned {OLD}_{KEY} (created 2025-11-24, 182 MB)"
        f' exists: add "name: {OLD}"'
    )
    assert [f.code for f in only(findings, Status.WARN)] == ["no-name"]
    assert f'add "name: {OLD}"' in only(findings, Status.WARN)[0].message


def test_the_fixed_compose_file_passes_after_the_rename(tmp_path: Path) -> None:
    text = (REPO / "compose" / "compose.yaml").read_text()
    stack = stack_in(tmp_path, NEW, text)
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD))
    findings = judge(stack, observe((old, DATA)))
    assert worst([f.status for f in findings]) is Status.PASS, findings
    (line,) = findings
    assert line.message == f"database volume {OLD}_{KEY} exists (created 2025-11-24, 182 MB)"


def test_a_first_start_creates_its_volume_quietly(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, NEW, "name: shop\n" + INCIDENT)
    (finding,) = about_volumes(judge(stack, observe()))
    assert (finding.status, finding.code) == (Status.PASS, "volume-new")


@pytest.mark.parametrize(
    ("twin_size", "status"),
    [(EMPTY, Status.PASS), (Size(None, 0, False, "Permission denied"), Status.FAIL)],
)
def test_an_empty_twin_is_no_reason_to_stop_an_unreadable_one_is(
    tmp_path: Path, twin_size: Size, status: Status
) -> None:
    stack = stack_in(tmp_path, NEW, "name: shop\n" + INCIDENT)
    twin = volume(f"{OLD}_{KEY}", podman_labels(OLD))
    findings = about_volumes(judge(stack, observe((twin, twin_size))))
    assert worst([f.status for f in findings]) is status


def test_adding_a_name_other_than_the_old_prefix_is_caught(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, NEW, f"name: {OLD}\n" + INCIDENT)
    made_by_podman_compose = volume(f"{NEW}_{KEY}", podman_labels(NEW), day=27)
    (fail,) = only(judge(stack, observe((made_by_podman_compose, DATA))), Status.FAIL)
    assert f"NEW, EMPTY volume {OLD}_{KEY}; {NEW}_{KEY}" in fail.message
    assert fail.message.endswith(f'add "name: {NEW}" to the compose file')


MAILCOW_KEY = "mysql-vol-1"
MAILCOW = f"services:\n  mysql:\n    image: mariadb:10.5\n    volumes:\n      - {MAILCOW_KEY}:/var/lib/mysql\nvolumes:\n  {MAILCOW_KEY}:\n"  # noqa: E501


@pytest.mark.parametrize(
    ("labels", "tool", "fix"),
    [
        # docker-compose < 1.21 labelled its volumes (engine API >= 1.23): project and key.
        (v1_labels("mailcowdockerized", MAILCOW_KEY), Tool.DOCKER_COMPOSE,
         'add "COMPOSE_PROJECT_NAME=mailcowdockerized" to'),
        (v1_labels("mailcowdockerized", MAILCOW_KEY), Tool.COMPOSE,
         'add "name: mailcowdockerized" to the compose file'),
        # Older engines got no labels: the project is read off the name, and said so.
        ({}, Tool.COMPOSE, 'add "name: mailcowdockerized" to the compose file'),
    ],
)  # fmt: skip
def test_the_docker_compose_121_upgrade_is_caught(
    tmp_path: Path, labels: dict[str, str], tool: Tool, fix: str
) -> None:
    stack = stack_in(tmp_path, "mailcow-dockerized", MAILCOW, tool)
    assert stack.project.name == "mailcow-dockerized"
    old = volume(f"mailcowdockerized_{MAILCOW_KEY}", labels, day=1)
    (fail,) = only(judge(stack, observe((old, DATA))), Status.FAIL)
    assert f"NEW, EMPTY volume mailcow-dockerized_{MAILCOW_KEY}" in fail.message
    assert fix in fail.message
    assert ("by its name" in fail.message) is (not labels)


def test_the_fix_follows_where_the_name_came_from(tmp_path: Path) -> None:
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD))
    flagged = stack_in(tmp_path, "a", INCIDENT, project_name="renamed")
    (fail,) = only(judge(flagged, observe((old, DATA))), Status.FAIL)
    assert fail.message.endswith(f"start it with -p {OLD}")
    from_env = stack_in(tmp_path, "b", INCIDENT, environ={"COMPOSE_PROJECT_NAME": "renamed"})
    (fail,) = only(judge(from_env, observe((old, DATA))), Status.FAIL)
    assert fail.message.endswith(f'set "COMPOSE_PROJECT_NAME={OLD}"')


def test_a_twin_that_cannot_be_a_project_name_is_fixed_with_the_volume_name(
    tmp_path: Path,
) -> None:
    stack = stack_in(tmp_path, NEW, INCIDENT, Tool.COMPOSE)
    odd = volume(f"Old.Stack_{KEY}", {"com.docker.compose.project": "Old.Stack"})
    (fail,) = only(judge(stack, observe((odd, DATA))), Status.FAIL)
    assert fail.message.endswith(f'"volumes: {{{KEY}: {{name: Old.Stack_{KEY}}}}}"')


def test_the_abandoned_twin_is_named_before_a_live_stacks_copy(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, NEW, INCIDENT)
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD))
    staging = volume(f"manualmode-staging_{KEY}", podman_labels("manualmode-staging"), day=20)
    running = EngineContainer("staging-db", True, {}, (ContainerMount(staging.name, "/x", True),))
    observed = observe((old, DATA), (staging, Size(400_000_000, 9, True)), containers=(running,))
    (fail,) = only(judge(stack, observed), Status.FAIL)
    assert fail.message.startswith(
        f"this start would create a NEW, EMPTY volume {NEW}_{KEY}; {OLD}_"
    )
    assert f"(also holding {KEY}: manualmode-staging_{KEY}; `sidecar volumes`" in fail.message


def test_a_non_database_twin_warns(tmp_path: Path) -> None:
    text = (
        "services:\n  web:\n    image: nginx\n    volumes: [uploads:/srv]\nvolumes:\n  uploads:\n"
    )
    stack = stack_in(tmp_path, NEW, "name: x\n" + text)
    old = volume("y_uploads", podman_labels("y"))
    (warn,) = only(judge(stack, observe((old, DATA))), Status.WARN)
    assert warn.code == "new-empty-volume"


def test_an_external_volume_that_does_not_exist_warns(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, NEW, "name: x\n" + INCIDENT + "    external: true\n")
    (warn,) = only(about_volumes(judge(stack, observe())), Status.WARN)
    assert warn.code == "external-missing"


GOOD = """\
name: shop
services:
  db:
    image: mariadb:10.11
    volumes:
      - db_data:/var/lib/mysql
  sidecar:
    image: localhost/sidecar:dev
    environment:
      SIDECAR_DATA_DIR: /var/lib/mysql
      SIDECAR_STATE_DIR: /var/lib/sidecar
      SIDECAR_EXPECT_IDENTITY: volume=shop_db_data
    volumes:
      - db_data:/var/lib/mysql:ro
      - ./state:/var/lib/sidecar
  app:
    image: shop-app
    depends_on:
      sidecar:
        condition: service_healthy
volumes:
  db_data:
"""


def test_a_well_guarded_stack_passes(tmp_path: Path) -> None:
    findings = judge(stack_in(tmp_path, "d", GOOD), observe((volume("shop_db_data"), DATA)))
    assert [(f.status, f.code) for f in findings] == [(Status.PASS, "volume-exists")]


@pytest.mark.parametrize(
    ("old", "new", "code", "says"),
    [
        ("name: shop\n", "", "no-name", 'add "name: d" to the compose file'),
        ("      - ./state:/var/lib/sidecar\n", "      - state:/var/lib/sidecar\n", "state",
         'the named volume state: it is renamed, and forgotten, together with the data volume;'
         ' mount a host path instead: "- ./state:/var/lib/sidecar"'),
        ("      - ./state:/var/lib/sidecar\n", "", "state",
         'keeps its state in /var/lib/sidecar inside the container'),
        ("      SIDECAR_STATE_DIR: /var/lib/sidecar\n", "", "state",
         'add "SIDECAR_STATE_DIR: /var/lib/sidecar" and "- ./state:/var/lib/sidecar"'),
        ("db_data:/var/lib/mysql:ro", "db_data:/var/lib/mysql", "data-volume",
         'is mounted read-write into sidecar'),
        ("      - db_data:/var/lib/mysql:ro\n", "", "data-volume",
         'the data volume db_data is not mounted into sidecar, so it cannot see which volume the'
         ' database runs on: add "- db_data:/var/lib/mysql:ro" to its volumes'),
        ("      SIDECAR_DATA_DIR: /var/lib/mysql\n", "", "data-volume",
         'add "SIDECAR_DATA_DIR: /var/lib/mysql" to its environment'),
        ("      SIDECAR_EXPECT_IDENTITY: volume=shop_db_data\n", "", "no-pin",
         'add "SIDECAR_EXPECT_IDENTITY: volume=shop_db_data" to its environment'),
        ("        condition: service_healthy", "        condition: service_started",
         "app-not-gated", 'add "depends_on: {sidecar: {condition: service_healthy}}" to it'),
    ],
)  # fmt: skip
def test_each_risky_setting_warns_with_the_line_to_add(
    tmp_path: Path, old: str, new: str, code: str, says: str
) -> None:
    assert old in GOOD
    stack = stack_in(tmp_path, "d", GOOD.replace(old, new))
    findings = judge(stack, observe((volume(f"{stack.project.name}_db_data"), DATA)))
    (warn,) = only(findings, Status.WARN)
    assert warn.code == code
    assert says in warn.message, warn.message


def test_no_sidecar_at_all_warns(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, "d", "name: x\n" + INCIDENT)
    (warn,) = only(judge(stack, observe((volume(f"x_{KEY}"), DATA))), Status.WARN)
    assert warn.code == "no-sidecar"


def test_an_invalid_pin_fails(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, "d", GOOD.replace("volume=shop_db_data", "volume"))
    (fail,) = only(judge(stack, observe((volume("shop_db_data"), DATA))), Status.FAIL)
    assert fail.message.startswith("SIDECAR_EXPECT_IDENTITY of sidecar is invalid: 'volume'")


def test_a_pin_through_a_variable_is_resolved(tmp_path: Path) -> None:
    text = GOOD.replace("volume=shop_db_data", "volume=${COMPOSE_PROJECT_NAME}_db_data")
    stack = stack_in(tmp_path, "d", text)  # podman-compose sets COMPOSE_PROJECT_NAME: shop
    assert only(judge(stack, observe((volume("shop_db_data"), DATA))), Status.FAIL) == []
    listed = GOOD.replace(
        "      SIDECAR_EXPECT_IDENTITY: volume=shop_db_data\n", "      - SIDECAR_EXPECT_IDENTITY\n"
    ).replace("    environment:\n      SIDECAR_DATA_DIR: /var/lib/mysql\n      SIDECAR_STATE_DIR: /var/lib/sidecar\n",  # noqa: E501
              "    environment:\n      - SIDECAR_DATA_DIR=/var/lib/mysql\n      - SIDECAR_STATE_DIR=/var/lib/sidecar\n")  # noqa: E501  # fmt: skip
    stack = stack_in(
        tmp_path, "e", listed, environ={"SIDECAR_EXPECT_IDENTITY": "volume=other_db_data"}
    )
    (fail,) = only(judge(stack, observe((volume("shop_db_data"), DATA))), Status.FAIL)
    assert "pins SIDECAR_EXPECT_IDENTITY volume=other_db_data" in fail.message


def test_only_the_stacks_volumes_and_their_twins_are_measured(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, NEW, INCIDENT)
    volumes = [
        volume(f"{OLD}_{KEY}", podman_labels(OLD)),
        volume(f"{NEW}_{KEY}", podman_labels(NEW)),
        volume("unrelated_cache", podman_labels("unrelated")),
        volume("3f2a9c"),
    ]
    assert [v.name for v in volumes_to_measure(stack, volumes)] == [f"{OLD}_{KEY}", f"{NEW}_{KEY}"]


def _homed(project: str, home: str) -> EngineContainer:
    labels = {
        "com.docker.compose.project": project,
        "com.docker.compose.project.working_dir": home,
    }
    return EngineContainer(f"{project}-db-1", False, labels, ())


def test_a_twin_of_a_project_living_elsewhere_is_another_deployment(tmp_path: Path) -> None:
    """Deploying staging next to production: same key, production's directory still there."""
    stack = stack_in(tmp_path, "manualmode-staging", INCIDENT)
    production = tmp_path / "production"
    production.mkdir()
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD))
    findings = judge(stack, observe((old, DATA), containers=(_homed(OLD, str(production)),)))
    assert only(findings, Status.FAIL) == []
    (new,) = [f for f in findings if f.code == "volume-new"]
    assert new.message.endswith(f"{old.name} belongs to project {OLD} in {production}")


def test_a_twin_whose_directory_is_gone_is_named_as_such(tmp_path: Path) -> None:
    stack = stack_in(tmp_path, NEW, INCIDENT)
    gone = str(tmp_path / OLD)  # renamed away: the incident
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD))
    bigger = volume(f"other_{KEY}", podman_labels("other"))
    observed = observe(
        (old, DATA), (bigger, Size(900_000_000, 9, True)), containers=(_homed(OLD, gone),)
    )
    (fail,) = only(judge(stack, observed), Status.FAIL)
    assert (
        f"{old.name} (created 2025-11-24, 182 MB, project {OLD}, whose directory {gone} is gone)"
        in fail.message
    )


def test_a_pin_on_the_new_volume_declares_a_first_deployment(tmp_path: Path) -> None:
    text = GOOD.replace("name: shop", "name: staging").replace(
        "volume=shop_db_data", "volume=staging_db_data"
    )
    stack = stack_in(tmp_path, "d", text)
    production = volume("shop_db_data", podman_labels("shop"))
    findings = judge(stack, observe((production, DATA)))
    assert [(f.status, f.code) for f in findings] == [(Status.PASS, "volume-new")]
    assert findings[0].message.endswith("the sidecar's SIDECAR_EXPECT_IDENTITY expects it")


def test_the_pinned_twin_is_named_first(tmp_path: Path) -> None:
    text = (REPO / "compose" / "incident" / "compose.yaml").read_text()
    stack = stack_in(tmp_path, NEW, text)
    pinned = volume(f"{OLD}_{KEY}", podman_labels(OLD))
    larger = volume(f"elsewhere_{KEY}", podman_labels("elsewhere"), day=1)
    observed = Observation(
        "podman",
        (pinned, larger),
        (),
        {pinned.name: DATA, larger.name: Size(900_000_000, 9, True)},
        frozenset({pinned.name}),
    )
    fail = only(judge(stack, observed), Status.FAIL)[0]
    assert fail.message.startswith(
        f"this start would create a NEW, EMPTY volume {NEW}_{KEY}; {OLD}"
    )


def test_after_the_incident_an_older_larger_twin_warns_unless_the_pin_names_ours(
    tmp_path: Path,
) -> None:
    old = volume(f"{OLD}_{KEY}", podman_labels(OLD), day=24)
    new = volume(f"{NEW}_{KEY}", podman_labels(NEW), day=27)
    observed = observe((old, DATA), (new, Size(97_000_000, 120, True)))
    unpinned = stack_in(tmp_path, NEW, INCIDENT)
    (warn,) = [f for f in judge(unpinned, observed) if f.code == "abandoned-twin"]
    assert warn.status is Status.WARN
    assert warn.message.startswith(f"{new.name} exists, but {old.name} (created 2025-11-24")
    assert "(older and larger): if the stack came up on a new, empty volume" in warn.message
    pinned_to_new = GOOD.replace("name: shop\n", "").replace("db_data", KEY)
    pinned_to_new = pinned_to_new.replace(f"volume=shop_{KEY}", f"volume={new.name}")
    pinned = Observation("podman", observed.volumes, (), observed.sizes, frozenset({new.name}))
    stack = stack_in(tmp_path, NEW, pinned_to_new)
    assert [f for f in judge(stack, pinned) if f.code == "abandoned-twin"] == []
