"""The command line's one argparse policy, and its text for a person: each command's settings
in `--help`, the command's own usage, and a "did you mean" for a typo'd flag.

Every command's parser is a `Parser`: no abbreviations, and a usage error exits 3 (UNKNOWN, as
a Nagios plugin's must; argparse's 2 is CRITICAL). argparse reports an unknown flag from the
top-level parser, with the top-level usage, which names no flag of the command that was run:
here the command's parser reports it instead.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from sidecar.settings_fields import Scope

EXIT_USAGE = 3  # a usage error: could not evaluate


class Parser(argparse.ArgumentParser):
    """argparse without abbreviations, whose usage errors exit 3.

    An abbreviation turns a typo or a removed flag into another one (`--details-token X`
    would be read as `--details-token-file X`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Print usage and the problem; exit 3."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


@dataclass(frozen=True)
class SettingHelp:
    """What `--help` says of one setting."""

    name: str
    description: str
    default_text: str  # " (default: 5s)", or ""
    secret: bool  # from the environment only: no flag
    scope: Scope
    variable: str  # its environment variable
    flag: str  # its command-line flag (`--db-url`), unless a secret


def describe_settings(command: str) -> list[SettingHelp]:
    """The settings `command` (`check`) uses: those of every evaluating command, and those
    scoped to it alone (`serve`, `adopt`), from the one settings model, in its order."""
    from sidecar.config import SETTINGS, Settings
    from sidecar.durations import format_duration

    items = []
    for name, setting in SETTINGS.items():
        if setting.scope not in ("evaluate", command):
            continue
        default = Settings.model_fields[name].default
        shown = ""
        if default is not None and not isinstance(default, bool):
            value = format_duration(default) if name in ("interval", "timeout") else default
            shown = f" (default: {value})"
        items.append(
            SettingHelp(
                name,
                setting.description,
                shown,
                setting.environment_only,
                setting.scope,
                setting.variable,
                setting.flag,
            )
        )
    return items


def add_settings(parser: argparse.ArgumentParser, command: str) -> None:
    """A flag for each setting `command` uses, described and defaulted from the settings model.

    Secrets have no flag (`ps` shows flags): they come from the environment or a file."""
    group = parser.add_argument_group(
        "settings (each flag is also an environment variable; secrets only the variable)"
    )
    items = describe_settings(command)
    for item in items:
        if item.secret:
            continue
        help_text = f"{item.description}{item.default_text} [{item.variable}]".replace("%", "%%")
        group.add_argument(item.flag, dest=f"setting_{item.name}", metavar="VALUE", help=help_text)
    secrets = [item.variable for item in items if item.secret]
    if secrets:
        group.description = "secrets, from the environment only: " + ", ".join(secrets)


def unrecognized(words: list[str], parser: argparse.ArgumentParser) -> str:
    """`unrecognized arguments: --dtaa-dir ... (did you mean --data-dir?)`.

    Values are not echoed: a secret typed as a flag would land in the scrollback and CI logs."""
    flags = [w.split("=", 1)[0] for w in words if w.startswith("-")]
    shown = " ".join(w.split("=", 1)[0] if w.startswith("-") else "..." for w in words)
    known = [option for action in parser._actions for option in action.option_strings]
    guesses = [g for flag in flags for g in difflib.get_close_matches(flag, known, n=1)]
    hint = f" (did you mean {' or '.join(dict.fromkeys(guesses))}?)" if guesses else ""
    return f"unrecognized arguments: {shown}{hint}"


def command_parser(parser: argparse.ArgumentParser, name: str | None) -> argparse.ArgumentParser:
    """The parser of command `name` (`check`), or `parser` itself when there is none."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            chosen: argparse.ArgumentParser = action.choices[name]
            return chosen
    return parser


def parse(parser: argparse.ArgumentParser, args: list[str]) -> argparse.Namespace:
    """`parser.parse_args(args)`, an unknown argument reported by the command it was given to."""
    options, extra = parser.parse_known_args(args)
    if extra:
        command = command_parser(parser, getattr(options, "command", None))
        command.error(unrecognized(extra, command))
    return options
