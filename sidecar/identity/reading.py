"""What an identity source yields: a value, or why there is none."""

from dataclasses import dataclass
from enum import StrEnum

from sidecar.state import IdentityValue


class Absence(StrEnum):
    """Why a source gave no value; only `GONE` counts against the database."""

    NOT_CONFIGURED = "not configured"
    NOT_GRANTED = "not granted"
    GONE = "gone"  # e.g. the sentinel table is missing: a fresh datadir lacks it
    ERROR = "error"


@dataclass(frozen=True)
class Reading:
    """One source's value, or why there is none."""

    source: str
    value: IdentityValue | None = None
    absence: Absence | None = None
    note: str = ""  # why absent, safe to show

    @property
    def present(self) -> bool:
        """Whether the source gave a value."""
        return self.absence is None


def absent(source: str, absence: Absence, note: str) -> Reading:
    """A reading without a value."""
    return Reading(source, None, absence, note)
