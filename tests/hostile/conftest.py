"""One seeded MariaDB and one running sidecar shared by the hostile-input tests of a module."""

from collections.abc import Iterator

import pytest

from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import SidecarProcess, monitor_env, seed

DETAILS_TOKEN = "Det4ils-Token-91b"


@pytest.fixture(scope="module")
def live_sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarProcess]:
    """A passing sidecar (with a details token) on a free port, for the whole module."""
    base = tmp_path_factory.mktemp("hostile")
    (base / "mariadb").mkdir()
    server = MariaDBTestServer(base / "mariadb")
    server.start()
    try:
        seed(server)
        env = monitor_env(server, state_dir=base / "state", details_token=DETAILS_TOKEN)
        sidecar = SidecarProcess(env, base / "sidecar.log").start()
        try:
            sidecar.client.headers["Authorization"] = f"Bearer {DETAILS_TOKEN}"
            sidecar.wait_status("pass")
            yield sidecar
        finally:
            sidecar.stop()
    finally:
        server.stop()
