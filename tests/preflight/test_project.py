"""Project names per compose tool: normalisation, precedence, files, .env, directories.

Every expectation here is what the tool's own source does (see sidecar/preflight/project.py);
test_conformance.py runs the same cases through the real podman-compose and Compose v2.
"""

import os
from pathlib import Path

import pytest

from sidecar.preflight.errors import PreflightError
from sidecar.preflight.project import normalize, resolve
from sidecar.preflight.tools import Tool
from tests.preflight.stacks import INCIDENT, invocation, write_project

V2, V1, LEGACY, PODMAN = (
    Tool.COMPOSE,
    Tool.DOCKER_COMPOSE,
    Tool.DOCKER_COMPOSE_LEGACY,
    Tool.PODMAN_COMPOSE,
)

# Directory basename -> project name, per tool. podman-compose lowercases a directory name
# before stripping, so for directories it agrees with docker-compose v1 >= 1.21.
DIRECTORIES = [
    # basename, compose v2, docker-compose v1, docker-compose < 1.21, podman-compose
    ("meaningful-conversations-production",) + ("meaningful-conversations-production",) * 2
    + ("meaningfulconversationsproduction", "meaningful-conversations-production"),
    ("manualmode-production", "manualmode-production", "manualmode-production",
     "manualmodeproduction", "manualmode-production"),
    ("mailcow-dockerized", "mailcow-dockerized", "mailcow-dockerized", "mailcowdockerized",
     "mailcow-dockerized"),
    ("MyApp", "myapp", "myapp", "myapp", "myapp"),
    ("My.App Dir-1", "myappdir-1", "myappdir-1", "myappdir1", "myappdir-1"),
    ("app.example.com", "appexamplecom", "appexamplecom", "appexamplecom", "appexamplecom"),
    ("2024 Backup", "2024backup", "2024backup", "2024backup", "2024backup"),
    ("-leading-dash", "leading-dash", "-leading-dash", "leadingdash", "-leading-dash"),
    ("__under_score", "under_score", "__under_score", "underscore", "__under_score"),
    ("_-mixed", "mixed", "_-mixed", "mixed", "_-mixed"),
    (".hidden", "hidden", "hidden", "hidden", "hidden"),
    ("Übung-ß", "bung-", "bung-", "bung", "bung-"),
]  # fmt: skip


@pytest.mark.parametrize(("basename", "v2", "v1", "legacy", "podman"), DIRECTORIES)
def test_directory_names_normalise_per_tool(
    tmp_path: Path, basename: str, v2: str, v1: str, legacy: str, podman: str
) -> None:
    directory = write_project(tmp_path, basename, {"docker-compose.yml": INCIDENT})
    found = {tool: resolve(tool, invocation(directory)) for tool in Tool}
    assert {t: p.name for t, p in found.items()} == {V2: v2, V1: v1, LEGACY: legacy, PODMAN: podman}
    assert all(p.origin == "directory" for p in found.values())


@pytest.mark.parametrize(
    ("tool", "raw", "expected"),
    [
        (V2, "MyProject", "myproject"),
        (V2, "-_x", "x"),
        (V1, "My_Project-1", "my_project-1"),
        (LEGACY, "My_Project-1", "myproject1"),
        # podman-compose does not lowercase `name:` or COMPOSE_PROJECT_NAME: capitals vanish.
        (PODMAN, "MyProject", "yroject"),
        (PODMAN, "Foo.Bar", "ooar"),
        (PODMAN, "my-project_1", "my-project_1"),
    ],
)
def test_normalisation_rules(tool: Tool, raw: str, expected: str) -> None:
    assert normalize(tool, raw) == expected


def test_a_top_level_name_fixes_the_project_under_compose_v2_and_podman_compose(
    tmp_path: Path,
) -> None:
    text = "name: meaningful-conversations-production\n" + INCIDENT
    directory = write_project(tmp_path, "manualmode-production", {"docker-compose.yml": text})
    for tool in (V2, PODMAN):
        project = resolve(tool, invocation(directory))
        assert (project.name, project.origin) == ("meaningful-conversations-production", "name")
        assert project.source == "name: in docker-compose.yml"
    # docker-compose v1 never reads `name:`: the directory still names the project.
    assert resolve(V1, invocation(directory)).name == "manualmode-production"


def test_a_name_is_interpolated_and_normalised(tmp_path: Path) -> None:
    text = "name: ${STACK:-Shop_Prod}\n" + INCIDENT
    directory = write_project(tmp_path, "x", {"compose.yaml": text, ".env": "STACK=Shop.Staging\n"})
    assert resolve(V2, invocation(directory)).name == "shopstaging"
    assert resolve(V2, invocation(directory / "..", files=("x/compose.yaml",))).name == (
        "shopstaging"
    )
    assert resolve(PODMAN, invocation(directory)).name == "hoptaging"  # capitals dropped
    bare = write_project(tmp_path, "y", {"compose.yaml": text})
    assert resolve(V2, invocation(bare)).name == "shop_prod"


# (environment, .env, expected per tool) with `name: from-file` in the compose file.
PRECEDENCE = [
    ({}, "", {V2: "from-file", V1: "dir", PODMAN: "from-file"}),
    ({}, "COMPOSE_PROJECT_NAME=from-dotenv\n", {V2: "from-dotenv", V1: "from-dotenv",
                                                PODMAN: "from-dotenv"}),
    ({"COMPOSE_PROJECT_NAME": "from-env"}, "COMPOSE_PROJECT_NAME=from-dotenv\n",
     {V2: "from-env", V1: "from-env", PODMAN: "from-env"}),
    ({"COMPOSE_PROJECT_NAME": ""}, "COMPOSE_PROJECT_NAME=from-dotenv\n",
     {V2: "from-file", V1: "dir", PODMAN: "from-file"}),  # an empty variable still wins over .env
]  # fmt: skip


@pytest.mark.parametrize(("environ", "dotenv", "expected"), PRECEDENCE)
def test_environment_over_dotenv_over_name_over_directory(
    tmp_path: Path, environ: dict[str, str], dotenv: str, expected: dict[Tool, str]
) -> None:
    files = {"docker-compose.yml": "name: from-file\n" + INCIDENT, ".env": dotenv}
    directory = write_project(tmp_path, "dir", files)
    for tool, name in expected.items():
        assert resolve(tool, invocation(directory, environ)).name == name, tool


def test_dash_p_wins_and_each_tool_treats_it_its_own_way(tmp_path: Path) -> None:
    files = {"docker-compose.yml": "name: from-file\n" + INCIDENT}
    directory = write_project(tmp_path, "dir", files)
    environ = {"COMPOSE_PROJECT_NAME": "from-env"}
    assert resolve(V2, invocation(directory, environ, project_name="cli")).name == "cli"
    assert resolve(V1, invocation(directory, environ, project_name="Cli.Name")).name == "cliname"
    assert resolve(PODMAN, invocation(directory, environ, project_name="Cli.Name")).name == (
        "Cli.Name"  # podman-compose takes -p as given
    )
    with pytest.raises(PreflightError, match=r"invalid project name 'Cli\.Name'"):
        resolve(V2, invocation(directory, project_name="Cli.Name"))
    with pytest.raises(PreflightError, match="COMPOSE_PROJECT_NAME"):
        resolve(V2, invocation(directory, {"COMPOSE_PROJECT_NAME": "Upper"}))


def test_several_files_name_and_volumes_merge_per_tool(tmp_path: Path) -> None:
    base = "services:\n  db:\n    image: mariadb\n"
    override = "name: from-override\n" + INCIDENT
    directory = write_project(tmp_path, "dir", {"base.yml": base, "override.yml": override})
    flags = {"files": ("base.yml", "override.yml")}
    # Compose v2 takes the last file's name:, podman-compose only the first file's.
    assert resolve(V2, invocation(directory, **flags)).name == "from-override"
    assert resolve(PODMAN, invocation(directory, **flags)).name == "dir"
    first_named = write_project(
        tmp_path, "two", {"a.yml": "name: first\n" + base, "b.yml": "name: second\n" + base}
    )
    both = {"files": ("a.yml", "b.yml")}
    assert resolve(V2, invocation(first_named, **both)).name == "second"
    assert resolve(PODMAN, invocation(first_named, **both)).name == "first"


def test_the_project_directory_is_the_first_files_directory(tmp_path: Path) -> None:
    write_project(tmp_path, "Stack One", {"compose.yaml": INCIDENT, "docker-compose.yml": INCIDENT})
    elsewhere = write_project(tmp_path, "elsewhere", {})
    for tool, file in ((V2, "compose.yaml"), (V1, "docker-compose.yml"), (PODMAN, "compose.yaml")):
        flags = {"files": (f"../Stack One/{file}",)}
        assert resolve(tool, invocation(elsewhere, **flags)).name == "stackone", tool


def test_project_directory_flag(tmp_path: Path) -> None:
    write_project(tmp_path, "stack", {"compose.yaml": INCIDENT})
    named = write_project(tmp_path, "Named Dir", {})
    flags = {"files": ("stack/compose.yaml",), "project_directory": "Named Dir"}
    assert resolve(V2, invocation(tmp_path, **flags)).name == "nameddir"
    v1_flags = {"files": ("stack/compose.yaml",), "project_directory": str(named)}
    assert resolve(V1, invocation(tmp_path, **v1_flags)).name == "nameddir"
    # podman-compose has no such flag; COMPOSE_PROJECT_DIR moves it there before it looks.
    assert resolve(PODMAN, invocation(tmp_path, project_directory="stack")).name == "stack"


def test_default_files_differ_per_tool(tmp_path: Path) -> None:
    files = {
        "compose.yaml": "services:\n  a:\n    image: x\n",
        "docker-compose.yml": "name: from-docker-compose-yml\nservices:\n  b:\n    image: x\n",
        "podman-compose.yml": "services:\n  c:\n    image: x\n",
    }
    directory = write_project(tmp_path, "dir", files)
    v2 = resolve(V2, invocation(directory))
    assert [f.name for f in v2.files] == ["compose.yaml"]
    v1 = resolve(V1, invocation(directory))
    assert [f.name for f in v1.files] == ["docker-compose.yml"]
    # podman-compose merges every default file present, in its list's order.
    podman = resolve(PODMAN, invocation(directory))
    assert [f.name for f in podman.files] == [
        "compose.yaml",
        "podman-compose.yml",
        "docker-compose.yml",
    ]
    assert podman.name == "dir"  # name: only counts in the first file


def test_override_files_join_the_default_file(tmp_path: Path) -> None:
    files = {"compose.yaml": INCIDENT, "compose.override.yml": "name: overridden\n"}
    directory = write_project(tmp_path, "dir", files)
    project = resolve(V2, invocation(directory))
    assert [f.name for f in project.files] == ["compose.yaml", "compose.override.yml"]
    assert project.name == "overridden"


def test_compose_v2_and_v1_search_parent_directories_podman_compose_does_not(
    tmp_path: Path,
) -> None:
    top = write_project(tmp_path, "top", {"docker-compose.yml": INCIDENT})
    below = write_project(top, "sub/deeper", {})
    assert resolve(V2, invocation(below)).name == "top"
    assert resolve(V1, invocation(below)).name == "top"
    with pytest.raises(PreflightError, match=r"no compose\.yaml"):
        resolve(PODMAN, invocation(below))


def test_compose_file_variable_names_the_files(tmp_path: Path) -> None:
    write_project(tmp_path, "Real Stack", {"stack.yml": INCIDENT})
    environ = {"COMPOSE_FILE": "Real Stack/stack.yml"}
    for tool in (V2, V1, PODMAN):
        assert resolve(tool, invocation(tmp_path, environ)).name == "realstack", tool


def test_dotenv_is_read_where_each_tool_reads_it(tmp_path: Path) -> None:
    # A .env beside the file, and another in the working directory the tool is started from.
    write_project(
        tmp_path, "app", {"compose.yaml": INCIDENT, ".env": "COMPOSE_PROJECT_NAME=beside\n"}
    )
    (tmp_path / ".env").write_text("COMPOSE_PROJECT_NAME=cwd\n")
    flags = {"files": ("app/compose.yaml",)}
    # Compose v2: the project directory's .env. docker-compose v1: the working directory's.
    # podman-compose: both, the working directory's last, so it wins.
    assert resolve(V2, invocation(tmp_path, **flags)).name == "beside"
    assert resolve(V1, invocation(tmp_path, **flags)).name == "cwd"
    assert resolve(PODMAN, invocation(tmp_path, **flags)).name == "cwd"
    (tmp_path / ".env").unlink()
    assert resolve(V1, invocation(tmp_path, **flags)).name == "app"
    assert resolve(PODMAN, invocation(tmp_path, **flags)).name == "beside"


def test_env_file_flag(tmp_path: Path) -> None:
    directory = write_project(
        tmp_path,
        "dir",
        {"compose.yaml": INCIDENT, "prod.env": "COMPOSE_PROJECT_NAME=prod\n"},
    )
    for tool in (V2, PODMAN):
        assert resolve(tool, invocation(directory, env_files=("prod.env",))).name == "prod", tool


def test_a_symlinked_directory_names_the_project_differently_per_tool(tmp_path: Path) -> None:
    target = write_project(tmp_path, "releases/v2", {"docker-compose.yml": INCIDENT})
    link = tmp_path / "current"
    link.symlink_to(target)
    # Compose v2 keeps the path as the shell shows it ($PWD); v1 and podman-compose resolve it.
    assert resolve(V2, invocation(link)).name == "current"
    assert resolve(V1, invocation(link)).name == "v2"
    assert resolve(PODMAN, invocation(link)).name == "v2"


def test_podman_compose_interpolates_the_files_with_the_resolved_name(tmp_path: Path) -> None:
    directory = write_project(tmp_path, "Shop", {"compose.yaml": INCIDENT})
    project = resolve(PODMAN, invocation(directory))
    assert project.env["COMPOSE_PROJECT_NAME"] == "shop"
    assert "COMPOSE_PROJECT_NAME" not in resolve(V2, invocation(directory)).env


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no compose"),
        ({"compose.yaml": "services: [\n"}, "invalid YAML: line 2"),
        ({"compose.yaml": "- a list\n"}, "must be a mapping"),
    ],
)
def test_unusable_files_are_one_line_errors(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    directory = write_project(tmp_path, "dir", files)
    with pytest.raises(PreflightError, match=message):
        resolve(V2, invocation(directory))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PreflightError, match=r"nope\.yml not found"):
        resolve(PODMAN, invocation(tmp_path, files=("nope.yml",)))


def test_root_directory_gives_no_name_under_compose_v2(tmp_path: Path) -> None:
    directory = write_project(tmp_path, "x", {"compose.yaml": INCIDENT})
    root = os.path.abspath(os.sep)
    flags = {"files": (str(directory / "compose.yaml"),), "project_directory": root}
    with pytest.raises(PreflightError, match="must not be empty"):
        resolve(V2, invocation(directory, **flags))
    assert resolve(V1, invocation(directory, **flags)).name == "default"
