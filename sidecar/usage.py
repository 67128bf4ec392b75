"""Usage errors for a person: the command's own usage, and a "did you mean" for a typo'd flag.

argparse reports an unknown flag from the top-level parser, with the top-level usage, which
names no flag of the command that was run. Here the command's parser reports it instead."""

from __future__ import annotations

import argparse
import difflib


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
