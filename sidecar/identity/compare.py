"""Reading every source, and holding the readings against a pin or a remembered baseline.

Only sources present in the expectation are compared. A source that is expected and now
*gone* (no sentinel, no lineage row, no tables) is a difference; one that merely cannot be
read (not mounted, not granted, an error) is unverifiable, which makes the check warn.
"""

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sidecar.engines.base import Database
from sidecar.identity.reading import Absence, Reading
from sidecar.identity.source import Source
from sidecar.state import IdentityValue


async def read_all(sources: Sequence[Source], db: Database) -> tuple[Reading, ...]:
    """Readings of every source, concurrently."""
    return tuple(await asyncio.gather(*(source.read(db) for source in sources)))


def observed_values(readings: Sequence[Reading]) -> dict[str, IdentityValue]:
    """Source -> value for the readings that gave one."""
    return {r.source: r.value for r in readings if r.value is not None and r.present}


@dataclass(frozen=True)
class Difference:
    """One source that does not match what was expected."""

    source: str
    clause: str  # what the source says, e.g. "volume changed from a to b"
    against: str  # "pin" or "baseline"


def compare(
    sources: Sequence[Source],
    expected: Mapping[str, IdentityValue],
    readings: Sequence[Reading],
    against: str,
) -> tuple[list[Difference], list[str]]:
    """Differences from `expected`, and the expected sources that could not be verified."""
    by_name = {source.name: source for source in sources}
    by_source = {r.source: r for r in readings}
    differences: list[Difference] = []
    unverifiable: list[str] = []
    for name, want in expected.items():
        reading = by_source.get(name)
        source = by_name.get(name)
        if source is None or reading is None:
            unverifiable.append(f"{name} (not read)")
            continue
        if not reading.present and reading.absence is not Absence.GONE:
            unverifiable.append(f"{name} ({reading.note})")
            continue
        clause = source.difference(want, reading)
        if clause is not None:
            differences.append(Difference(name, clause, against))
    return differences, unverifiable


def describe_all(differences: Sequence[Difference]) -> str:
    """One reason for all differences; a change seen against both pin and baseline is said once."""
    against: dict[tuple[str, str], list[str]] = {}
    for d in differences:
        against.setdefault((d.source, d.clause), []).append(d.against)
    return "; ".join(f"{clause} ({', '.join(seen)})" for (_, clause), seen in against.items())
