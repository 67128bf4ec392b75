"""The contract every identity source keeps.

A source says its name, whether it can be pinned, how to read it, how a reading differs from
what was expected, and whether a value says the storage is new. The check and the commands
ask the registry (registry.py) for the sources; none of them knows a source by name.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar, Self

from sidecar.engines.base import Database
from sidecar.identity.reading import Reading
from sidecar.identity.settings import IdentitySettings
from sidecar.state import IdentityValue


class Source(ABC):
    """One place the identity of the storage under the database can be read from."""

    name: ClassVar[str]
    # Whether `SIDECAR_EXPECT_IDENTITY` may name it (and `sidecar adopt` prints it).
    pinnable: ClassVar[bool] = True
    # Whether the remembered value follows the reading on every healthy cycle (for sources
    # that legitimately drift, like table creation times), instead of staying as first seen.
    rolls_forward: ClassVar[bool] = False
    # Strong sources change only when the storage is replaced. Metadata sources (file times)
    # also change with maintenance (ALTER, OPTIMIZE, a chown of the datadir): on their own they
    # fail only when the rows did not carry over, and otherwise roll forward or warn.
    strong: ClassVar[bool] = True

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> Self:
        """The source as configured; most sources need no settings."""
        return cls()

    def configured(self) -> bool:
        """Whether the operator's settings ask for this source (a path, a query): one that then
        cannot be read is said, even with nothing to compare it with yet."""
        return False

    @abstractmethod
    async def read(self, db: Database) -> Reading:
        """Read the current value; never raise for database trouble (say why in the reading)."""

    def difference(self, expected: IdentityValue, reading: Reading) -> str | None:
        """How a present (or `GONE`) reading differs from `expected`, or None when it matches."""
        if not reading.present:
            return f"{self.name} {expected} is gone"
        if str(reading.value) != str(expected):
            return f"{self.name} changed from {expected} to {reading.value}"
        return None

    def contradicts(self, readings: Mapping[str, Reading]) -> str | None:
        """How this cycle's readings of this source and another disagree (two views of the same
        storage that must agree), or None. Strong: a contradiction fails."""
        return None

    def born(self, value: IdentityValue) -> tuple[float, str] | None:
        """When the storage this value describes came to be (epoch seconds, what), if known."""
        return None

    def show(self, value: IdentityValue) -> str:
        """The value as pinned and displayed."""
        return str(value)
