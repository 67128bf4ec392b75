"""Fixtures of the engine tests: a seeded PostgreSQL cluster, and the sample app on a server of
either engine for the cases both must pass (tests/support/app_servers.py)."""

import pytest

from tests.support.app_servers import AppServer, MariaDBApp, PostgresApp
from tests.support.mariadb import MariaDBTestServer
from tests.support.postgres_app import seed
from tests.support.postgres_server import PostgresTestServer


@pytest.fixture
def cluster(postgres: PostgresTestServer) -> PostgresTestServer:
    """A cluster with the app's "User" holding 14 users and a SELECT-only `monitor` role."""
    seed(postgres)
    return postgres


@pytest.fixture(params=["mariadb", "postgres"])
def app_server(request: pytest.FixtureRequest) -> AppServer:
    """A running server of each engine in turn, empty: the case seeds the app it needs."""
    if request.param == "mariadb":
        mariadb: MariaDBTestServer = request.getfixturevalue("mariadb")
        return MariaDBApp(mariadb)
    postgres: PostgresTestServer = request.getfixturevalue("postgres")
    return PostgresApp(postgres)
