"""Who sees details: with `SIDECAR_DETAILS_TOKEN` set, only callers that present it.

The token arrives as `Authorization: Bearer <token>` (RFC 7235: the scheme is
case-insensitive) and is compared in constant time. A browser presents it once, in the status
page's form, and keeps a cookie instead: an HMAC derived from the token (never the token
itself; it changes when the token does), HttpOnly and SameSite=Strict. Anonymous callers still
get the verdict (`/readyz`, `{"status": ...}` on `/health`): probes and balancers need no secret.
"""

import hashlib
import hmac

from pydantic import SecretStr
from starlette.requests import HTTPConnection
from starlette.responses import Response

COOKIE = "sidecar_details"
_COOKIE_PURPOSE = b"sidecar status page details cookie, v1"


class DetailsGate:
    """Decides whether a request may see details."""

    def __init__(self, token: SecretStr | None) -> None:
        self._token = token.get_secret_value().encode() if token else None
        self._cookie = (
            hmac.new(self._token, _COOKIE_PURPOSE, hashlib.sha256).hexdigest().encode()
            if self._token
            else None
        )

    @property
    def open(self) -> bool:
        """Whether everyone sees details (no token configured)."""
        return self._token is None

    def matches(self, presented: str) -> bool:
        """Whether `presented` is the token (in constant time)."""
        return self._token is not None and hmac.compare_digest(presented.encode(), self._token)

    @property
    def cookie_value(self) -> str:
        """What the details cookie holds: derived from the token, never the token."""
        assert self._cookie is not None
        return self._cookie.decode()

    def allows(self, request: HTTPConnection) -> bool:
        """Whether `request` presents the token or the cookie (always, when none is configured)."""
        if self._token is None:
            return True
        assert self._cookie is not None
        cookie = request.cookies.get(COOKIE)
        if cookie is not None and hmac.compare_digest(cookie.encode(), self._cookie):
            return True
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return self.matches(credentials.strip())


def unauthorized() -> Response:
    """The answer to a request for details without the token."""
    return Response(
        b"details need the token: Authorization: Bearer <SIDECAR_DETAILS_TOKEN>\n",
        401,
        media_type="text/plain",
        headers={"WWW-Authenticate": 'Bearer realm="sidecar"'},
    )
