"""Who sees details: with `SIDECAR_DETAILS_TOKEN` set, only callers that present it.

The token arrives as `Authorization: Bearer <token>` (RFC 7235: the scheme is
case-insensitive) and is compared in constant time. Anonymous callers still get the verdict
(`/readyz`, `{"status": ...}` on `/health`): probes and balancers need no secret.
"""

import hmac

from pydantic import SecretStr
from starlette.requests import HTTPConnection


class DetailsGate:
    """Decides whether a request may see details."""

    def __init__(self, token: SecretStr | None) -> None:
        self._token = token.get_secret_value().encode() if token else None

    @property
    def open(self) -> bool:
        """Whether everyone sees details (no token configured)."""
        return self._token is None

    def allows(self, request: HTTPConnection) -> bool:
        """Whether `request` presents the token (always, when none is configured)."""
        if self._token is None:
            return True
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode(), self._token)
