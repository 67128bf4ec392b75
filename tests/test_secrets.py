"""No password or token is reachable through a repr, a dump, a log line or an exception."""

import asyncio
import logging
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote

import pytest

from sidecar import logs
from sidecar.alerts import with_query
from sidecar.config import ConfigError, load_settings
from sidecar.demo.throwaway import free_port
from sidecar.engines import connect
from sidecar.engines.base import DatabaseError
from sidecar.service import Service
from tests.support.mariadb import MariaDBTestServer
from tests.support.receiver import receiver
from tests.support.servers import MONITOR_PASSWORD, monitor_env, run_cli, running_sidecar, wait_for

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
    assert set(config.secrets().values) == set(SECRETS)


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
        load_settings({"db_url": f"redis://monitor:{PASSWORD}@127.0.0.1/app"})
    _assert_clean(str(bad_url.value))


def test_a_wrong_password_is_an_error_and_a_log_line_without_it(
    seeded: MariaDBTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    logs.configure("debug", logs.Secrets((PASSWORD,)))
    url = load_settings({"db_url": seeded.url("monitor", PASSWORD)}).db

    async def attempt() -> DatabaseError:
        db = connect(url, 2.0)
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


def test_adopts_admin_password_is_a_secret_as_the_database_password_is(tmp_path: Path) -> None:
    """From the URL (in the environment) or from its file: used, hidden, handed to the log
    filter."""
    secret = tmp_path / "admin-pw"
    secret.write_text(ENV_PASSWORD + "\n")
    db = "mysql://monitor@127.0.0.1/app"
    for admin, password in (
        ({"admin_url": f"mysql://root:{PASSWORD}@127.0.0.1/app"}, PASSWORD),
        (
            {"admin_url": "mysql://root@127.0.0.1/app", "admin_password_file": str(secret)},
            ENV_PASSWORD,
        ),
    ):
        config = load_settings({"db_url": db, **admin})
        assert config.admin is not None and config.admin.password == password
        assert config.db.password is None  # the admin's password is the admin's alone
        _assert_clean(repr(config) + config.model_dump_json() + repr(config.admin))
        assert password in config.secrets().values


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
    page = StatusPage(service.scheduler, service.history, DetailsGate(config.details_token), 5.0)
    report = service.scheduler.current()
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


PUSH_KEY = "PushKey-3e9a51"  # the secret in an Uptime Kuma push URL is a path segment
HOOK_KEY = "HookKey-70c2d8"
HOOK_QUERY = "HookQuery-5b7f"
HOOK_PASSWORD = "HookPw-1d4e"


def _every_form(secret: str) -> set[str]:
    """`secret` as written, URL-decoded, and as each URL encoding writes it."""
    return {secret, unquote(secret), quote(secret), quote(secret, safe=""), quote_plus(secret)}


def test_a_push_url_is_redacted_whatever_query_the_cycle_gives_it() -> None:
    """The logged URL is not the configured one (status and msg are rewritten each cycle)."""
    push = f"http://kuma.example:3001/api/push/{PUSH_KEY}?status=up&msg=OK&ping="
    redactor = logs.Redactor(load_settings({"push_url": push}).secrets())
    for params in ({"status": "up", "msg": "pass"}, {"status": "down", "msg": "a; b & c"}):
        sent = with_query(push, params)
        line = redactor.redact(f'HTTP Request: GET {sent} "HTTP/1.1 200 OK"')
        assert line == 'HTTP Request: GET http://kuma.example:3001/*** "HTTP/1.1 200 OK"'
        for form in _every_form(sent):
            assert PUSH_KEY not in redactor.redact(f"x {form} y")
    # Another host's URLs, and the words of the query, are left alone.
    kept = "GET http://other.example:3001/api/push/x?status=up: status up, msg OK"
    assert redactor.redact(kept) == kept


def test_no_secret_reaches_the_log_of_a_real_serve_at_debug(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    """A real `serve` at debug with a push monitor, a webhook (with user:password@), a token
    and a database password: through passing and failing cycles, a verdict change and a
    login, no secret appears in the whole log in any form, nor any URL as it was sent."""
    log_path = tmp_path / "sidecar.log"
    with receiver() as (url, received):
        host = url.removeprefix("http://")
        push = f"{url}/api/push/{PUSH_KEY}?status=up&msg=OK&ping="
        hook = f"http://hook:{HOOK_PASSWORD}@{host}/hooks/{HOOK_KEY}?token={HOOK_QUERY}"
        env = monitor_env(
            seeded,
            push_url=push,
            webhook_url=hook,
            details_token=TOKEN,
            log_level="debug",
            state_dir=tmp_path / "state",
        )
        with running_sidecar(env, log_path) as sidecar:
            sidecar.wait_status("pass")
            wait_for(lambda: len(received.gets) >= 2, 10, "two pushes")
            for token in (TOKEN, TOKEN + "x"):
                login = {"token": token, "back": "/status"}
                sidecar.client.post(
                    "/status/login", data=login, headers={"Origin": sidecar.base_url}
                )
            seeded.stop()
            wait_for(lambda: len(received.posts) >= 1, 15, "the failure webhook")
            wait_for(lambda: "status=down" in received.gets[-1], 10, "a down push")
        sent = list(received.gets)
    log = log_path.read_text()
    secrets = (PUSH_KEY, HOOK_KEY, HOOK_QUERY, HOOK_PASSWORD, TOKEN, MONITOR_PASSWORD)
    for secret in (*secrets, *sent):
        for form in _every_form(secret):
            assert form not in log, (form, [line for line in log.splitlines() if form in line])
    assert "DEBUG" in log
    assert f"HTTP Request: GET http://{host}/***" in log, log[-3000:]  # logged, and redacted
