"""Telling people: a webhook on verdict changes, a push (dead-man switch) on every cycle.

`SIDECAR_WEBHOOK_URL` gets a JSON POST with a `text` field (what Slack and Mattermost incoming
webhooks display) each time the verdict changes, and only then: no storm while it holds.
`SIDECAR_PUSH_URL` is called after every cycle with `status=up` while pass or warn and
`status=down&msg=<reason>` otherwise (Uptime Kuma push monitors); if the sidecar dies the
pushes stop, which the receiving side notices. Delivery runs in its own task with timeouts
and bounded retries, so a slow receiver never delays the evaluation loop. Each attempt is
bounded as a whole, not per read (a receiver trickling its answer a byte at a time gives up at
`TIMEOUT`), and only the status line and headers are read: a receiver's body is never
wanted, and one that never ends would otherwise be read into memory.
"""

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from sidecar.results import Report, Status

log = logging.getLogger("sidecar.alerts")

TIMEOUT = 5.0  # seconds for one attempt, from connecting to the answer's headers
ATTEMPTS = 3
BACKOFF = 1.0  # seconds before the second attempt, doubled after
_QUEUE_LIMIT = 100


def with_query(url: str, params: dict[str, str]) -> str:
    """`url` with `params` set in its query string (replacing any pasted in with the URL)."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query = urlencode([*kept, *params.items()])
    return urlunsplit(parts._replace(query=query))


def webhook_payload(report: Report, previous: Status | None) -> dict[str, Any]:
    """The JSON sent on a verdict change."""
    reasons = report.reasons()
    was = f" (was {previous})" if previous else ""
    text = f"sidecar: database verdict is {str(report.status).upper()}{was}"
    if reasons:
        text += ": " + "; ".join(reasons)
    return {
        "text": text,
        "status": str(report.status),
        "previous": str(previous) if previous else None,
        "reasons": reasons,
        "checks": {c.key: str(c.status) for c in report.checks},
    }


class Notifier:
    """Queues notifications from the loop and delivers them from a task of its own."""

    def __init__(
        self,
        webhook_url: str | None,
        push_url: str | None,
        backoff: float = BACKOFF,
        timeout: float = TIMEOUT,
    ) -> None:
        self.webhook_url = webhook_url
        self.push_url = push_url
        self.backoff = backoff
        self.timeout = timeout
        self._previous: Status | None = None
        self._queue: asyncio.Queue[tuple[str, str, dict[str, Any] | None]] = asyncio.Queue(
            _QUEUE_LIMIT
        )
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self.delivered = 0
        self.failed = 0

    @property
    def enabled(self) -> bool:
        """Whether there is anywhere to send to."""
        return bool(self.webhook_url or self.push_url)

    async def start(self) -> None:
        """Start the delivery task (a no-op when nothing is configured)."""
        if self.enabled:
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
            self._task = asyncio.create_task(self._deliver(), name="sidecar-notifier")

    async def on_report(self, report: Report) -> None:
        """Called after every cycle; never waits for the network."""
        if not self.enabled:
            return
        changed = report.status is not self._previous
        first_and_healthy = self._previous is None and report.status is Status.PASS
        if self.webhook_url and changed and not first_and_healthy:
            self._enqueue(("POST", self.webhook_url, webhook_payload(report, self._previous)))
        self._previous = report.status
        if self.push_url:
            if report.status is not Status.FAIL:
                # warn still serves (readyz is 200): the push monitor stays up, and says warn.
                params = {"status": "up", "msg": str(report.status)}
            else:
                params = {
                    "status": "down",
                    "msg": "; ".join(report.reasons())[:200] or str(report.status),
                }
            self._enqueue(("GET", with_query(self.push_url, params), None))

    def _enqueue(self, item: tuple[str, str, dict[str, Any] | None]) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            log.warning("notification queue full: dropping a notification")

    async def _deliver(self) -> None:
        while True:
            method, url, payload = await self._queue.get()
            try:
                problem = await self._send(method, url, payload)
                if problem is None:
                    self.delivered += 1
                else:
                    self.failed += 1
                    log.warning("%s notification not delivered: %s", method, problem)
            finally:
                self._queue.task_done()

    async def _send(self, method: str, url: str, payload: dict[str, Any] | None) -> str | None:
        """Deliver with bounded retries; None on success, else what went wrong last."""
        assert self._client is not None
        delay = self.backoff
        problem = ""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with asyncio.timeout(self.timeout):
                    async with self._client.stream(method, url, json=payload) as response:
                        code = response.status_code
            except TimeoutError:
                problem = f"no answer within {self.timeout:g}s after {attempt} attempt(s)"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__} after {attempt} attempt(s)"
            else:
                if code < 400:
                    return None
                problem = f"HTTP {code} after {attempt} attempt(s)"
                if code < 500:
                    return problem  # a 4xx will not get better by asking again
            if attempt < ATTEMPTS:
                await asyncio.sleep(delay)
                delay *= 2
        return problem

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until queued notifications are delivered (or given up); for shutdown and tests."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._queue.join()

    async def stop(self) -> None:
        """Deliver what is queued (briefly), then stop."""
        await self.drain(timeout=self.timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()
