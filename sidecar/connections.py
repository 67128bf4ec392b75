"""Connection limits of the HTTP server: what keeps `/livez` answering under silent clients.

Two rules, enforced on every connection uvicorn accepts:

- **A request deadline.** A connection must deliver a complete request head within
  `REQUEST_TIMEOUT` of opening, and again of each response (which makes it the keep-alive idle
  timeout too). Bytes trickling in do not extend it, so a slow-loris client gains nothing.
  Expired connections are aborted (RST): a close would wait forever to flush to a client that
  does not read.
- **A connection cap below the open-files budget.** When the cap is reached, the connection
  that has gone longest without a request is aborted to admit the new one, so a flood of
  silent connections can never starve a probe of a file descriptor.

Why the cap sits where it does: asyncio accepts up to `accept_batch` connections (the backlog
it was given) in one pass of its loop, creates their protocols on the next pass and calls
`connection_made` (where the cap is enforced) on the one after, and a shed connection's
descriptor is released one pass later still: up to three batches can be open beyond the cap,
and the budget leaves room for four. The kernel's listen queue is made far longer than a batch
(server.py): connections waiting there cost the process no descriptor, and a probe's SYN is not
dropped in a flood. Reaching `EMFILE` is what must never happen: asyncio then stops accepting
for a whole second, and uvloop (libuv) accepts and drops every pending connection, probes
included. uvicorn's own `limit_concurrency` is no help: it answers 503, which would fail
`/livez`.
"""

import asyncio
import collections
import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("sidecar.connections")

REQUEST_TIMEOUT = 5.0
# Descriptors the sidecar needs besides its clients: stdio, the listening sockets, the event
# loop's selector and wake-up pipe, up to 4 database connections, the state file with its
# temporary copy and directory (fsync), the log, the backup reader (a dump, a decompressor's
# pipes), /proc/self/mountinfo, the webhook/push client's socket, and slack for imports.
RESERVED_FILES = 64
# A sidecar serves probes and scrapes: a few dozen connections at most. Beyond this many it
# sheds rather than grow (measured: ~6 KiB of resident memory per idle connection).
MAX_CONNECTIONS = 1024
MIN_CONNECTIONS = 16
# Accept batches the budget leaves room for beyond the cap (three are possible, see above).
BURSTS = 4
SHED_WARNING_EVERY = 60.0


class OpenFilesTooLow(ValueError):
    """The open-files limit leaves no room for a useful connection cap."""


@dataclass(frozen=True)
class ConnectionBudget:
    """How the open-files limit is spent: reserve, accept batches, and the connection cap."""

    open_files: int
    reserved: int
    accept_batch: int
    cap: int

    def describe(self) -> str:
        """One line for the start-up log."""
        return (
            f"connection cap {self.cap} (open-files limit {self.open_files}: {self.reserved}"
            f" reserved for the database, state, logs and backups, {BURSTS * self.accept_batch}"
            f" for accept batches of {self.accept_batch})"
        )


def budget_for(open_files: int) -> ConnectionBudget:
    """The connection budget for a process allowed `open_files` descriptors."""
    accept_batch = max(16, min(128, open_files // 16))
    cap = min(MAX_CONNECTIONS, open_files - RESERVED_FILES - BURSTS * accept_batch)
    if cap < MIN_CONNECTIONS:
        needed = RESERVED_FILES + BURSTS * accept_batch + MIN_CONNECTIONS
        raise OpenFilesTooLow(
            f"open-files limit {open_files} is too low to serve HTTP safely:"
            f" raise it to at least {needed} (ulimit -n, or the container's nofile ulimit)"
        )
    return ConnectionBudget(open_files, RESERVED_FILES, accept_batch, cap)


def current_budget() -> ConnectionBudget:
    """The budget for this process's soft RLIMIT_NOFILE (what `open()` and `accept()` obey)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Linux never reports RLIM_INFINITY for descriptors, but stay finite if one ever does.
    return budget_for(MAX_CONNECTIONS * 4 if soft == resource.RLIM_INFINITY else soft)


class _Tracked:
    __slots__ = ("busy", "deadline", "timer", "transport")

    def __init__(
        self, transport: asyncio.Transport, busy: Callable[[], bool], deadline: float
    ) -> None:
        self.transport = transport
        self.busy = busy
        self.deadline = deadline
        self.timer: asyncio.TimerHandle | None = None


class ConnectionGuard:
    """Enforces the request deadline and the connection cap on the connections it is told of."""

    def __init__(self, cap: int, request_timeout: float = REQUEST_TIMEOUT) -> None:
        self.cap = cap
        self.request_timeout = request_timeout
        # Least recently active first: opened, or last answered, longest ago.
        self._open: collections.OrderedDict[object, _Tracked] = collections.OrderedDict()
        self.shed_total = 0
        self._warned_at: float | None = None

    def __len__(self) -> int:
        return len(self._open)

    def opened(self, key: object, transport: asyncio.Transport, busy: Callable[[], bool]) -> None:
        """A connection was accepted; `busy()` says whether a request on it is being served."""
        while len(self._open) >= self.cap:
            self._shed_one()
        loop = asyncio.get_running_loop()
        tracked = self._open[key] = _Tracked(transport, busy, loop.time() + self.request_timeout)
        tracked.timer = loop.call_at(tracked.deadline, self._expire, key)

    def answered(self, key: object) -> None:
        """A response on `key` is complete: its next request has a fresh deadline."""
        tracked = self._open.get(key)
        if tracked is None:
            return
        # Only the deadline moves: the timer, when it fires, re-arms itself for it. A busy
        # keep-alive connection costs no timer churn per request.
        tracked.deadline = asyncio.get_running_loop().time() + self.request_timeout
        self._open.move_to_end(key)

    def closed(self, key: object) -> None:
        """The connection is gone, whoever closed it."""
        tracked = self._open.pop(key, None)
        if tracked is not None and tracked.timer is not None:
            tracked.timer.cancel()

    def _expire(self, key: object) -> None:
        tracked = self._open.get(key)
        if tracked is None:
            return
        loop = asyncio.get_running_loop()
        if tracked.busy():
            # A request is being answered (from memory: rare and short); judge the connection
            # by its next request instead.
            tracked.deadline = loop.time() + self.request_timeout
        if tracked.deadline > loop.time():
            tracked.timer = loop.call_at(tracked.deadline, self._expire, key)
            return
        self._abort(key)

    def _shed_one(self) -> None:
        victim = next((k for k, t in self._open.items() if not t.busy()), None)
        if victim is None:  # every connection is mid-request: the oldest still has to go
            victim = next(iter(self._open))
        self.shed_total += 1
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at >= SHED_WARNING_EVERY:
            log.warning(
                "connection cap %d reached: closing the connections idle longest to admit new"
                " ones (%d so far)",
                self.cap,
                self.shed_total,
            )
            self._warned_at = now
        self._abort(victim)

    def _abort(self, key: object) -> None:
        tracked = self._open.pop(key)
        if tracked.timer is not None:
            tracked.timer.cancel()
        tracked.transport.abort()


def guarded_protocol(base: type[asyncio.Protocol], guard: ConnectionGuard) -> type[Any]:
    """A subclass of uvicorn's HTTP protocol class `base` that reports to `guard`.

    uvicorn's h11 and httptools protocols share the hooks used here: `connection_made`,
    `connection_lost`, `on_response_complete`, and `cycle.response_complete` for a request
    in flight.
    """

    def busy_of(protocol: Any) -> Callable[[], bool]:
        return lambda: protocol.cycle is not None and not protocol.cycle.response_complete

    def connection_made(self: Any, transport: asyncio.Transport) -> None:
        base.connection_made(self, transport)
        guard.opened(self, transport, busy_of(self))

    def connection_lost(self: Any, exc: Exception | None) -> None:
        guard.closed(self)
        base.connection_lost(self, exc)

    def on_response_complete(self: Any) -> None:
        base.on_response_complete(self)  # type: ignore[attr-defined]
        guard.answered(self)

    return type(
        f"Guarded{base.__name__}",
        (base,),
        {
            "connection_made": connection_made,
            "connection_lost": connection_lost,
            "on_response_complete": on_response_complete,
        },
    )
