"""No password or token is reachable through a repr, a dump, a log line or an exception."""

import asyncio
import logging
from pathlib import Path

import pytest

from sidecar import logs
from sidecar.config import ConfigError, load_settings
from sidecar.database import Database, DatabaseError
from sidecar.mariadb_server import MariaDBServer, free_port
from sidecar.service import Service
from tests.support.servers import run_cli

PASSWORD = "Url-Pw-9f3e1"
ENV_PASSWORD = "Env-Pw-77a2c"
TOKEN = "Tok-4b1d0e"
SECRETS = (PASSWORD, ENV_PASSWORD, TOKEN)


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_every_repr_and_dump_of_the_configuration_hides_the_secrets() -> None:
    config = load_settings(
        {
            "db_url": f"mysql://monitor:{PASSWORD}@127.0.0.1:3306/app",
            "db_password": ENV_PASSWORD,
            "details_token": TOKEN,
            "table": "User",
        }
    )
    assert config.db.password == ENV_PASSWORD  # the variable wins over the URL, and is kept
    for view in (
        repr(config),
        str(config),
        repr(config.settings),
        repr(config.db),
        repr(config.identity),
        repr(config.tables),
        config.model_dump_json(),
        str(config.model_dump()),
        config.settings.model_dump_json(),
    ):
        _assert_clean(view)
    # ... and every one of them is handed to the log filter
    assert set(config.secrets()) == set(SECRETS)


def test_the_wired_service_and_its_database_hide_the_password() -> None:
    config = load_settings(
        {"db_url": f"mysql://monitor:{PASSWORD}@127.0.0.1:{free_port()}/app", "table": "User"}
    )
    service = Service(config)
    _assert_clean(repr(vars(service)) + repr(vars(service.evaluator)))
    _assert_clean(repr(vars(service.evaluator.db)))


def test_a_refused_setting_never_echoes_a_secret_beside_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "db_url": f"mysql://monitor:{PASSWORD}@127.0.0.1/app",
                "db_password": ENV_PASSWORD,
                "details_token": TOKEN,
                "interval": "soon",
            }
        )
    _assert_clean(str(caught.value))
    with pytest.raises(ConfigError) as bad_url:
        load_settings({"db_url": f"postgres://monitor:{PASSWORD}@127.0.0.1/app"})
    _assert_clean(str(bad_url.value))


def test_a_wrong_password_is_an_error_and_a_log_line_without_it(
    seeded: MariaDBServer, caplog: pytest.LogCaptureFixture
) -> None:
    logs.configure("debug", [PASSWORD])
    url = load_settings({"db_url": seeded.url("monitor", PASSWORD)}).db

    async def attempt() -> DatabaseError:
        db = Database(url, 2.0)
        try:
            await db.query("SELECT 1")
        except DatabaseError as exc:
            logging.getLogger("sidecar.test").exception("as a crash would be logged")
            return exc
        finally:
            db.close()
        raise AssertionError("the wrong password was accepted")

    error = asyncio.run(attempt())
    assert "access denied" in error.reason
    _assert_clean(str(error) + repr(error) + repr(error.__cause__) + str(error.__cause__))
    handler = logging.getLogger().handlers[0]
    rendered = "\n".join(handler.format(record) for record in caplog.records)
    _assert_clean(rendered)


def test_a_password_file_is_read_once_and_never_shown(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    config = load_settings(
        {"db_url": "mysql://monitor@127.0.0.1/app", "db_password_file": str(secret)}
    )
    assert config.db.password == PASSWORD
    _assert_clean(repr(config) + config.model_dump_json())


def test_the_status_page_and_the_history_of_a_wired_service_hide_the_secrets(
    tmp_path: Path,
) -> None:
    from sidecar.access import DetailsGate
    from sidecar.statuspage.page import StatusPage

    config = load_settings(
        {
            "db_url": f"mysql://monitor:{PASSWORD}@127.0.0.1:{free_port()}/app",
            "details_token": TOKEN,
            "table": "User",
            "state_dir": str(tmp_path),
        }
    )
    service = Service(config)
    page = StatusPage(service.monitor, service.history, DetailsGate(config.details_token), 5.0)
    report = service.monitor.current()
    for details in (True, False):
        _assert_clean(page.build(report, details).decode())
    _assert_clean(repr(vars(service.history)) + repr(vars(page)))


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("check", "--db-url", f"mysql://monitor:{PASSWORD}@127.0.0.1/app"), "--db-url"),
        (
            ("adopt", "--plant-sentinel", "--admin-url", f"mysql://root:{PASSWORD}@db/app"),
            "--admin-url",
        ),
        (("serve", "--db-password", PASSWORD), "--db-password"),
        (("check", f"--db-password={PASSWORD}"), "--db-password"),
        # No abbreviation either: this once read as --details-token-file.
        (("serve", "--details-token", TOKEN), "--details-token"),
        (("serve", "--webhook-url", f"https://hooks.example/{TOKEN}"), "--webhook-url"),
    ],
)
def test_no_secret_can_be_given_as_a_flag_value(args: tuple[str, ...], named: str) -> None:
    """`ps` shows every flag to every user on the host: secrets come from files or variables."""
    result = run_cli(*args, env={"SIDECAR_DB_URL": "mysql://monitor@127.0.0.1:1/app"})
    assert result.returncode == 3, result
    assert result.stdout == ""
    assert named in result.stderr.splitlines()[-1]
    _assert_clean(result.stdout + result.stderr)
