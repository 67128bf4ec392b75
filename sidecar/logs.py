"""Logging set-up: one line per event, and secrets scrubbed from every record.

Secrets are redacted by their structure, not only verbatim. A push monitor's or webhook's URL
is its key, and it is logged as it was sent (httpx: `HTTP Request: GET <url>`), with the query
the sidecar rewrote for that cycle: so every URL to the same scheme, host and port loses all
that follows them (`http://host:port/***`). Literal secrets (a password, a token, such a URL's
path, query and user:password) are replaced too, as written and as URL encoding writes them.
"""

import logging
import re
import sys
from dataclasses import dataclass
from urllib.parse import SplitResult, quote, quote_plus, unquote, urlsplit

MASK = "***"
# Anything that looks like an absolute URL, up to whitespace, a quote or an angle bracket.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int | None]


@dataclass(frozen=True)
class Secrets:
    """What never reaches a log: secret values, and URLs secret in all but scheme and host."""

    values: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()


def _split(url: str) -> tuple[SplitResult, Origin] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # not a URL after all (a bad port, a bad IPv6 literal)
        return None
    scheme = parts.scheme.lower()
    return parts, (scheme, parts.hostname or "", port or _DEFAULT_PORTS.get(scheme))


def _forms(secret: str) -> set[str]:
    """`secret` as written and as URL encoding writes it (in a path, a query, a form)."""
    return {secret, quote(secret), quote(secret, safe=""), quote_plus(secret)}


class Redactor:
    """Replaces every form of the given secrets in a text with `***`."""

    def __init__(self, secrets: Secrets) -> None:
        literals: set[str] = set()
        for value in secrets.values:
            literals |= _forms(value)
        self.origins: set[Origin] = set()
        for url in secrets.urls:
            split = _split(url)
            if split is None:
                literals |= _forms(url)
                continue
            parts, origin = split
            self.origins.add(origin)
            userinfo = parts.netloc.rpartition("@")[0]
            path = parts.path if parts.path not in ("", "/") else ""
            for part in (userinfo, parts.password or "", path, parts.query, parts.fragment):
                if part:  # as configured (percent-encoded or not) and decoded
                    literals |= _forms(part) | _forms(unquote(part))
        # Longest first: a secret that contains another is replaced whole.
        self.literals = sorted((s for s in literals if s), key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.literals or self.origins)

    def redact(self, text: str) -> str:
        """`text` with every secret URL cut to its origin and every secret value masked."""
        if self.origins:
            text = _URL.sub(self._cut, text)
        for secret in self.literals:
            text = text.replace(secret, MASK)
        return text

    def _cut(self, match: re.Match[str]) -> str:
        url = match.group(0)
        split = _split(url)
        if split is None or split[1] not in self.origins:
            return url
        parts = split[0]
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/{MASK}"


class RedactingFilter(logging.Filter):
    """Redacts every known secret from a record's rendered message and traceback."""

    def __init__(self, secrets: Secrets) -> None:
        super().__init__()
        self.redactor = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.redactor:
            return True
        message = record.getMessage()
        redacted = self.redactor.redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks are rendered later by the formatter: render and scrub them now.
            text = logging.Formatter().formatException(record.exc_info)
            redacted += "\n" + self.redactor.redact(text)
            record.exc_info = None
            record.exc_text = None
        if redacted != message or "\n" in redacted:
            record.msg, record.args = redacted, None
        return True


def configure(level: str, secrets: Secrets) -> None:
    """Log to stderr at `level`, redacting `secrets`, for the sidecar and uvicorn alike."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
