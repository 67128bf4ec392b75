"""Which volumes hold a key: compose labels first, name arithmetic only without them."""

from datetime import UTC, datetime

import pytest

from sidecar.preflight.engines import ContainerMount, EngineContainer, EngineVolume
from sidecar.preflight.sizes import Size
from sidecar.preflight.twins import Candidate, Owner, candidates, owner, ranked

KEY = "mariadb_production_data"


def volume(name: str, labels: dict[str, str] | None = None, day: int = 24) -> EngineVolume:
    return EngineVolume(name, datetime(2025, 11, day, tzinfo=UTC), f"/v/{name}", labels or {}, "")


def v2_labels(project: str, key: str = KEY) -> dict[str, str]:
    return {"com.docker.compose.project": project, "com.docker.compose.volume": key}


def podman_labels(project: str) -> dict[str, str]:
    return {"com.docker.compose.project": project, "io.podman.compose.project": project}


@pytest.mark.parametrize(
    ("vol", "expected"),
    [
        # Compose v2 / v1: project and key from the labels, whatever the name says.
        (volume("mc-prod_mariadb_production_data", v2_labels("mc-prod")), Owner("mc-prod", True)),
        (volume("custom_name", v2_labels("mc-prod")), Owner("mc-prod", True)),
        (volume("mc-prod_data", v2_labels("mc-prod", "data")), None),
        # A key with underscores is never split: `production_data` is not our key.
        (volume("x_mariadb_production_data", v2_labels("x_mariadb", "production_data")), None),
        # podman-compose labels only the project: the name must be <project>_<key>.
        (volume("mc-prod_mariadb_production_data", podman_labels("mc-prod")),
         Owner("mc-prod", True)),
        (volume("elsewhere_mariadb_production_data", podman_labels("mc-prod")), None),
        # No labels at all (created by hand, or by a tool that sets none): by the name.
        (volume("mailcowdockerized_mariadb_production_data"),
         Owner("mailcowdockerized", False)),
        (volume("mariadb_production_data"), None),
        (volume("other_volume"), None),
    ],
)  # fmt: skip
def test_owner(vol: EngineVolume, expected: Owner | None) -> None:
    assert owner(vol, KEY) == expected


def test_ranking_remembered_then_data_then_size_then_age() -> None:
    sizes = {
        "old_k": Size(182_000_000, 200, True),
        "new_k": Size(97_000_000, 150, True),
        "staging_k": Size(300_000_000, 300, True),
        "empty_k": Size(4096, 0, True),
    }
    volumes = [
        volume("new_k", day=27),
        volume("staging_k", day=20),
        volume("old_k", day=24),
        volume("empty_k", day=1),
    ]
    running = [EngineContainer("staging-db", True, {}, (ContainerMount("staging_k", "/d", True),))]
    found = candidates("k", volumes, sizes, running)
    assert next(c for c in found if c.volume.name == "staging_k").users == ("staging-db",)

    def names(candidates: list[Candidate]) -> list[str]:
        return [c.volume.name for c in candidates]

    # Comparing twins (sidecar volumes): data, size, age; the empty one holds nothing.
    assert names(ranked(found)) == ["staging_k", "old_k", "new_k", "empty_k"]
    # Judging a start (preflight): the staging copy is in use by a running stack.
    assert names(ranked(found, unused_first=True)) == ["old_k", "new_k", "staging_k", "empty_k"]
    # What the sidecar remembers comes first either way.
    assert names(ranked(found, {"new_k"}))[0] == "new_k"
