"""Bodies of `/history` and `/events`, rendered off the event loop and kept for the cycle.

A year's `/history?window=365d&points=2000` costs tens of milliseconds of pure Python (the
buckets merged into points, a dict and a timestamp per point, the JSON): rendered per request
on the loop, 300 concurrent clients held `/livez` at 1.85 s (issue 24). So, as the status page
and `/health` are, a body is kept until the history changes (its `revision`, once per cycle),
and the one render a change costs runs in a worker thread:

- single flight: requests for a body being rendered wait for that render, not a render each;
- at most `RENDERS` renders at once, whatever the clients ask for (a client varying `points`
  or `since` to defeat the cache waits its turn and never holds the loop);
- at most `KEPT` bodies per revision; a revision's bodies go when the next one comes.

The thread never reads what the loop changes: the loop hands it a copy (of the tier's arrays,
a memcpy; of the events, a tuple of immutable values), taken at the revision it is kept under.
"""

import asyncio
from collections.abc import Callable, Hashable

RENDERS = 1  # the sidecar has one core's worth to spare at most; probes come first
KEPT = 64


class Renders:
    """Rendered bodies of one history, per revision and per request's key."""

    def __init__(self) -> None:
        self._revision: int | None = None
        self._bodies: dict[Hashable, asyncio.Task[bytes]] = {}
        self._running: set[asyncio.Task[bytes]] = set()  # referenced until done
        self._slots = asyncio.Semaphore(RENDERS)
        self.rendered = 0  # renders done (what the tests and the bench count)

    async def body(
        self, revision: int, key: Hashable, prepare: Callable[[], Callable[[], bytes]]
    ) -> bytes:
        """The body for `key` at `revision`: kept, being rendered, or rendered now.

        `prepare` runs on the loop (it copies what the render reads); the render it returns
        runs in a worker thread. A client that goes away does not cancel a render others wait
        for (each waits on a shield)."""
        if revision != self._revision:
            self._revision, self._bodies = revision, {}
        task = self._bodies.get(key)
        if task is None:
            task = asyncio.create_task(self._render(prepare()))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            if len(self._bodies) < KEPT:
                self._bodies[key] = task
        return await asyncio.shield(task)

    async def _render(self, render: Callable[[], bytes]) -> bytes:
        async with self._slots:
            body = await asyncio.to_thread(render)
        self.rendered += 1
        return body
