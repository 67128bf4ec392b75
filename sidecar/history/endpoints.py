"""`GET /events` and `GET /history`: the history for programs, served from memory.

Both are details: with `SIDECAR_DETAILS_TOKEN` set they need the token (or the status page's
cookie), as `/metrics` does. Bad parameters get 400 with one line saying which and why; a table
that is not watched gets 404.
"""

import json
import math
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sidecar.access import DetailsGate, unauthorized
from sidecar.history.events import Event, parse_since
from sidecar.history.history import History, newest
from sidecar.history.renders import Renders, breathe
from sidecar.history.series import DAY, Series, Window
from sidecar.results import Status
from sidecar.timestamps import iso

MEDIA_TYPE = "application/json"
_HEADERS = {"Cache-Control": "no-store"}
MAX_EVENTS = 1000
MAX_POINTS = 2000
WINDOWS = {"24h": DAY, "7d": 7 * DAY, "365d": 365 * DAY}
# JSON names of the series' columns.
_TABLE_NAMES = {
    "rows": "rows",
    "rows_min": "rowsMin",
    "high_water": "highWater",
    "floor": "floor",
    "min_allowed": "minAllowed",
    "newest_age": "newestRecordAge",
}
_CYCLE_NAMES = {"duration": "duration", "verdict": "verdict"}
_VERDICTS = {float(s.severity): str(s) for s in Status}


class BadParameter(Exception):
    """A query parameter that cannot be used; the message names it."""


def _since(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_since(text, time.time())
    except ValueError as exc:
        raise BadParameter(f"since: {exc}") from None


def parse_count(text: str | None, name: str, default: int, most: int) -> int:
    """A whole number from 1 to `most`."""
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadParameter(f"{name}: {text!r} is not a whole number") from None
    if not 1 <= value <= most:
        raise BadParameter(f"{name}: must be from 1 to {most}")
    return value


def _dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()


def _body(body: bytes, status: int = 200) -> Response:
    return Response(body, status, media_type=MEDIA_TYPE, headers=_HEADERS)


def _json(document: Any, status: int = 200) -> Response:
    return _body(_dumps(document), status)


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def _value(value: float) -> float | int | None:
    if math.isnan(value):
        return None
    return int(value) if value.is_integer() else round(value, 3)


def _points(window: Window, names: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for i, moment in enumerate(window.times):
        if i % 64 == 0:
            breathe()
        item: dict[str, Any] = {"time": iso(moment, "seconds"), "timestamp": moment}
        for column, values in window.columns.items():
            name = names.get(column, column)
            item[name] = _VERDICTS.get(values[i]) if name == "verdict" else _value(values[i])
        out.append(item)
    return out


def _dumps_list(document: dict[str, Any], key: str, items: list[Any]) -> bytes:
    """`_dumps({**document, key: items})`, the items encoded a chunk at a time: one json.dumps
    of a year's points holds the GIL for milliseconds in one C call."""
    parts = []
    for start in range(0, len(items), 128):
        parts.append(_dumps(items[start : start + 128])[1:-1])
        breathe()
    head = _dumps({**document, key: []})[:-3]  # up to the list, whose `[]}` ends it
    return head + b"[" + b",".join(parts) + b"]}"


def routes(history: History, gate: DetailsGate, renders: Renders | None = None) -> list[Route]:
    """The routes of `/events` and `/history` (bodies from `Renders`: see renders.py)."""
    renders = renders if renders is not None else Renders()

    async def events(request: Request) -> Response:
        if not gate.allows(request):
            return unauthorized()
        query = request.query_params
        try:
            since = _since(query.get("since"))
            limit = parse_count(query.get("limit"), "limit", 100, MAX_EVENTS)
        except BadParameter as exc:
            return _error(400, str(exc))

        def prepare() -> Callable[[], bytes]:
            kept = tuple(history.events)  # events are immutable: the tuple is the copy
            return lambda: _events_body(kept, since, limit)

        # Keyed by what was asked (`1h` means the same within one cycle), not by the time.
        key = ("events", query.get("since"), limit)
        await renders.turn()
        return _body(await renders.body(history.revision, key, prepare))

    async def samples(request: Request) -> Response:
        if not gate.allows(request):
            return unauthorized()
        query = request.query_params
        window = query.get("window", "24h")
        try:
            if window not in WINDOWS:
                raise BadParameter(f"window: {window!r} is not one of {', '.join(WINDOWS)}")
            most = parse_count(query.get("points"), "points", 500, MAX_POINTS)
        except BadParameter as exc:
            return _error(400, str(exc))
        table = query.get("table")
        if table is not None and table not in history.tables:
            return _error(404, f"table: {table!r} is not a watched table")

        def prepare() -> Callable[[], bytes]:
            series = history.cycles if table is None else history.tables[table]
            kept = series.copy()
            return lambda: _samples_body(kept, window, most, table)

        key = ("history", window, most, table)
        await renders.turn()
        return _body(await renders.body(history.revision, key, prepare))

    methods = ["GET", "HEAD"]
    return [Route("/events", events, methods=methods), Route("/history", samples, methods=methods)]


def _events_body(events: tuple[Event, ...], since: float | None, limit: int) -> bytes:
    found = newest(events, since, limit + 1)
    breathe()
    shown = []
    for i, event in enumerate(found[:limit]):
        if i % 64 == 0:
            breathe()
        shown.append(event.to_json())
    return _dumps_list({"truncated": len(found) > limit}, "events", shown)


def _samples_body(series: Series, window: str, most: int, table: str | None) -> bytes:
    names = _CYCLE_NAMES if table is None else _TABLE_NAMES
    until = series.newest or 0.0
    found = series.window(until - WINDOWS[window], until, most, breathe)
    document: dict[str, Any] = {"window": window, "resolution": found.resolution}
    if table is not None:
        document["table"] = table
    return _dumps_list(document, "points", _points(found, names))
