"""The compose project name, worked out exactly as each compose tool works it out.

The project name is the prefix of every named volume (`<project>_<key>`), so a different
name is a different, empty volume: the incident. Each rule below is read from the tool's own
source, cited where it is implemented; `tests/preflight/test_project.py` pins each one, and
`tests/preflight/test_conformance.py` checks them against the real podman-compose and Docker
Compose v2 binaries.

Precedence, per tool:

- **Docker Compose v2** (compose-spec/compose-go `cli/options.go` `withNamePrecedenceLoad`,
  `loader/loader.go` `projectName`): `-p`, then `COMPOSE_PROJECT_NAME` from the environment
  or the `.env` file (both must already be valid names, else compose refuses to start), then
  the last non-empty top-level `name:` of the files (interpolated, then normalised), then the
  project directory's basename normalised. `NormalizeProjectName` lowercases, keeps
  `[a-z0-9_-]` and trims leading `_` and `-` (so a name starts with a letter or a digit).
- **docker-compose v1 >= 1.21** (docker/compose `compose/cli/command.py` `get_project_name`):
  `-p`, then `COMPOSE_PROJECT_NAME` (environment over `.env`), then the basename of the
  project directory; each normalised by `re.sub(r'[^-_a-z0-9]', '', name.lower())`. v1 never
  reads a top-level `name:`. An empty basename gives `default`.
- **docker-compose v1 < 1.21**: the same with `[^a-z0-9]`: dashes and underscores were
  dropped (CHANGELOG 1.21.0, 2018-04-10: "Dashes and underscores in project names are no
  longer stripped out"), which renamed `mailcowdockerized_*` to `mailcow-dockerized_*`.
- **podman-compose 1.6.0** (containers/podman-compose `podman_compose.py`
  `PodmanCompose._parse_compose_file`): `-p` taken as given (not normalised), else
  `COMPOSE_PROJECT_NAME`, else the FIRST file's top-level `name:`, else the basename of the
  first file's directory lowercased; the chosen value is interpolated and then stripped of
  everything outside `[-_a-z0-9]` (`norm_re`) without lowercasing, so capitals in `name:` or
  `COMPOSE_PROJECT_NAME` are dropped, not lowered. The directory is `os.path.realpath`'d:
  through a symlink, podman-compose names the project after the link's target.

Which files and which `.env`, per tool:

- Compose v2: `-f` files (relative to the working directory), else `COMPOSE_FILE`, else the
  first of `compose.yaml`, `compose.yml`, `docker-compose.yml`, `docker-compose.yaml` found in
  the project directory or the nearest parent, plus the first `compose.override.yml`,
  `compose.override.yaml`, `docker-compose.override.yml`, `docker-compose.override.yaml`
  beside it (compose-go `DefaultFileNames`, `DefaultOverrideFileNames`,
  `WithDefaultConfigPath`). Project directory: `--project-directory`, else the first file's
  directory. `.env`: `--env-file`, else `.env` in the working directory, then in the project
  directory; the environment wins over both, an earlier file over a later one (docker/compose
  `cmd/compose/compose.go` `toProjectOptions`, compose-go `Mapping.Merge`). Paths are taken
  as the shell shows them (`$PWD`), symlinks unresolved.
- docker-compose v1: `-f`, else `COMPOSE_FILE`, else `docker-compose.yml` or
  `docker-compose.yaml` in the working directory or the nearest parent, plus
  `docker-compose.override.yml`/`.yaml` (`compose/config/config.py` `SUPPORTED_FILENAMES`,
  `find`). Project directory: `--project-directory`, else the first file's directory. `.env`:
  in `--project-directory`, else in the working directory (not the file's directory);
  `--env-file` relative to that; the environment wins (`Environment.from_env_file`).
- podman-compose: `-f`, else `COMPOSE_FILE`, else EVERY file of `COMPOSE_DEFAULT_LS` present
  in the working directory, merged in that list's order (`compose.yaml`, `compose.yml`,
  `compose.override.yaml`, `compose.override.yml`, `podman-compose.yaml`,
  `podman-compose.yml`, `docker-compose.yml`, `docker-compose.yaml`, ...). No parent search.
  `COMPOSE_PROJECT_DIR` (our `--project-directory`) changes the working directory first.
  `.env`: the one beside the first file, then `--env-file` (default `.env` in the working
  directory); the environment wins. `${COMPOSE_PROJECT_NAME}` in the file is the resolved name.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from sidecar.preflight import compose_file, dotenv
from sidecar.preflight.compose_file import Document
from sidecar.preflight.errors import PreflightError, excerpt
from sidecar.preflight.interpolation import interpolate
from sidecar.preflight.tools import Tool

ORIGINS = ("flag", "environment", ".env", "name", "directory")

# compose-go loader.NormalizeProjectName keeps these characters, then trims leading `_-`.
_COMPOSE_KEEP = re.compile(r"[a-z0-9_-]")
_V1_DROP = re.compile(r"[^-_a-z0-9]")  # compose/cli/command.py, 1.21 and later
_V1_LEGACY_DROP = re.compile(r"[^a-z0-9]")  # compose/cli/command.py before 1.21
_PODMAN_DROP = re.compile(r"[^-_a-z0-9]")  # podman_compose.py norm_re

COMPOSE_DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
COMPOSE_OVERRIDE_FILES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)
V1_DEFAULT_FILES = ("docker-compose.yml", "docker-compose.yaml")
V1_OVERRIDE_FILES = ("docker-compose.override.yml", "docker-compose.override.yaml")
PODMAN_DEFAULT_FILES = (
    "compose.yaml",
    "compose.yml",
    "compose.override.yaml",
    "compose.override.yml",
    "podman-compose.yaml",
    "podman-compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
    "container-compose.yml",
    "container-compose.yaml",
    "container-compose.override.yml",
    "container-compose.override.yaml",
)


def normalize(tool: Tool, name: str) -> str:
    """`name` as `tool` normalises a project name (see the module docstring)."""
    if tool is Tool.COMPOSE:
        return "".join(_COMPOSE_KEEP.findall(name.lower())).lstrip("_-")
    if tool is Tool.DOCKER_COMPOSE:
        return _V1_DROP.sub("", name.lower())
    if tool is Tool.DOCKER_COMPOSE_LEGACY:
        return _V1_LEGACY_DROP.sub("", name.lower())
    return _PODMAN_DROP.sub("", name)


@dataclass(frozen=True)
class Invocation:
    """How the compose tool is started: its flags, working directory and environment."""

    cwd: str  # as the shell shows it ($PWD), symlinks unresolved
    environ: Mapping[str, str]
    files: tuple[str, ...] = ()
    project_directory: str | None = None
    project_name: str | None = None
    env_files: tuple[str, ...] = ()

    @classmethod
    def here(cls, environ: Mapping[str, str] | None = None, **flags: object) -> "Invocation":
        """An invocation from this process's working directory and environment."""
        env = dict(os.environ if environ is None else environ)
        return cls(cwd=logical_cwd(env), environ=env, **flags)  # type: ignore[arg-type]


def logical_cwd(environ: Mapping[str, str]) -> str:
    """The working directory as Go's os.Getwd reports it: $PWD when it names this directory."""
    physical = os.getcwd()
    pwd = environ.get("PWD")
    if pwd and os.path.isabs(pwd):
        try:
            if os.path.samefile(pwd, physical):
                return pwd
        except OSError:
            pass
    return physical


@dataclass(frozen=True)
class Project:
    """The resolved project: its name, where that came from, its files and variables."""

    tool: Tool
    name: str
    origin: str  # one of ORIGINS: what decided the name
    source: str  # for people: "-p", "COMPOSE_PROJECT_NAME (.env)", "name: in compose.yaml", ...
    directory: Path
    files: tuple[Path, ...]
    documents: tuple[Document, ...]
    env: dict[str, str] = field(repr=False)  # variables for interpolating the files
    invocation: Invocation | None = field(default=None, repr=False)  # what it was resolved from


def resolve(tool: Tool, invocation: Invocation) -> Project:
    """Resolve the project `tool` would run for `invocation`; PreflightError when it refuses."""
    if tool is Tool.PODMAN_COMPOSE:
        project = _resolve_podman(invocation)
    elif tool is Tool.COMPOSE:
        project = _resolve_compose(invocation)
    else:
        project = _resolve_v1(tool, invocation)
    return replace(project, invocation=invocation)


def _join(base: str, path: str) -> str:
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def _split_compose_file(value: str, env: Mapping[str, str]) -> list[str]:
    separator = env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
    return [part for part in value.split(separator) if part]


def _default_files(start: str, names: tuple[str, ...], overrides: tuple[str, ...]) -> list[str]:
    """The first of `names` in `start` or its nearest parent, plus the first override there."""
    directory = start
    while not (found := [n for n in names if os.path.exists(os.path.join(directory, n))]):
        parent = os.path.dirname(directory)
        if parent == directory:
            raise PreflightError(
                f"no compose file found ({' or '.join(names)}) in {start} or above"
            )
        directory = parent
    beside = [n for n in overrides if os.path.exists(os.path.join(directory, n))]
    return [os.path.join(directory, n) for n in [found[0], *beside[:1]]]


def _load_env_files(tool: Tool, paths: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    return dotenv.read_env_files(tool, [Path(path) for path in paths], environ)


def _missing(paths: list[str]) -> None:
    absent = [path for path in paths if not os.path.exists(path)]
    if absent:
        raise PreflightError(f"compose file {absent[0]} not found")


def _documents(paths: list[str]) -> tuple[Document, ...]:
    return tuple(compose_file.load(Path(path)) for path in paths)


def _name_key(document: Document) -> str | None:
    value = document.get("name")
    return value if isinstance(value, str) and value else None


def _resolve_compose(inv: Invocation) -> Project:
    # docker/compose cmd/compose/compose.go toProjectOptions, in its order.
    env = dict(inv.environ)
    workdir = _join(inv.cwd, inv.project_directory) if inv.project_directory else None
    files = [_join(inv.cwd, f) for f in inv.files]

    def working_dir() -> str:  # compose-go ProjectOptions.GetWorkingDir
        if workdir:
            return workdir
        return os.path.dirname(files[0]) if files else inv.cwd

    def merge_dotenv() -> None:  # compose-go WithEnvFiles + WithDotEnv: earlier values win
        paths = [_join(inv.cwd, f) for f in inv.env_files] or [
            p for p in [os.path.join(working_dir(), ".env")] if os.path.isfile(p)
        ]
        for key, value in _load_env_files(Tool.COMPOSE, paths, env).items():
            env.setdefault(key, value)

    merge_dotenv()
    if not files and env.get("COMPOSE_FILE"):
        files = [_join(inv.cwd, f) for f in _split_compose_file(env["COMPOSE_FILE"], env)]
    if not files:
        files = _default_files(working_dir(), COMPOSE_DEFAULT_FILES, COMPOSE_OVERRIDE_FILES)
    _missing(files)
    merge_dotenv()
    documents = _documents(files)
    directory = working_dir()

    def valid(value: str, what: str) -> str:
        if normalize(Tool.COMPOSE, value) != value:
            raise PreflightError(
                f"invalid project name {excerpt(value)} ({what}): docker compose refuses it;"
                " it must consist only of lowercase letters, digits, dashes and underscores"
                " and start with a letter or digit"
            )
        return value

    if inv.project_name:
        name, origin, source = valid(inv.project_name, "-p"), "flag", "-p"
    elif env.get("COMPOSE_PROJECT_NAME"):
        name = valid(env["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME")
        origin = _env_origin(inv)
        source = f"COMPOSE_PROJECT_NAME ({origin})"
    else:
        name = normalize(Tool.COMPOSE, os.path.basename(directory))
        origin, source = "directory", f"directory {os.path.basename(directory)}"
        named = [(f, n) for f, d in zip(files, documents, strict=True) if (n := _name_key(d))]
        if named:  # the last file that has one wins
            path, raw = named[-1]
            value = normalize(Tool.COMPOSE, interpolate(raw, env))
            if value:
                name, origin, source = value, "name", f"name: in {os.path.basename(path)}"
    if not name:
        raise PreflightError("project name must not be empty (docker compose refuses it)")
    return Project(
        Tool.COMPOSE, name, origin, source, Path(directory), _paths(files), documents, env
    )


def _env_origin(inv: Invocation) -> str:
    return "environment" if inv.environ.get("COMPOSE_PROJECT_NAME") else ".env"


def _resolve_v1(tool: Tool, inv: Invocation) -> Project:
    # compose/cli/command.py project_from_options and get_project_name; os.getcwd() is the
    # physical directory, so a symlinked working directory is resolved here.
    base = os.path.realpath(inv.cwd)
    override = _join(base, inv.project_directory) if inv.project_directory else None
    env_dir = override or base
    env_path = os.path.join(env_dir, inv.env_files[-1] if inv.env_files else ".env")
    from_file = _load_env_files(tool, [env_path], inv.environ) if os.path.isfile(env_path) else {}
    env = {**from_file, **inv.environ}
    if inv.files:
        files = [_join(base, f) for f in inv.files]
    elif env.get("COMPOSE_FILE"):
        files = [_join(base, f) for f in _split_compose_file(env["COMPOSE_FILE"], env)]
    else:
        files = _default_files(base, V1_DEFAULT_FILES, V1_OVERRIDE_FILES)
    _missing(files)
    documents = _documents(files)
    working_dir = override or os.path.dirname(files[0])
    if inv.project_name:
        raw, origin, source = inv.project_name, "flag", "-p"
    elif env.get("COMPOSE_PROJECT_NAME"):
        raw, origin = env["COMPOSE_PROJECT_NAME"], _env_origin(inv)
        source = f"COMPOSE_PROJECT_NAME ({origin})"
    else:
        raw, origin = os.path.basename(working_dir), "directory"
        source = f"directory {raw}"
    name = normalize(tool, raw) if raw else "default"
    return Project(tool, name, origin, source, Path(working_dir), _paths(files), documents, env)


def _resolve_podman(inv: Invocation) -> Project:
    # podman_compose.py PodmanCompose._parse_compose_file (podman-compose 1.6.0).
    cwd = inv.cwd
    project_dir = inv.project_directory or inv.environ.get("COMPOSE_PROJECT_DIR")
    if project_dir and os.path.isdir(_join(cwd, project_dir)):
        cwd = _join(cwd, project_dir)  # it chdir()s there
    if inv.files:
        files = [_join(cwd, f) for f in inv.files]
    elif inv.environ.get("COMPOSE_FILE"):
        files = [_join(cwd, f) for f in _split_compose_file(inv.environ["COMPOSE_FILE"], {})]
    else:
        files = [os.path.join(cwd, n) for n in PODMAN_DEFAULT_FILES if os.path.exists(f"{cwd}/{n}")]
    if not files:
        raise PreflightError("no compose.yaml, docker-compose.yml or container-compose.yml found")
    _missing(files)
    directory = os.path.realpath(os.path.dirname(files[0]))
    env_file = inv.env_files[-1] if inv.env_files else ".env"
    paths = []
    if env_file == ".env":
        paths.append(os.path.join(directory, ".env"))
    paths.append(os.path.realpath(_join(cwd, env_file)))
    from_files = _load_env_files(
        Tool.PODMAN_COMPOSE, [p for p in paths if os.path.isfile(p)], inv.environ
    )
    env = {**from_files, **inv.environ}
    documents = _documents(files)
    if inv.project_name:
        name = inv.project_name  # taken as given: no normalisation on this path
        env["COMPOSE_PROJECT_NAME"] = name
        return Project(
            Tool.PODMAN_COMPOSE, name, "flag", "-p", Path(directory), _paths(files), documents, env
        )
    if env.get("COMPOSE_PROJECT_NAME"):
        raw, origin = env["COMPOSE_PROJECT_NAME"], _env_origin(inv)
        source = f"COMPOSE_PROJECT_NAME ({origin})"
    elif first := _name_key(documents[0]):
        raw, origin, source = first, "name", f"name: in {os.path.basename(files[0])}"
    else:
        raw, origin = os.path.basename(directory).lower(), "directory"
        source = f"directory {os.path.basename(directory)}"
    name = normalize(Tool.PODMAN_COMPOSE, interpolate(raw, env))
    if not name:
        raise PreflightError(
            f"project name {excerpt(raw)} normalises to nothing (podman-compose refuses)"
        )
    # podman-compose then interpolates the files with the resolved name in the environment.
    env["COMPOSE_PROJECT_NAME"] = name
    return Project(
        Tool.PODMAN_COMPOSE, name, origin, source, Path(directory), _paths(files), documents, env
    )


def _paths(files: list[str]) -> tuple[Path, ...]:
    return tuple(Path(f) for f in files)
