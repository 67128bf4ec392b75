"""Bodies of `/history` and `/events`, rendered off the loop's process and kept for the cycle.

A year's `/history?window=365d&points=2000` costs tens of milliseconds of pure Python (the
buckets merged into points, a dict and a timestamp per point, the JSON): rendered per request
on the loop, 300 concurrent clients held `/livez` at 1.85 s (issue 24). So, as the status page
and `/health` are, a body is kept until the history changes (its `revision`, once per cycle),
and the one render a change costs runs in a child process (`RenderWorker`,
render_worker.py: a render in a thread held the GIL the loop needs), or in a worker thread
when the child cannot be had:

- single flight: requests for a body being rendered wait for that render, not a render each;
- at most `RENDERS` renders at once, whatever the clients ask for (a client varying `points`
  or `since` to defeat the cache waits its turn and never holds the loop);
- at most `KEPT` bodies per revision; a revision's bodies go when the next one comes;
- at most `READS_PER_SECOND` reads answered (`turn`): the others wait, parked, so a probe
  arriving meanwhile is answered before them rather than after every one of them.

The render never reads what the loop changes: the loop hands it a copy (of the tier's arrays,
a memcpy; of the events, a tuple of immutable values), taken at the revision it is kept under.
"""

import asyncio
import contextlib
import logging
import os
import pickle
import sys
import time
from collections.abc import Callable, Hashable

from sidecar.history.render_worker import OK

log = logging.getLogger("sidecar.history.renders")

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


class RenderFailed(Exception):
    """The child process could not render: it died, or the job raised there."""


class RenderWorker:
    """One child process (render_worker.py) that renders jobs one at a time, started at the
    first render; started again after it fails."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process and self._process.returncode is None else None

    async def render(self, job: Callable[[], bytes]) -> bytes:
        """`job()` run in the child; RenderFailed when it could not be (the child is stopped).
        The caller runs one job at a time (Renders' slots)."""
        payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            process = await self._started()
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(len(payload).to_bytes(8, "big") + payload)
            await process.stdin.drain()
            header = await process.stdout.readexactly(9)
            answer = await process.stdout.readexactly(int.from_bytes(header[1:], "big"))
        except (OSError, asyncio.IncompleteReadError) as exc:
            await self.aclose()
            raise RenderFailed(f"the render process is gone ({type(exc).__name__})") from exc
        if header[:1] != OK:
            raise RenderFailed(answer.decode(errors="replace"))
        return answer

    async def _started(self) -> asyncio.subprocess.Process:
        if self._process is None or self._process.returncode is not None:
            env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "sidecar.history.render_worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=env,  # no secret reaches it
                start_new_session=True,  # a terminal's Ctrl-C goes to the sidecar, which ends it
            )
        return self._process

    async def aclose(self) -> None:
        """Stop the child (it exits at the end of its input; killed if it does not)."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            async with asyncio.timeout(2):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class Renders:
    """Rendered bodies of one history, per revision and per request's key; rendered by
    `worker` (a child process), or in a thread without one."""

    def __init__(self, worker: RenderWorker | None = None) -> None:
        self.worker = worker
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
        reads); the render it returns (picklable: a partial of a module-level function) runs
        in the worker process, or in a thread. A client that goes away does not cancel a
        render others wait for (each waits on a shield)."""
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
            job = prepare()
            body = None
            if self.worker is not None:
                try:
                    body = await self.worker.render(job)
                except RenderFailed as exc:
                    log.warning("%s; rendering in a thread", exc)
            if body is None:
                body = await asyncio.to_thread(job)
        self.rendered += 1
        return body

    async def aclose(self) -> None:
        """Stop the worker process, if one was started."""
        if self.worker is not None:
            await self.worker.aclose()
