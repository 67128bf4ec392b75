"""`schema`: when the watched tables, and a few beside them, were created: needs only SELECT.

Weak alone: `CREATE_TIME` changes on every `ALTER TABLE` of that table (even an instant ADD
COLUMN). So it is compared as a set: the database is the same while at least one remembered
table keeps its creation time, and the remembered set rolls forward with each healthy cycle.
A datadir initialised anew and migrated anew has every table created afresh. Never pinned.

Its cost does not grow with the schema: each cycle it looks up the watched tables and at most
`BESIDE` others by exact name (the dialect's `lookup`, engines/*/catalogue.py). Which others
is decided by listing the first tables by name, the only read that lists the schema: every
`LIST_EVERY` seconds, or every cycle while the schema is small enough that the listing found
fewer than it asked for (a database being migrated into gets its new tables at once). With no
watched table the reading is that bounded sample alone, and `show()` says which it is.
"""

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Self

from sidecar.durations import format_duration
from sidecar.engines.base import Database, DatabaseError, ErrorKind, TableEntry
from sidecar.identity.reading import Absence, Reading, absent
from sidecar.identity.sentinel import TABLE as SENTINEL_TABLE
from sidecar.identity.settings import IdentitySettings
from sidecar.identity.source import Source
from sidecar.plural import counted
from sidecar.state import IdentityValue

log = logging.getLogger("sidecar.identity.schema")

# Creation times are whole seconds from the same server: equal or not, no rounding slack.
TOLERANCE = 0.5
# Tables read beside the watched ones: enough that an ALTER of a watched table leaves others
# that kept their creation time, few enough that the read costs the same at 15,000 tables.
BESIDE = 16
# How often the tables beside are chosen anew from a listing of the schema.
LIST_EVERY = 600.0


def survivors(remembered: dict[str, float], observed: dict[str, float]) -> list[str]:
    """Remembered tables that still exist with the same creation time."""
    return sorted(
        name
        for name, created in remembered.items()
        if name in observed and abs(observed[name] - created) <= TOLERANCE
    )


class SchemaSource(Source):
    """`{table: created epoch seconds}` for the watched tables and a bounded set beside them."""

    name = "schema"
    pinnable = False
    rolls_forward = True
    strong = False

    def __init__(
        self, tables: Sequence[str] = (), clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.tables = tuple(t for t in tables if t != SENTINEL_TABLE)
        self.clock = clock  # a seam for tests: when the tables beside were listed
        self._beside: list[str] | None = None
        self._listed_at: float | None = None

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> Self:
        """Read the watched tables (and a few beside them)."""
        return cls(settings.tables)

    async def read(self, db: Database) -> Reading:
        """Creation times of the watched tables and those beside them (the sentinel's aside)."""
        try:
            beside = await self._tables_beside(db)
            entries = await db.dialect.lookup(db, [*self.tables, *beside])
        except DatabaseError as exc:
            return absent(self.name, Absence.ERROR, exc.reason)
        marks = {name: self.mark(entry) for name, entry in entries.items()}
        tables = {
            name: mark
            for name, mark in marks.items()
            if entries[name].base_table and mark is not None and name != SENTINEL_TABLE
        }
        if not tables:
            return absent(self.name, Absence.GONE, "the database has no tables")
        return Reading(self.name, tables)

    def mark(self, entry: TableEntry) -> float | None:
        """What is remembered of a table: its creation time."""
        return entry.created

    async def _tables_beside(self, db: Database) -> list[str]:
        """Up to `BESIDE` unwatched tables, listed anew when due."""
        now = self.clock()
        due = (
            self._listed_at is None
            or now - self._listed_at >= LIST_EVERY
            # A small schema: listing it costs nothing, and new tables join at once.
            or (self._beside is not None and len(self._beside) < BESIDE)
        )
        if not due:
            return self._beside or []
        try:
            # One more than needed for each name the listing may return that is not beside.
            listed = await db.dialect.list_tables(db, BESIDE + len(self.tables) + 1)
        except DatabaseError as exc:
            # Only a listing too slow for the budget is worked around: the watched tables are
            # still read, and the listing is tried again at the cadence, not every cycle. Any
            # other error (no connection) would stop the lookup too: the reading says why.
            if exc.kind is not ErrorKind.TIMEOUT or (self._beside is None and not self.tables):
                raise
            log.warning("cannot list the tables beside the watched ones: %s", exc.reason)
            self._listed_at = now
            return self._beside or []
        watched = set(self.tables)
        self._beside = [n for n in listed if n not in watched and n != SENTINEL_TABLE][:BESIDE]
        self._listed_at = now
        return self._beside

    def difference(self, expected: IdentityValue, reading: Reading) -> str | None:
        """None while one remembered table kept its creation time."""
        remembered = expected if isinstance(expected, dict) else {}
        observed = reading.value if isinstance(reading.value, dict) else {}
        if not reading.present or not set(remembered) & set(observed):
            return f"none of the {counted(len(remembered), 'remembered table')} exists"
        if survivors(remembered, observed):
            return None
        common = sorted(set(remembered) & set(observed))
        return f"every remembered table was created anew ({', '.join(common[:3])})"

    def show(self, value: IdentityValue) -> str:
        """How many tables, a digest of their names and creation times, and which tables."""
        tables = value if isinstance(value, dict) else {}
        text = ",".join(f"{name}={created:.0f}" for name, created in sorted(tables.items()))
        # Not pluralised: the history compares this text across versions (an identity event).
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        return f"{len(tables)} tables, digest {digest}, {self.scope()}"

    def scope(self) -> str:
        """Which tables the reading holds: the watched ones, or a bounded sample."""
        if self.tables:
            return f"the watched and up to {BESIDE} beside"
        return f"a sample: the first {BESIDE} by name, listed every {format_duration(LIST_EVERY)}"

    def born(self, value: IdentityValue) -> tuple[float, str] | None:
        """The oldest table's creation."""
        if not isinstance(value, dict) or not value:
            return None
        return min(value.values()), "every table created"
