"""What changed, and when: the events of the timeline.

An event is a verdict transition, a check changing status, an identity source changing value
(old and new, per source), the identity first seen (trust on first use), a `sidecar adopt`
taken up by the running service, a pin set or changed, a problem with the state or the history
files, or the sidecar starting. Messages are made from check outputs and identity values,
which never name a host, a user or a password.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sidecar.durations import parse_duration
from sidecar.history import shapes
from sidecar.results import Status
from sidecar.timestamps import iso


class Kind(StrEnum):
    """What sort of change an event records."""

    START = "start"
    VERDICT = "verdict"
    CHECK = "check"
    IDENTITY = "identity"
    FIRST_SEEN = "first-seen"
    ADOPT = "adopt"
    PIN = "pin"
    STATE = "state"


# The kinds the identity timeline shows.
IDENTITY_KINDS = frozenset({Kind.IDENTITY, Kind.FIRST_SEEN, Kind.ADOPT, Kind.PIN})


@dataclass(frozen=True)
class Change:
    """One identity source's value before and after (None: absent)."""

    source: str
    old: str | None
    new: str | None

    def describe(self) -> str:
        """`volume changed from a to b`, as the identity check says it."""
        if self.old is None:
            return f"{self.source} appeared: {self.new}"
        if self.new is None:
            return f"{self.source} {self.old} is gone"
        return f"{self.source} changed from {self.old} to {self.new}"


@dataclass(frozen=True)
class Event:
    """One entry of the timeline."""

    time: float  # epoch seconds
    kind: Kind
    message: str
    status: Status | None = None  # the status it is about, when it is about one
    check: str | None = None  # the check's key, for check events
    changes: tuple[Change, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The form kept on disk and served by /events."""
        document: dict[str, Any] = {
            "time": iso(self.time),
            "timestamp": round(self.time, 3),
            "kind": str(self.kind),
            "status": None if self.status is None else str(self.status),
            "message": self.message,
        }
        if self.check is not None:
            document["check"] = self.check
        if self.changes:
            document["changes"] = [
                {"source": c.source, "old": c.old, "new": c.new} for c in self.changes
            ]
        return document

    @classmethod
    def from_json(cls, data: Any) -> "Event":
        """Parse `to_json`'s form; a ValueError (`Malformed`) when it is not one."""
        data = shapes.obj(data, "an event")
        status = shapes.optional_text(shapes.get(data, "status"), "status")
        changes = tuple(
            Change(
                shapes.text(shapes.get(c, "source"), "source"),
                shapes.optional_text(shapes.get(c, "old"), "old"),
                shapes.optional_text(shapes.get(c, "new"), "new"),
            )
            for c in (
                shapes.obj(c, "a change") for c in shapes.seq(data.get("changes", []), "changes")
            )
        )
        return cls(
            shapes.moment(shapes.get(data, "timestamp"), "timestamp"),
            Kind(shapes.text(shapes.get(data, "kind"), "kind")),
            shapes.text(shapes.get(data, "message"), "message"),
            None if status is None else Status(status),
            shapes.optional_text(data.get("check"), "check"),
            changes,
        )

    def line(self) -> str:
        """`2025-11-27 07:24:58 FAIL volume changed from a to b`, in local time."""
        when = datetime.fromtimestamp(self.time).strftime("%Y-%m-%d %H:%M:%S")
        label = str(self.status).upper() if self.status is not None else "INFO"
        return f"{when} {label:<4} {self.message}"


def parse_time(text: str) -> float:
    """ISO-8601 (naive means UTC) or epoch seconds, as epoch seconds; ValueError naming both."""
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(number):
            return number
        raise ValueError(f"{text!r} is not a finite number")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO-8601 time (e.g. 2026-11-25T10:34:58Z) or epoch seconds"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def parse_since(text: str, now: float) -> float:
    """A time as `parse_time` reads it, or a duration back from `now` (`1h`, `2d`, `90m`)."""
    try:
        return parse_time(text)
    except ValueError:
        pass
    try:
        return now - parse_duration(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time (ISO-8601 such as 2026-11-25T10:34:58Z, or epoch seconds) "
            "nor a duration back from now (such as 30m, 1h, 2d)"
        ) from None
