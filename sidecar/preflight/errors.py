"""The one error preflight reports instead of a verdict: it could not evaluate (exit 3)."""


class PreflightError(Exception):
    """A compose file, an engine or an argument that preflight cannot use; one line, exit 3."""


def excerpt(text: str, limit: int = 80) -> str:
    """`text` quoted for an error line, cut short so a hostile value keeps the line short."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
