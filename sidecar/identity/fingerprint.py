"""Combining identity readings, comparing them with a pin or a baseline, and the pin's text.

A pin (`SIDECAR_EXPECT_IDENTITY`) is `source=value` pairs joined by commas, e.g.
`volume=shop_db_data,inode=1835011,datadir=20261125T102958Z,sentinel=9f2c...`. Only sources
present in the expectation are compared; a source that is expected and now *gone* (no
sentinel, no lineage row, no tables) counts as a difference, one that merely cannot be read
(not mounted, not granted) makes the check warn.
"""

from dataclasses import dataclass
from typing import Any

from sidecar.identity import schema
from sidecar.identity.reading import Absence, Reading

# Sources that can be pinned, strongest first. `schema` is baseline-only (see schema.py).
PINNABLE = ("sentinel", "lineage", "volume", "inode", "datadir")
SOURCES = (*PINNABLE, "schema")


def pin_text(values: dict[str, Any]) -> str:
    """The `SIDECAR_EXPECT_IDENTITY` value for the pinnable sources among `values`."""
    return ",".join(f"{name}={values[name]}" for name in PINNABLE if name in values)


def parse_pin(text: str) -> dict[str, str]:
    """Parse a pin; raise ValueError naming what is wrong."""
    values: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or not value.strip():
            raise ValueError(f"{part.strip()!r} is not source=value (e.g. volume=shop_db_data)")
        if name not in PINNABLE:
            raise ValueError(f"unknown identity source {name!r} (one of {', '.join(PINNABLE)})")
        values[name] = value.strip()
    return values


@dataclass(frozen=True)
class Difference:
    """One source that does not match what was expected."""

    source: str
    expected: Any
    observed: Any  # None when gone
    against: str  # "pin" or "baseline"

    def describe(self) -> str:
        """One clause for the check's reason."""
        if self.source == "schema":
            return f"{self.observed} ({self.against})"
        if self.observed is None:
            return f"{self.source} {self.expected} is gone ({self.against})"
        return f"{self.source} changed from {self.expected} to {self.observed} ({self.against})"


def describe_all(differences: list[Difference]) -> str:
    """One reason for all differences; a change seen against both pin and baseline is said once."""
    against: dict[tuple[str, str, str], list[str]] = {}
    for d in differences:
        against.setdefault((d.source, str(d.expected), str(d.observed)), []).append(d.against)
    clauses = []
    for d in differences:
        key = (d.source, str(d.expected), str(d.observed))
        if key in against:
            clauses.append(
                Difference(d.source, d.expected, d.observed, ", ".join(against.pop(key))).describe()
            )
    return "; ".join(clauses)


def observed_values(readings: list[Reading]) -> dict[str, Any]:
    """Source -> value for the readings that gave one."""
    return {r.source: r.value for r in readings if r.present}


def compare(
    expected: dict[str, Any], readings: list[Reading], against: str
) -> tuple[list[Difference], list[str]]:
    """Differences from `expected`, and the expected sources that could not be verified."""
    by_source = {r.source: r for r in readings}
    differences: list[Difference] = []
    unverifiable: list[str] = []
    for source, want in expected.items():
        reading = by_source.get(source)
        if reading is None or (not reading.present and reading.absence is not Absence.GONE):
            unverifiable.append(f"{source} ({reading.note if reading else 'not read'})")
            continue
        if source == "schema":
            difference = _compare_schema(want, reading)
            if difference:
                differences.append(Difference(source, want, difference, against))
        elif not reading.present:
            differences.append(Difference(source, want, None, against))
        elif str(reading.value) != str(want):
            differences.append(Difference(source, want, reading.value, against))
    return differences, unverifiable


def _compare_schema(remembered: dict[str, float], reading: Reading) -> str | None:
    if not reading.present:
        return f"none of the {len(remembered)} remembered tables exists"
    observed: dict[str, float] = reading.value
    if schema.survivors(remembered, observed):
        return None
    common = sorted(set(remembered) & set(observed))
    if not common:
        return f"none of the {len(remembered)} remembered tables exists"
    return f"every remembered table was created anew ({', '.join(common[:3])})"
