"""The command line as a new user meets it (sidecar/usage.py): what trips one up first.

Each command's `--help` lists only the settings it uses, each described and defaulted from the
one settings model; `--version`; percentages where fractions are; usage errors of `check` are
UNKNOWN (3), as a Nagios plugin's must be; every MariaDB error a typo in the URL or a missing
grant causes is named in plain words, once, on the summary line, against a real server.
"""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from sidecar.cli import COMMANDS
from sidecar.config import load_settings
from sidecar.demo.throwaway import free_port
from sidecar.usage import describe_settings
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import MONITOR_PASSWORD, MONITOR_USER, monitor_env, run_cli

REPO = Path(__file__).resolve().parents[1]
# Commands whose settings are the checks' (the rest have flags of their own: probe, demo, ...).
EVALUATING = ("serve", "check", "adopt", "snapshot", "verify")
# The list of settings `check --help` showed although only `serve` uses them.
SERVE_ONLY = {"host", "port", "interval", "webhook_url", "push_url"}


def _flat(text: str) -> str:
    """Help text with argparse's line wrapping undone."""
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("command", EVALUATING)
def test_help_lists_each_setting_the_command_uses_with_its_description_and_default(
    command: str,
) -> None:
    # Wide enough that argparse wraps nothing (it breaks lines at hyphens too).
    result = run_cli(command, "--help", env={"COLUMNS": "1000"})
    assert result.returncode == 0, result.stderr
    shown = _flat(result.stdout)
    items = describe_settings(command)
    for item in items:
        if item.secret:  # no flag (ps shows flags): named as a variable only
            assert item.variable in shown and f" {item.flag} " not in shown
            continue
        assert item.description, f"{item.name} has no description"
        assert f"{item.flag} VALUE {item.description}{item.default_text} [{item.variable}]" in (
            shown
        ), f"{command} --help: {item.flag}"
    serve_only = [item for item in describe_settings("serve") if item.scope == "serve"]
    assert {item.name for item in serve_only} >= SERVE_ONLY
    for item in serve_only:
        listed = f"{item.flag} VALUE" in shown or item.variable in shown
        assert listed == (command == "serve"), f"{command} --help: {item.flag}"


def test_every_command_has_a_help_that_exits_0() -> None:
    for command in COMMANDS:
        result = run_cli(command, "--help")
        assert result.returncode == 0 and result.stdout.startswith("usage: sidecar"), command


def test_the_help_lists_the_commands_of_the_table_in_its_order() -> None:
    result = run_cli("--help", env={"COLUMNS": "1000"})
    assert result.returncode == 0, result.stderr
    assert tuple(re.findall(r"^    (\w+)(?: |$)", result.stdout, re.M)) == COMMANDS


@pytest.mark.parametrize(
    "args",
    [
        ("check", "--tab", "User"),
        ("adopt", "--plant"),
        ("demo", "--incident-a", "3"),
        ("preflight", "--project-n", "shop"),
        ("volumes", "--backup", "/backups"),
    ],
)
def test_no_command_takes_an_abbreviated_flag(args: tuple[str, ...]) -> None:
    """One argparse policy for every command: an abbreviation is a usage error (exit 3), as a
    typo is, never another flag (preflight's once took `--project-n` for `--project-name`)."""
    result = run_cli(*args, env={"SIDECAR_DB_URL": "mysql://m@db/app"})
    assert result.returncode == 3, result
    assert result.stdout == ""
    assert f"error: unrecognized arguments: {args[1]} " in result.stderr, result.stderr


def test_version_is_the_packages() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    result = run_cli("--version")
    assert (result.returncode, result.stdout) == (0, f"sidecar {version}\n")


@pytest.mark.parametrize(("given", "fraction"), [("50%", 0.5), ("12.5 %", 0.125), ("0.3", 0.3)])
def test_a_percentage_is_accepted_where_a_fraction_is(given: str, fraction: float) -> None:
    config = load_settings({"db_url": "mysql://m@db/app", "table": "User", "max_drop": given})
    assert config.tables[0].max_drop == fraction


@pytest.mark.parametrize("given", ["150%", "fifty%", "-5%"])
def test_a_bad_percentage_is_one_line_naming_the_setting(given: str) -> None:
    result = run_cli("check", env={"SIDECAR_DB_URL": "mysql://m@db/app", "SIDECAR_MAX_DROP": given})
    assert result.returncode == 3
    (line,) = result.stderr.splitlines()
    assert line.startswith("sidecar: invalid configuration: SIDECAR_MAX_DROP: ")


@pytest.mark.parametrize(
    "args", [("--tabel", "User"), ("--max-drop",), ("--json", "extra"), ("--nope",)]
)
def test_usage_errors_of_check_are_unknown_not_critical(args: tuple[str, ...]) -> None:
    result = run_cli("check", *args, env={"SIDECAR_DB_URL": "mysql://m@db/app"})
    assert result.returncode == 3, result
    assert result.stdout == ""  # nothing a monitoring system could mistake for a verdict


def _summary(server: MariaDBTestServer, url: str) -> str:
    env = {**monitor_env(server), "SIDECAR_DB_URL": url}
    result = run_cli("check", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    assert "127.0.0.1" not in result.stdout and MONITOR_PASSWORD not in result.stdout
    return first


def test_every_typo_in_the_url_is_named_in_plain_words_once(seeded: MariaDBTestServer) -> None:
    seeded.execute("CREATE USER sockonly@localhost IDENTIFIED VIA unix_socket")
    creds = f"{MONITOR_USER}:{MONITOR_PASSWORD}"
    cases = {
        "the host": (
            f"mysql://{creds}@no-such-host.invalid:{seeded.port}/app",
            "cannot resolve the database host's name (check the host in the URL)",
        ),
        "the port": (
            f"mysql://{creds}@127.0.0.1:{free_port()}/app",
            "cannot connect to the database: connection refused (is it running, and on that port?)",
        ),
        "the user": (
            f"mysql://nobody:{MONITOR_PASSWORD}@127.0.0.1:{seeded.port}/app",
            "access denied (wrong user or password) (MariaDB error 1045)",
        ),
        "the password": (
            f"mysql://{MONITOR_USER}:wrong@127.0.0.1:{seeded.port}/app",
            "access denied (wrong user or password) (MariaDB error 1045)",
        ),
        "an account that logs in by socket only": (
            f"mysql://sockonly@localhost/app?unix_socket={seeded.socket}",
            "access denied (wrong user or password) (MariaDB error 1698)",
        ),
        "the database name (the account's grant is on app only)": (
            f"mysql://{creds}@127.0.0.1:{seeded.port}/appp",
            "access denied to the database: it may not exist, or the account has no grant on it"
            " (MariaDB error 1044)",
        ),
        "the database name (an account that could see it)": (
            f"mysql://root@127.0.0.1:{seeded.port}/appp",
            "database does not exist (check its name in the URL) (MariaDB error 1049)",
        ),
        "the socket path": (
            f"mysql://{MONITOR_USER}@localhost/app?unix_socket={seeded.socket}.nope",
            "cannot connect to the database socket: it does not exist (check unix_socket)",
        ),
    }
    for typo, (url, reason) in cases.items():
        summary = _summary(seeded, url)
        assert summary.startswith("SIDECAR CRITICAL - "), (typo, summary)
        # Several checks fail for the one reason: it is said once, after all of their names.
        assert summary.count(reason) == 1, (typo, summary)
        assert "database:connection" in summary.split(reason)[0], (typo, summary)
        assert "|" not in summary, (typo, summary)  # no perfdata: nothing was measured


def test_a_missing_grant_is_named(seeded: MariaDBTestServer) -> None:
    account = f"'{MONITOR_USER}'@'127.0.0.1'"
    seeded.execute("CREATE TABLE Other (id INT PRIMARY KEY)", database="app")
    seeded.execute(
        f"REVOKE SELECT ON app.* FROM {account}", f"GRANT SELECT ON app.Other TO {account}"
    )
    result = run_cli("check", env=monitor_env(seeded))
    assert result.returncode == 2, result.stdout
    summary = result.stdout.splitlines()[0]
    assert "User:rowCount" in summary, summary
    assert summary.count("permission denied (SELECT not granted) (MariaDB error 1142)") == 1, (
        summary
    )


def test_a_reader_that_goes_away_gets_no_traceback(seeded: MariaDBTestServer) -> None:
    """`sidecar check | head -1`, at its most abrupt: a reader that leaves before the first line.

    `true` exits at once; the check needs a database round trip before it prints anything."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    env = {**inherited, **monitor_env(seeded)}
    done = subprocess.run(
        [
            "bash",
            "-c",
            f'{sys.executable} -m sidecar check | true; echo "${{PIPESTATUS[0]}}"',
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout == "141\n", done.stdout
    assert done.stderr == "", done.stderr


@pytest.mark.parametrize(
    ("args", "usage", "meant"),
    [
        (("check", "--dtaa-dir", "Typed-Secret-41"), "usage: sidecar check ", "--data-dir"),
        (("check", "--tabel=Typed-Secret-41"), "usage: sidecar check ", "--table"),
        (("demo", "--prot", "Typed-Secret-41"), "usage: sidecar demo ", "--port"),
        (("preflight", "--projct-name", "Typed-Secret-41"), "usage: sidecar preflight ", "-p"),
    ],
)
def test_a_typod_flag_gets_the_commands_usage_and_a_did_you_mean(
    args: tuple[str, ...], usage: str, meant: str
) -> None:
    result = run_cli(*args, env={"SIDECAR_DB_URL": "mysql://m@db/app"})
    assert result.returncode == 3, result
    assert result.stderr.startswith(usage), result.stderr  # the command's flags, not the top's
    error = result.stderr.strip().splitlines()[-1]
    assert f"unrecognized arguments: {args[1].split('=')[0]} " in error, error
    assert "did you mean" in error and meant in error, error
    assert "Typed-Secret-41" not in result.stdout + result.stderr  # a value is never echoed


def test_check_prints_an_age_as_a_person_reads_it(seeded: MariaDBTestServer) -> None:
    seeded.execute(
        "UPDATE User SET createdAt = createdAt - INTERVAL 2 DAY - INTERVAL 3 HOUR",
        database="app",
    )
    result = run_cli("check", env=monitor_env(seeded))
    line = next(x for x in result.stdout.splitlines() if x.startswith("User:latestRecord"))
    # The newest of the 14 users is a day old, and now 2 days 3 hours more: `3d 3h`, say.
    assert re.search(r"\s(\d+d \d+h|\d+d)(\s|$)", line), line
    assert not re.search(r"\d+\.\d+ s\b", result.stdout), result.stdout
