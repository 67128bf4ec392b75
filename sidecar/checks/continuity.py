"""Did a watched table's data carry over since the last healthy cycle?

A table's generation tells whether it was created anew: its OID on PostgreSQL (kept by every
rewrite: VACUUM FULL, ALTER TYPE, CLUSTER), its `CREATE_TIME` on MariaDB. That `CREATE_TIME`
follows its definition file's ctime: it changes on `ALTER TABLE` (even an instant ADD
COLUMN), `OPTIMIZE`, a rebuild, a restore, and a no-op `chown -R` of the datadir (container
entrypoints do that on every start). Alone it cannot tell a migration from a new database.
Together with the rows it can: a migration or maintenance carries the rows over; a restored
older backup or a new database does not. The row count, the newest record
and the identity judges all ask this one question here.
"""

import math
from dataclasses import dataclass
from typing import Literal

from sidecar.state import TableMemory

# Rows may be deleted in the seconds a migration takes: that many are still "carried over".
_SLACK = 0.01
# InnoDB's estimate of a table that was just rebuilt may be off by this much.
_SLACK_ESTIMATE = 0.10
# Creation times are whole seconds from the same server: equal or not.
_SAME_SECOND = 0.5


CountKind = Literal["exact", "estimate"]


@dataclass(frozen=True)
class RowCount:
    """How many rows a table holds, what kind of number that is, and when it was created."""

    table: str
    count: int
    kind: CountKind
    at_least: int | None = None  # a probe bounded by the line found at least this many
    # The latest background full count (count, when), on the large-table path only.
    last_exact: tuple[int, float] | None = None
    created: float | None = None  # CREATE_TIME, epoch seconds (MariaDB only)
    # What changes when the table is created anew (engines/base.py TableEntry.generation).
    generation: str | None = None
    missing: bool = False  # the table does not exist (count is then 0)
    estimator: str = "InnoDB estimate"  # what the server's estimate is called (the dialect's)
    similar: tuple[str, ...] = ()  # a missing table's names differing only in case


@dataclass(frozen=True)
class Continuity:
    """What a table's row count says about its data since the last healthy cycle."""

    table: str
    recreated: bool  # its creation time changed (or the table is gone)
    kept: bool | None  # the rows carried over; None when nothing is remembered to compare
    count: int
    was: int | None  # the count remembered from the last healthy cycle

    @property
    def lost(self) -> bool:
        """Created anew (or gone) with rows missing: a restore or a new database."""
        return self.recreated and self.kept is False


def _recreated(seen: RowCount, remembered: TableMemory) -> bool:
    """Whether the table is not the one remembered: its generation (or, in memory written
    before generations were kept, its creation time) changed."""
    if seen.generation is not None and remembered.generation is not None:
        return seen.generation != remembered.generation
    return (
        remembered.created is not None
        and seen.created is not None
        and abs(seen.created - remembered.created) > _SAME_SECOND
    )


def continuity(seen: RowCount, remembered: TableMemory | None) -> Continuity:
    """Compare this cycle's count and creation time with what was remembered."""
    was = None
    if remembered is not None:
        was = remembered.count if remembered.count is not None else remembered.high_water
    recreated = seen.missing or bool(remembered is not None and _recreated(seen, remembered))
    kept = None
    if was:
        slack = _SLACK_ESTIMATE if seen.kind == "estimate" else _SLACK
        kept = not seen.missing and seen.count >= was - max(1, math.ceil(was * slack))
    return Continuity(seen.table, recreated, kept, seen.count, was)
