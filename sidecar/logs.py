"""Logging set-up: one line per event, and secrets scrubbed from every record."""

import logging
import sys


class RedactingFilter(logging.Filter):
    """Replaces every known secret in a record's rendered message with `***`."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "***")
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks are rendered later by the formatter: render and scrub them now.
            text = logging.Formatter().formatException(record.exc_info)
            for secret in self.secrets:
                text = text.replace(secret, "***")
            redacted += "\n" + text
            record.exc_info = None
            record.exc_text = None
        if redacted != message or "\n" in redacted:
            record.msg, record.args = redacted, None
        return True


def configure(level: str, secrets: list[str]) -> None:
    """Log to stderr at `level`, scrubbing `secrets`, for the sidecar and uvicorn alike."""
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
