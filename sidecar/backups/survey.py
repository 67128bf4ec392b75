"""One look at the backup directory, and the counting it asks for: what the backup check runs.

    listing = list_backups(directory, patterns)                 # cheap: scandir and stat
    backups = known_backups(listing, previous, ledger, tables, database, now)
    judgement = judge(backups, high_water, max_drop, now, max_age)   # pure
    ledger = await count_files(judgement.to_count, tables, database, ledger)  # slow: off-cycle

The first three are cheap enough for every cycle; `count_files` reads whole dumps (in child
processes) and belongs in a background task whose result the next cycle picks up from the
ledger, so that a cycle never waits for a dump to be read.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import overload

from sidecar.backups.catalog import BackupFile, Listing, list_backups, still_being_written
from sidecar.backups.dump import DumpCount
from sidecar.backups.judge import Backup, BackupVerdicts, judge
from sidecar.backups.ledger import Ledger
from sidecar.backups.runner import DEFAULT_BUDGET, Budget, count_in_child, count_now

# A dump whose size and mtime held still this long is done: mariadb-dump writes steadily,
# but may wait on a table lock for a while before its first row.
SETTLE = 120.0


class NewestFirst(Sequence[Backup]):
    """A look's settled dumps, newest first, each made a Backup (its ledger count looked up)
    only when the judgement reaches it: the verdict reads the head (judge_newest_first), so a
    year of old dumps costs nothing a cycle."""

    def __init__(
        self,
        files: tuple[BackupFile, ...],
        writing: frozenset[str],
        count: Callable[[BackupFile], DumpCount | None],
    ) -> None:
        head = 0  # what is being written is the newest, as a rule: the head of the listing
        while writing and head < len(files) and head < len(writing) and files[head].name in writing:
            head += 1
        self.files = files[head:] if head == len(writing) else _settled(files, writing)
        newest = None if not writing else files[0] if head else _first(files, writing)
        self.writing = Backup(newest, True) if newest is not None else None
        self._count = count
        self._made: dict[int, Backup] = {}

    def __len__(self) -> int:
        return len(self.files)

    @overload
    def __getitem__(self, index: int) -> Backup: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Backup]: ...
    def __getitem__(self, index: int | slice) -> Backup | Sequence[Backup]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self.files)
        if index not in self._made:
            file = self.files[index]  # IndexError past the end ends an iteration
            self._made[index] = Backup(file, False, self._count(file))
        return self._made[index]

    @property
    def read(self) -> int:
        """How many dumps were made Backups: what the judgement cost."""
        return len(self._made)


def _first(files: tuple[BackupFile, ...], writing: frozenset[str]) -> BackupFile | None:
    return next((f for f in files if f.name in writing), None)


def _settled(files: tuple[BackupFile, ...], writing: frozenset[str]) -> tuple[BackupFile, ...]:
    return tuple(f for f in files if f.name not in writing)


def known_backups(
    listing: Listing,
    previous: Listing | None,
    ledger: Ledger,
    tables: Sequence[str],
    database: str,
    now: float,
    settle: float = SETTLE,
) -> tuple[Backup, ...]:
    """The listing's dumps, each with whether it is still being written and its known count."""
    writing = still_being_written(listing, previous, now, settle)
    return tuple(
        Backup(file, True)
        if file.name in writing
        else Backup(file, False, ledger.lookup(file, tables, database, now))
        for file in listing.files
    )


async def count_files(
    files: Sequence[BackupFile],
    tables: Sequence[str],
    database: str,
    ledger: Ledger,
    budget: Budget = DEFAULT_BUDGET,
    clock: Callable[[], float] = time.time,
) -> Ledger:
    """`ledger` with each of `files` counted in turn, each in a child process within `budget`."""
    for file in files:
        ledger = ledger.record(
            file, await count_in_child(file.path, tables, database, budget), clock()
        )
    return ledger


def look_now(
    directory: Path,
    patterns: Sequence[str],
    high_water: Mapping[str, int | None],
    max_drop: Mapping[str, float],
    database: str,
    ledger: Ledger,
    now: float,
    budget: Budget = DEFAULT_BUDGET,
) -> BackupVerdicts:
    """Judge the directory as it is, counting (blocking, each in the service's bounded child
    process) whatever the judgement asks for until it has its answer: for `sidecar volumes`
    on the host during an incident, where waiting for the restore candidate is the point."""
    tables = list(max_drop)
    listing = list_backups(directory, patterns)
    for _ in range(len(listing.files) + 1):
        backups = known_backups(listing, None, ledger, tables, database, now)
        judgement = judge(backups, high_water, max_drop, now)
        if not judgement.to_count:
            return judgement
        for file in judgement.to_count:
            ledger = ledger.record(file, count_now(file.path, tables, database, budget), now)
    return judgement
