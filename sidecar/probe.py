"""`sidecar probe`: a container HEALTHCHECK in the standard library only, so it starts fast."""

import os
import sys
import urllib.error
import urllib.request


def default_url() -> str:
    """`/readyz` on this host at `SIDECAR_PORT` (8080 by default)."""
    return f"http://127.0.0.1:{os.environ.get('SIDECAR_PORT', '8080')}/readyz"


def probe(url: str, timeout: float = 3.0) -> int:
    """0 when `url` answers 2xx within `timeout`, else 1 (with one line on stderr)."""
    if not url.startswith(("http://", "https://")):
        print(f"probe: {url!r} is not an http(s) URL", file=sys.stderr)
        return 1
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"probe: {url}: {reason}", file=sys.stderr)
        return 1
    if 200 <= status < 300:
        return 0
    print(f"probe: {url}: HTTP {status}", file=sys.stderr)
    return 1
