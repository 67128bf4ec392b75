"""The `sidecar` command line. Only `probe` is on the hot path (a container HEALTHCHECK runs
it every few seconds): it imports `sys` and the probe module alone, so everything else,
argparse included, is imported inside the commands that need it."""

from __future__ import annotations

import sys

# Names used only in annotations (postponed by the __future__ import, so never evaluated at
# run time): imported for the type checker without `typing`, which costs ~3 ms to import.
if False:  # pragma: no cover
    import argparse
    from typing import Any

    from sidecar.config import ResolvedConfig

EXIT_BAD_CONFIG = 3
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a writer the signal ended
COMMANDS = (
    "serve",
    "check",
    "probe",
    "adopt",
    "snapshot",
    "verify",
    "events",
    "demo",
    "preflight",
    "volumes",
)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sidecar` console script and `python -m sidecar`."""
    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        # The reader went away (`sidecar check | head -1`): nothing more to say, and no
        # traceback. stdout goes to /dev/null so the interpreter's last flush cannot fail too.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _run(args: list[str]) -> int:
    if args and args[0] == "probe":
        from sidecar.probe import main as probe

        return probe(args[1:])
    if args and args[0] in ("preflight", "volumes"):  # on the host, with exit 3 for bad flags
        from sidecar.preflight.cli import main as preflight

        return preflight(args)
    from sidecar.usage import parse

    parser = _parser()
    try:
        options = parse(parser, args)
    except SystemExit as exc:
        # --help and --version exit 0; a wrong flag is a usage error, and for a Nagios
        # plugin that is UNKNOWN (3), not CRITICAL (argparse's 2).
        return 0 if exc.code in (0, None) else EXIT_BAD_CONFIG
    if options.command is None:
        parser.print_help()
        return EXIT_BAD_CONFIG
    from sidecar.config import ConfigError

    try:
        return int(options.handler(options))
    except ConfigError as exc:
        print(f"sidecar: invalid configuration: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    import argparse

    from sidecar import __version__

    class Parser(argparse.ArgumentParser):
        """argparse that takes no abbreviations (unknown flags: sidecar.usage.parse).

        An abbreviation turns a typo or a removed flag into another one (`--details-token X`
        would be read as `--details-token-file X`)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("allow_abbrev", False)
            super().__init__(*args, **kwargs)

    parser = Parser(
        prog="sidecar",
        description="Health checks that know whether MariaDB still holds your data.",
    )
    parser.add_argument("--version", action="version", version=f"sidecar {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the service (HTTP endpoints + check loop)")
    _add_settings(serve, "serve")
    serve.set_defaults(handler=_serve)

    check = sub.add_parser("check", help="evaluate once; exit 0 pass, 1 warn, 2 fail, 3 unknown")
    _add_settings(check)
    check.add_argument("--json", action="store_true", help="print application/health+json")
    check.set_defaults(handler=_check)

    sub.add_parser("probe", help="exit 0 if the sidecar's /readyz answers 2xx (HEALTHCHECK)")

    adopt = sub.add_parser("adopt", help="accept the current database as the baseline")
    _add_settings(adopt)
    adopt.add_argument(
        "--plant-sentinel",
        action="store_true",
        help="create the sentinel table (needs CREATE and INSERT; see --admin-url)",
    )
    adopt.add_argument(
        "--admin-url",
        help="mysql:// URL of an account allowed to create the sentinel (its password via "
        "--admin-password-file)",
    )
    adopt.add_argument("--admin-password-file", help="file holding the admin password")
    adopt.set_defaults(handler=_adopt)

    snapshot = sub.add_parser("snapshot", help="record identity and counts before a restart")
    _add_settings(snapshot)
    snapshot.add_argument("--out", required=True, help="file to write the snapshot to")
    snapshot.set_defaults(handler=_snapshot)

    verify = sub.add_parser("verify", help="compare with a snapshot after a restart")
    _add_settings(verify)
    verify.add_argument("--against", required=True, help="snapshot file written by `snapshot`")
    verify.set_defaults(handler=_verify)

    events = sub.add_parser("events", help="print the timeline kept in the state directory")
    events.add_argument(
        "--state-dir",
        dest="setting_state_dir",
        metavar="VALUE",
        help="the service's state directory [SIDECAR_STATE_DIR]",
    )
    events.add_argument(
        "--since", help="only events after this time (ISO-8601, epoch seconds, or 1h, 2d ago)"
    )
    events.add_argument("--limit", type=int, default=100, help="the newest N events (default 100)")
    events.add_argument("--json", action="store_true", help="print them as /events does")
    events.set_defaults(handler=_events)

    demo = sub.add_parser("demo", help="throwaway MariaDB with sample data, served by the sidecar")
    demo.add_argument("--incident", action="store_true", help="replay the incident after a while")
    demo.add_argument("--incident-after", type=float, default=15.0, help="seconds (default 15)")
    demo.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    demo.add_argument("--duration", type=float, default=0.0, help="stop after N seconds (0: never)")
    demo.set_defaults(handler=_demo)

    from sidecar.preflight.cli import add_parsers

    add_parsers(sub)
    return parser


def _add_settings(parser: argparse.ArgumentParser, command: str = "evaluate") -> None:
    """A flag for each setting `command` uses, described and defaulted from the settings model.

    Secrets have no flag (`ps` shows flags): they come from the environment or a file."""
    from sidecar.config import describe_settings

    group = parser.add_argument_group(
        "settings (each flag is also an environment variable; secrets only the variable)"
    )
    for item in describe_settings(command):
        if item.secret:
            continue
        help_text = f"{item.description}{item.default_text} [{item.variable}]".replace("%", "%%")
        group.add_argument(item.flag, dest=f"setting_{item.name}", metavar="VALUE", help=help_text)
    secrets = [item.variable for item in describe_settings(command) if item.secret]
    if secrets:
        group.description = "secrets, from the environment only: " + ", ".join(secrets)


def load(options: argparse.Namespace, environ: dict[str, str] | None = None) -> ResolvedConfig:
    """Settings from the environment, overridden by flags given on the command line."""
    import os

    from sidecar.config import load_settings, settings_from_environ

    values: dict[str, object] = dict(
        settings_from_environ(os.environ if environ is None else environ)
    )
    for key, value in vars(options).items():
        if key.startswith("setting_") and value is not None:
            values[key.removeprefix("setting_")] = value
    _refuse_password_in_flag(getattr(options, "setting_db_url", None))
    return load_settings(values)


def _refuse_password_in_flag(
    url: str | None,
    flag: str = "--db-url",
    instead: str = "SIDECAR_DB_PASSWORD or --db-password-file",
) -> None:
    """A password inside a URL given as a flag would show in `ps`: refused, never used."""
    from urllib.parse import urlsplit

    from sidecar.config import ConfigError

    if url is None:
        return
    try:
        has_password = urlsplit(url.strip()).password is not None
    except ValueError:
        return  # malformed: the settings model names what is wrong with it
    if has_password:
        raise ConfigError(
            flag, f"must not carry a password (any user on the host sees it in ps): use {instead}"
        )


def _serve(options: argparse.Namespace) -> int:
    from sidecar.server import serve

    return serve(load(options))


def _check(options: argparse.Namespace) -> int:
    from sidecar.commands.check import check

    return check(load(options), as_json=options.json)


def _adopt(options: argparse.Namespace) -> int:
    from sidecar.commands.adopt import adopt

    _refuse_password_in_flag(options.admin_url, "--admin-url", "--admin-password-file")
    return adopt(
        load(options), options.plant_sentinel, options.admin_url, options.admin_password_file
    )


def _snapshot(options: argparse.Namespace) -> int:
    from sidecar.commands.snapshot import take

    return take(load(options), options.out)


def _verify(options: argparse.Namespace) -> int:
    from sidecar.commands.snapshot import verify

    return verify(load(options), options.against)


def _events(options: argparse.Namespace) -> int:
    from sidecar.commands.events import show_events

    return show_events(load(options), options.since, options.limit, options.json)


def _demo(options: argparse.Namespace) -> int:
    from sidecar.commands.demo import run_demo

    return run_demo(options.port, options.incident, options.incident_after, options.duration)
