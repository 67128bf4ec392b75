"""Fixtures for the end-to-end runs: one run per engine, each swept clean however it ends.

A session first sweeps what finished runs left (tests/support/e2e_sweep.py), then starts its
own run (a lock and a directory, tests/support/e2e_runs.py) for each engine it uses. Each test
names its stacks after the run and a tag of its own, and removes them when it ends; the run
removes whatever is left of it at the end of the session. SIGTERM is turned into
KeyboardInterrupt, so that a killed `pytest` still runs every finalizer, as Ctrl-C does.
"""

from __future__ import annotations

import itertools
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

import pytest

from tests.support import dockerd, e2e_runs, e2e_sweep, podman
from tests.support.compose_stack import IMAGES, MARIADB, SIDECAR_IMAGE, Workspace
from tests.support.engines import Engine

_tags = itertools.count(1)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@pytest.fixture(scope="session", autouse=True)
def _containers_conf() -> Iterator[None]:
    """podman started by anything in the session (a tool, `sidecar preflight`) reads the tests'
    containers.conf, not the host's: as under tests/e2e/run.sh, also when pytest runs alone."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in podman.environ().items():
            patch.setenv(key, value)
        yield


@pytest.fixture(scope="session", autouse=True)
def _sigterm_runs_finalizers() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass(frozen=True)
class EngineRun:
    """An engine with the run whose objects it may create."""

    engine: Engine
    run: e2e_runs.Run


def _images_built() -> None:
    for image in IMAGES:
        if podman.engine().run("image", "exists", image).returncode != 0:
            pytest.fail(f"image {image} is missing: run tests/e2e/build-images.sh")


@pytest.fixture(scope="session")
def swept() -> list[str]:
    """What finished runs had left; removed before this session makes anything."""
    return e2e_sweep.sweep_finished_runs()


@pytest.fixture(scope="session")
def podman_run(swept: list[str]) -> Iterator[EngineRun]:
    """Rootful podman with podman-compose, for one run."""
    if not podman.available():
        pytest.skip("needs root and podman")
    _images_built()
    run = e2e_runs.Run.start()
    engine = podman.engine()
    try:
        yield EngineRun(engine, run)
    finally:
        e2e_sweep.sweep_run(run.id, engine)
        run.close()


def _images_of(session: pytest.Session) -> list[str]:
    """The images the session's tests run: the sidecar's, and each module's DATABASE_IMAGES
    (the MariaDB image where a module names none). Loading PostgreSQL's two into a dockerd
    that runs MariaDB only would cost every such session 450 MB of `docker load`."""
    images = {SIDECAR_IMAGE}
    for item in session.items:
        module = getattr(item, "module", None)
        images.update(getattr(module, "DATABASE_IMAGES", (MARIADB.image,)))
    return sorted(images)


@pytest.fixture(scope="session")
def docker_run(swept: list[str], request: pytest.FixtureRequest) -> Iterator[EngineRun]:
    """A private dockerd with Compose v2 and the images loaded from podman, for one run."""
    if (why := dockerd.available()) is not None:
        pytest.skip(why)
    _images_built()
    with e2e_sweep.private_dockerd() as (daemon, run):
        daemon.load_images(_images_of(request.session))
        yield EngineRun(daemon.engine, run)


def _workspace(engine_run: EngineRun) -> Iterator[Workspace]:
    prefix = engine_run.run.name(f"t{next(_tags)}")
    try:
        yield Workspace(engine_run.engine, engine_run.run.root, prefix)
    finally:
        engine_run.engine.remove_where(lambda name: f"{prefix}-" in name)


@pytest.fixture
def podman_workspace(podman_run: EngineRun) -> Iterator[Workspace]:
    """Names for this test's stacks under podman; their containers and volumes go afterwards."""
    yield from _workspace(podman_run)


@pytest.fixture
def docker_workspace(docker_run: EngineRun) -> Iterator[Workspace]:
    """Names for this test's stacks under Docker; their containers and volumes go afterwards."""
    yield from _workspace(docker_run)
