"""The `sidecar` command line: one table of commands, from which the parser, the usage text and
the list of commands come.

Only `probe` is on the hot path (a container HEALTHCHECK runs it every few seconds): it imports
`sys` and the probe module alone, so everything else, argparse included, is imported inside
the commands that need it, and a command's parser is built alone when it is the one run.
"""

from __future__ import annotations

import sys

# Names used only in annotations (postponed by the __future__ import, so never evaluated at
# run time): imported for the type checker without `typing`, which costs ~3 ms to import.
if False:  # pragma: no cover
    import argparse
    from collections.abc import Callable
    from typing import Any

    from sidecar.config import ResolvedConfig

EXIT_BAD_CONFIG = 3
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a writer the signal ended


class Command:
    """One command: its name, its line in `sidecar --help`, what adds its arguments to its
    parser, and its handler (given the parsed options, or a raw command the words after its
    name, it returns the exit code).

    With `settings`, each setting it uses is a flag too (those of every evaluating command,
    and its own: `sidecar.config.Scope`). A `raw` command parses its own arguments (given as
    words) and has no parser to build."""

    __slots__ = ("arguments", "description", "handler", "help", "name", "raw", "settings")

    def __init__(
        self,
        name: str,
        help: str,
        handler: Callable[[Any], int],
        arguments: Callable[[argparse.ArgumentParser], None] | None = None,
        settings: bool = False,
        description: str | None = None,
        raw: bool = False,
    ) -> None:
        self.name = name
        self.help = help
        self.handler = handler
        self.arguments = arguments
        self.settings = settings
        self.description = description
        self.raw = raw


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
    chosen = _BY_NAME.get(args[0]) if args else None
    if chosen is not None and chosen.raw:
        return chosen.handler(args[1:])
    from sidecar.usage import parse

    parser = build_parser(chosen)
    try:
        options = parse(parser, args)
    except SystemExit as exc:
        # --help and --version exit 0; a usage error exits 3 (sidecar.usage.Parser).
        return exc.code if isinstance(exc.code, int) else 0
    if options.command is None:
        parser.print_help()
        return EXIT_BAD_CONFIG
    from sidecar.config import ConfigError

    try:
        return int(_BY_NAME[options.command].handler(options))
    except ConfigError as exc:
        print(f"sidecar: invalid configuration: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except KeyboardInterrupt:
        return 130


def build_parser(only: Command | None = None) -> argparse.ArgumentParser:
    """The parser of every command in the table, or of `only` that one (so that `sidecar
    preflight` on the host imports no settings model, and `serve` no compose parser)."""
    from sidecar import __version__
    from sidecar.usage import Parser, add_settings

    parser = Parser(
        prog="sidecar",
        description="Health checks that know whether MariaDB still holds your data.",
    )
    parser.add_argument("--version", action="version", version=f"sidecar {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in TABLE if only is None else (only,):
        # (A raw command's parser only lists it: it parses its own arguments.)
        command_parser = sub.add_parser(
            command.name, help=command.help, description=command.description
        )
        if command.settings:
            add_settings(command_parser, command.name)
        if command.arguments is not None:
            command.arguments(command_parser)
    return parser


def load(options: argparse.Namespace, environ: dict[str, str] | None = None) -> ResolvedConfig:
    """Settings from the environment, overridden by flags given on the command line."""
    import os

    from sidecar.config import load_settings, settings_from_environ

    values: dict[str, object] = dict(
        settings_from_environ(os.environ if environ is None else environ)
    )
    flags = {
        key.removeprefix("setting_"): value
        for key, value in vars(options).items()
        if key.startswith("setting_") and value is not None
    }
    return load_settings({**values, **flags}, flags=flags.keys())


def _probe(words: list[str]) -> int:
    from sidecar.probe import main as probe

    return probe(words)


def _serve(options: argparse.Namespace) -> int:
    from sidecar.server import serve

    return serve(load(options))


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print application/health+json")


def _check(options: argparse.Namespace) -> int:
    from sidecar.commands.check import check

    return check(load(options), as_json=options.json)


def _adopt_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plant-sentinel",
        action="store_true",
        help="create the sentinel table (needs CREATE and INSERT; see --admin-url)",
    )


def _adopt(options: argparse.Namespace) -> int:
    from sidecar.commands.adopt import adopt

    return adopt(load(options), options.plant_sentinel)


def _snapshot_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="file to write the snapshot to")


def _snapshot(options: argparse.Namespace) -> int:
    from sidecar.commands.snapshot import take

    return take(load(options), options.out)


def _verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--against", required=True, help="snapshot file written by `snapshot`")


def _verify(options: argparse.Namespace) -> int:
    from sidecar.commands.snapshot import verify

    return verify(load(options), options.against)


def _events_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        dest="setting_state_dir",
        metavar="VALUE",
        help="the service's state directory [SIDECAR_STATE_DIR]",
    )
    parser.add_argument(
        "--since", help="only events after this time (ISO-8601, epoch seconds, or 1h, 2d ago)"
    )
    parser.add_argument("--limit", type=int, default=100, help="the newest N events (default 100)")
    parser.add_argument("--json", action="store_true", help="print them as /events does")


def _events(options: argparse.Namespace) -> int:
    from sidecar.commands.events import show_events

    return show_events(load(options), options.since, options.limit, options.json)


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    from sidecar.demo import ENGINES

    parser.add_argument(
        "--engine", choices=ENGINES, default=ENGINES[0], help="the database (default mariadb)"
    )
    parser.add_argument("--incident", action="store_true", help="replay the incident after a while")
    parser.add_argument("--incident-after", type=float, default=15.0, help="seconds (default 15)")
    parser.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    parser.add_argument(
        "--duration", type=float, default=0.0, help="stop after N seconds (0: never)"
    )


def _demo(options: argparse.Namespace) -> int:
    from sidecar.demo.run import run_demo

    return run_demo(
        options.engine, options.port, options.incident, options.incident_after, options.duration
    )


def _preflight_arguments(parser: argparse.ArgumentParser) -> None:
    from sidecar.preflight.cli import add_preflight_arguments

    add_preflight_arguments(parser)


def _preflight(options: argparse.Namespace) -> int:
    from sidecar.preflight.cli import run_preflight

    return run_preflight(options)


def _volumes_arguments(parser: argparse.ArgumentParser) -> None:
    from sidecar.preflight.cli import add_volumes_arguments

    add_volumes_arguments(parser)


def _volumes(options: argparse.Namespace) -> int:
    from sidecar.preflight.cli import run_volumes

    return run_volumes(options)


# Every command, in the order `sidecar --help` lists them.
TABLE = (
    Command("serve", "run the service (HTTP endpoints + check loop)", _serve, settings=True),
    Command(
        "check",
        "evaluate once; exit 0 pass, 1 warn, 2 fail, 3 unknown",
        _check,
        _check_arguments,
        settings=True,
    ),
    Command("probe", "exit 0 if the sidecar's /readyz answers 2xx (HEALTHCHECK)", _probe, raw=True),
    Command(
        "adopt",
        "accept the current database as the baseline",
        _adopt,
        _adopt_arguments,
        settings=True,
    ),
    Command(
        "snapshot",
        "record identity and counts before a restart",
        _snapshot,
        _snapshot_arguments,
        settings=True,
    ),
    Command(
        "verify",
        "compare with a snapshot after a restart",
        _verify,
        _verify_arguments,
        settings=True,
    ),
    Command("events", "print the timeline kept in the state directory", _events, _events_arguments),
    Command(
        "demo",
        "throwaway MariaDB or PostgreSQL with sample data, served by the sidecar",
        _demo,
        _demo_arguments,
    ),
    Command(
        "preflight",
        "before `up`: refuse a start that would create a new, empty database volume",
        _preflight,
        _preflight_arguments,
        description="Resolve the compose project and volume names as the compose tool would,"
        " compare them with the engine's volumes; exit 0 pass, 1 warn, 2 fail, 3 unknown.",
    ),
    Command(
        "volumes",
        "during an incident: which twin volume holds the data, and how to come back",
        _volumes,
        _volumes_arguments,
        description="Compare the volumes that share a database volume key; exit 0 when the"
        " stack is on the likely data, 1 unsure, 2 when it is not, 3 unknown.",
    ),
)
_BY_NAME = {command.name: command for command in TABLE}
COMMANDS = tuple(_BY_NAME)  # the names, for the tests and the docs' checks
