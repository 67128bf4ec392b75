"""The HTTP face: `/livez`, `/readyz`, `/health`, `/metrics`, `/events`, `/history` and the status
page (GET and HEAD), served from memory.

No handler touches the database; each reads the scheduler's current report. Bodies are rendered
once per report and reused, so a thousand probes a second cost what one costs.
"""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sidecar import health
from sidecar.access import DetailsGate, unauthorized
from sidecar.config import ResolvedConfig
from sidecar.history import endpoints as history_endpoints
from sidecar.metrics import build_registry
from sidecar.request_bodies import BodyLimits
from sidecar.results import Report, Status
from sidecar.service import Service
from sidecar.statuspage import page as statuspage

_METHODS = ["GET", "HEAD"]


class _BodyCache:
    """The last rendered /health bodies, keyed by the report they came from."""

    def __init__(self) -> None:
        self._report: Report | None = None
        self._bodies: dict[bool, bytes] = {}

    def body(self, report: Report, details: bool) -> bytes:
        if report is not self._report:
            self._report, self._bodies = report, {}
        cached = self._bodies.get(details)
        if cached is None:
            cached = self._bodies[details] = health.render(report, details)
        return cached


def create_app(config: ResolvedConfig, service: Service | None = None) -> Starlette:
    """The Starlette app; its lifespan runs the service (evaluation loop and notifier)."""
    service = service or Service(config)
    scheduler = service.scheduler
    gate = DetailsGate(config.details_token)
    registry = build_registry(scheduler, service.notifier)
    cache = _BodyCache()

    def status_code(report: Report) -> int:
        return 503 if report.status is Status.FAIL else 200

    async def livez(request: Request) -> Response:
        alive = scheduler.loop_alive
        return Response(
            b"ok\n" if alive else b"loop stopped\n", 200 if alive else 503, media_type="text/plain"
        )

    async def readyz(request: Request) -> Response:
        report = scheduler.current()
        return Response(f"{report.status}\n".encode(), status_code(report), media_type="text/plain")

    async def health_endpoint(request: Request) -> Response:
        report = scheduler.current()
        return Response(
            cache.body(report, gate.allows(request)),
            status_code(report),
            media_type=health.MEDIA_TYPE,
            headers={"Cache-Control": "no-store"},
        )

    async def metrics(request: Request) -> Response:
        # Row counts and marks are details: the same token as /health's (Prometheus sends it
        # with `authorization: {credentials_file: ...}` in its scrape config).
        if not gate.allows(request):
            return unauthorized()
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with service:
            await service.start()
            yield {}

    routes = [
        Route("/livez", livez, methods=_METHODS),
        Route("/readyz", readyz, methods=_METHODS),
        Route("/health", health_endpoint, methods=_METHODS),
        Route("/metrics", metrics, methods=_METHODS),
        *history_endpoints.routes(service.history, gate),
        # `/` is the verdict as on /readyz (also for HAProxy's `OPTIONS /`), or for a browser
        # the status page, which is also at /status.
        *statuspage.routes(
            statuspage.StatusPage(scheduler, service.history, gate, config.settings.interval),
            readyz,
        ),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(BodyLimits)])
