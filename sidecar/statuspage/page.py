"""The status page for people: `GET /status`, and `GET /` for a browser (`Accept: text/html`).

Rendered with Jinja2 (Starlette's `Jinja2Templates`) from the latest report and the history in
memory; nothing here touches the database. A rendered page is kept until the report, the
history or the viewer's access changes, so a page open in many browsers costs one render per
cycle. The style and the refresh script are inline and allowed by their hashes in the
Content-Security-Policy: nothing is fetched from anywhere, the page works on an air-gapped host.

The details token is presented once in a form (POST, never in a URL or a log line) and traded
for the gate's cookie. Form posts from another site are refused (`Origin`, `Sec-Fetch-Site`),
and the cookie is SameSite=Strict, so another site can neither log a browser in or out nor
ride on its cookie.
"""

import base64
import hashlib
import time
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from sidecar.access import COOKIE, DetailsGate
from sidecar.history import History
from sidecar.results import Report, Status
from sidecar.scheduler import Scheduler
from sidecar.statuspage import charts, view

PATH = "/status"
MEDIA_TYPE = "text/html; charset=utf-8"
# Without JavaScript the page reloads itself this often at most.
NOSCRIPT_REFRESH = 30
# The tab's icon, a dot in the verdict's colour (inline: nothing is fetched, not even that).
_ICON = {"pass": "%231f7a3a", "warn": "%23e0a100", "fail": "%23b3261e"}


def wants_html(request: Request) -> bool:
    """Whether the caller is a browser asking for a page (probes and monitors never are)."""
    return "text/html" in request.headers.get("accept", "")


def _asset(name: str) -> str:
    return (resources.files("sidecar.statuspage") / "templates" / name).read_text()


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


class StatusPage:
    """Renders the page and caches it per report, history revision and access."""

    def __init__(
        self, scheduler: Scheduler, history: History, gate: DetailsGate, refresh: float
    ) -> None:
        self.scheduler = scheduler
        self.history = history
        self.gate = gate
        self.refresh = max(2, min(30, round(refresh)))
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("sidecar.statuspage", "templates"),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates = Jinja2Templates(env=env)
        self.template = self.templates.get_template("status.html")
        self.css, self.js = _asset("status.css"), _asset("refresh.js")
        self.headers = {
            "Cache-Control": "no-store",
            "Content-Security-Policy": (
                f"default-src 'none'; style-src {_hash(self.css)}; script-src {_hash(self.js)}; "
                "connect-src 'self'; img-src data:; form-action 'self'; base-uri 'none'; "
                "frame-ancestors 'none'"
            ),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        self._key: tuple[Any, ...] | None = None
        self._pages: dict[tuple[bool, bool, str], bytes] = {}

    def render(
        self, report: Report, details: bool, login_failed: bool = False, path: str = PATH
    ) -> bytes:
        """The page for `report` (cached until the report or the history changes)."""
        key = (report.started, report.finished, report.status, report.output, self.history.revision)
        if key != self._key:
            self._key, self._pages = key, {}
        variant = (details, login_failed, path)
        page = self._pages.get(variant)
        if page is None:
            page = self._pages[variant] = self.build(report, details, login_failed, path)
        return page

    def build(
        self, report: Report, details: bool, login_failed: bool = False, path: str = PATH
    ) -> bytes:
        """Render the page once, without the cache (what a cache miss costs)."""
        now = max(report.finished, time.time()) if report.checks else time.time()
        context = {
            "page": view.build(report, self.history, details, now),
            "gated": not self.gate.open,
            "login_failed": login_failed,
            "refresh": self.refresh,
            "noscript_refresh": max(NOSCRIPT_REFRESH, self.refresh),
            "path": path,
            "icon_colour": _ICON[str(report.status)],
            "base": "/",
            "css": Markup(self.css),  # noqa: S704 - our own file, hashed into the CSP
            "js": Markup(self.js),  # noqa: S704 - our own file, hashed into the CSP
            "width": charts.WIDTH,
            "height": charts.HEIGHT,
        }
        return self.template.render(context).encode()

    def response(self, request: Request) -> Response:
        """The page as an HTTP response, with the verdict's status code (as /readyz)."""
        report = self.scheduler.current()
        failed = request.query_params.get("login") == "failed"
        path = "/" if request.url.path == "/" else PATH
        body = self.render(report, self.gate.allows(request), failed and not self.gate.open, path)
        code = 503 if report.status is Status.FAIL else 200
        return Response(body, code, media_type=MEDIA_TYPE, headers=self.headers)


def _same_origin(request: Request) -> bool:
    """Whether a form post comes from this page (browsers say where a post comes from)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site post: those always carry an Origin
    # Only the host: behind a proxy that ends TLS the scheme seen here differs.
    return urlsplit(origin).netloc == request.headers.get("host")


class BadForm(Exception):
    """A form this page never sends: the status code and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded fields of a small form; BadForm when it is none of ours."""
    # Small by then: the app's BodyLimits (request_bodies.py) caps every body, and times it.
    body = await request.body()
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), True, max_num_fields=8)
    except ValueError:
        raise BadForm(400, "too many fields (a token and a page, no more)") from None
    unknown = sorted(set(fields) - {"token", "back"})
    if unknown:
        raise BadForm(400, f"unknown field {unknown[0]!r} (the form has token and back)")
    return {name: values[0] for name, values in fields.items()}


def _back(fields: dict[str, str]) -> str | None:
    """Where to go after the form: the page it came from (`/` or `/status`); None if neither."""
    back = fields.get("back", PATH)
    return back if back in ("/", PATH) else None


def _refused(message: str, status: int) -> Response:
    return Response(f"{message}\n".encode(), status, media_type="text/plain")


def routes(page: StatusPage, readyz: Callable[[Request], Any]) -> list[Route]:
    """`/status`, its login and logout, and `/` for browsers (everyone else gets `readyz`)."""
    gate = page.gate

    async def status(request: Request) -> Response:
        return page.response(request)

    async def root(request: Request) -> Response:
        if request.method != "OPTIONS" and wants_html(request):
            return page.response(request)
        response: Response = await readyz(request)
        response.headers["Vary"] = "Accept"
        return response

    async def form(request: Request) -> tuple[dict[str, str], str] | Response:
        """The form's fields and where to go back to, or the refusal."""
        if not _same_origin(request):
            return _refused("form posts from another site are refused", 403)
        try:
            fields = await _form(request)
        except BadForm as exc:
            return _refused(str(exc), exc.status)
        back = _back(fields)
        if back is None:
            return _refused("back: must be / or /status", 400)
        return fields, back

    async def login(request: Request) -> Response:
        posted = await form(request)
        if isinstance(posted, Response):
            return posted
        fields, back = posted
        if gate.open:
            return RedirectResponse(back, 303)
        if not gate.matches(fields.get("token", "")):
            return RedirectResponse(f"{back}?login=failed", 303)
        response = RedirectResponse(back, 303)
        response.set_cookie(
            COOKIE,
            gate.cookie_value,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(request: Request) -> Response:
        posted = await form(request)
        if isinstance(posted, Response):
            return posted
        response = RedirectResponse(posted[1], 303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    methods = ["GET", "HEAD"]
    return [
        Route(PATH, status, methods=methods),
        Route(f"{PATH}/login", login, methods=["POST"]),
        Route(f"{PATH}/logout", logout, methods=["POST"]),
        # HAProxy's bare `option httpchk` sends `OPTIONS /`: answer it with the verdict.
        Route("/", root, methods=[*methods, "OPTIONS"]),
    ]
