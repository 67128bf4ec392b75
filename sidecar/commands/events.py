"""`sidecar events`: the timeline in a terminal, read from the state directory.

It reads the history files the service keeps beside `state.json` and prints one line per
event, oldest first, in local time, e.g.
`2025-11-27 07:24:58 FAIL inode changed from 1835011 to 1835107; datadir changed ...`.
`--since` takes a time (ISO-8601 or epoch seconds) or how long back from now (`1h`, `2d`).
It needs no database and changes nothing on disk (a damaged file is only reported), so it is
safe to run while the service runs, and after it stopped.
"""

import json
import sys
import time

from sidecar.config import ConfigError, ResolvedConfig
from sidecar.history import History
from sidecar.history.events import parse_since
from sidecar.results import ExitCode


def show_events(config: ResolvedConfig, since: str | None, limit: int, as_json: bool) -> int:
    """Print the newest `limit` events (after `since`); 0, or 3 when there is nothing to read."""
    directory = config.settings.state_dir
    if directory is None:
        raise ConfigError(
            "SIDECAR_STATE_DIR",
            "is needed to read the history (without one it lives only in the running "
            "service: GET /events)",
        )
    if not directory.is_dir():
        raise ConfigError("SIDECAR_STATE_DIR", f"{directory} is not a directory")
    if limit < 1:
        raise ConfigError("--limit", "must be 1 or more")
    try:
        after = parse_since(since, time.time()) if since is not None else None
    except ValueError as exc:
        raise ConfigError("--since", str(exc)) from None
    history = History(directory, ())
    for problem in history.load(repair=False):
        print(f"sidecar events: {problem}", file=sys.stderr)
    found = list(reversed(history.recent(after, limit)))
    if as_json:
        print(json.dumps([event.to_json() for event in found], indent=2))
    elif not found:
        print("no events recorded" + (" since then" if after is not None else ""))
    for event in [] if as_json else found:
        print(event.line())
    return int(ExitCode.OK)
