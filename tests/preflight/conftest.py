"""Fixtures the engine tests share."""

from collections.abc import Iterator

import pytest

from tests.support import e2e_runs, e2e_sweep


@pytest.fixture(scope="module")
def owner() -> Iterator[e2e_runs.Run]:
    """The run whose id every name a module makes carries, so that a killed pytest's
    containers and volumes are swept (tests/support/e2e_sweep.py)."""
    e2e_sweep.sweep_finished_runs()
    run = e2e_runs.Run.start()
    try:
        yield run
    finally:
        run.close()
