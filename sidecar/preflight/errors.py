"""The one error preflight reports instead of a verdict: it could not evaluate (exit 3)."""


class PreflightError(Exception):
    """A compose file, an engine or an argument that preflight cannot use; one line, exit 3."""
