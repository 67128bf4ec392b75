"""Bodies of `/history` and `/events`, rendered off the event loop and kept for the cycle.

A year's `/history?window=365d&points=2000` costs tens of milliseconds of pure Python (the
buckets merged into points, a dict and a timestamp per point, the JSON): rendered per request
on the loop, 300 concurrent clients held `/livez` at 1.85 s (issue 24). So, as the status page
and `/health` are, a body is kept until the history changes (its `revision`, once per cycle),
and the one render a change costs runs in a worker thread:

- single flight: requests for a body being rendered wait for that render, not a render each;
- at most `RENDERS` renders at once, whatever the clients ask for (a client varying `points`
  or `since` to defeat the cache waits its turn and never holds the loop);
- at most `KEPT` bodies per revision; a revision's bodies go when the next one comes;
- at most `READS_PER_SECOND` reads answered (`turn`): the others wait, parked, so a probe
  arriving meanwhile is answered before them rather than after every one of them.

The thread never reads what the loop changes: the loop hands it a copy (of the tier's arrays,
a memcpy; of the events, a tuple of immutable values), taken at the revision it is kept under.
"""

import asyncio
import time
from collections.abc import Callable, Hashable

RENDERS = 1  # the sidecar has one core's worth to spare at most; probes come first
KEPT = 64
# Reads answered per second at most. Even from the cache a read costs the loop about a
# millisecond (parsing, routing, sending ~270 KB): clients reading in a tight loop would keep it
# busy and a probe would wait behind all of them. Paced, the rest wait parked (a sleep costs the
# loop nothing) and the loop keeps most of its time for probes; 50 a second is a dashboard
# polling every 5 s in 250 browsers.
READS_PER_SECOND = 50.0


def breathe() -> None:
    """Let the loop's thread take the GIL now, if it waits for it.

    A render in a thread holds the GIL for up to the switch interval (5 ms) at a time, and the
    loop gives it up at every socket call: each time it would wait that long to get it back,
    several times per request. Sleeping 0 hands it over at once; a render calls this every few
    hundred microseconds of its work."""
    time.sleep(0)


class Renders:
    """Rendered bodies of one history, per revision and per request's key."""

    def __init__(self) -> None:
        self._revision: int | None = None
        self._bodies: dict[Hashable, asyncio.Task[bytes]] = {}
        self._running: set[asyncio.Task[bytes]] = set()  # referenced until done
        self._slots = asyncio.Semaphore(RENDERS)
        self._next_read = 0.0  # monotonic time of the next free turn
        self.rendered = 0  # renders done (what the tests and the bench count)

    async def body(
        self, revision: int, key: Hashable, prepare: Callable[[], Callable[[], bytes]]
    ) -> bytes:
        """The body for `key` at `revision`: kept, being rendered, or rendered now.

        `prepare` runs on the loop when the render's turn comes (it copies what the render
        reads); the render it returns runs in a worker thread. A client that goes away does
        not cancel a render others wait for (each waits on a shield)."""
        if revision != self._revision:
            self._revision, self._bodies = revision, {}
        task = self._bodies.get(key)
        if task is None:
            task = asyncio.create_task(self._render(prepare))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            if len(self._bodies) < KEPT:
                self._bodies[key] = task
        return await asyncio.shield(task)

    async def turn(self) -> None:
        """Wait for this read's turn (turns come `1 / READS_PER_SECOND` apart)."""
        now = time.monotonic()
        start = max(now, self._next_read)
        self._next_read = start + 1 / READS_PER_SECOND
        if start > now:
            await asyncio.sleep(start - now)

    async def _render(self, prepare: Callable[[], Callable[[], bytes]]) -> bytes:
        async with self._slots:
            # The copy is taken once the render's turn has come: one copy at a time, however
            # many different bodies are asked for at once.
            body = await asyncio.to_thread(prepare())
        self.rendered += 1
        return body
