"""The verdicts on the backups, as a pure function of what was seen (no I/O, no clock).

    judgement = judge(backups, high_water={"User": 14}, max_drop={"User": 0.5}, now=now)
    judgement.freshness   # Verdict: the newest backup's age against max_age (default 26h)
    judgement.size        # Verdict: the newest backup's size against the median before it
    judgement.rows        # TableVerdict per watched table: its rows in the newest counted dump
    judgement.restore_candidate  # the newest older backup that still holds the remembered rows
    judgement.to_count    # the files to count next (off the event loop), most urgent first

Rules:
- freshness: fail when there is no backup, or the newest is older than twice `max_age`;
  warn past `max_age`. A dump still being written is not a backup yet.
- size: fail when the newest shrank by more than `size_max_drop` (default: the largest
  per-table `max_drop`) below the median of up to 7 earlier dumps of the same compression.
- rows: fail when the newest counted dump holds fewer rows of a table than its high-water
  mark allows (`ceil(high_water * (1 - max_drop))`, as the live row count does), or does not
  hold the table, or is not a usable dump (cut short, not a dump, another database); warn
  when it could not be counted (unreadable, out of budget, an INSERT we cannot count) or
  has not been counted yet. A failing dump names the restore candidate: the newest older
  dump whose counts all pass.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sidecar.backups.catalog import BackupFile, compare_sizes, shown, size_text
from sidecar.backups.dump import DumpCount, ProblemKind
from sidecar.durations import format_duration
from sidecar.results import Status

MAX_AGE = 26 * 3600.0
SIZE_WINDOW = 7
_WARN_ONLY = (
    ProblemKind.UNREADABLE,
    ProblemKind.BUDGET,
    ProblemKind.UNCOUNTABLE,
    ProblemKind.EXPANSION,
)


@dataclass(frozen=True)
class Backup:
    """A dump in the directory, with what is known of it so far."""

    file: BackupFile
    writing: bool = False  # still being written: neither judged nor counted
    count: DumpCount | None = None  # None: not counted yet


@dataclass(frozen=True)
class Verdict:
    """One judged measurement: a status, the observed value, and why when not passing."""

    status: Status
    observed: int | float | None
    unit: str
    output: str = ""  # one line; empty only when passing
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TableVerdict:
    """The rows verdict of one watched table."""

    table: str
    verdict: Verdict


@dataclass(frozen=True)
class BackupVerdicts:
    """Everything the backup check reports, decided from one listing."""

    freshness: Verdict
    size: Verdict
    rows: tuple[TableVerdict, ...]
    judged: Backup | None  # the dump whose rows were judged (the newest counted one)
    restore_candidate: Backup | None
    to_count: tuple[BackupFile, ...]


def judge(
    backups: Sequence[Backup],
    high_water: Mapping[str, int | None],
    max_drop: Mapping[str, float],
    now: float,
    max_age: float = MAX_AGE,
    size_max_drop: float | None = None,
) -> BackupVerdicts:
    """The verdicts on `backups` for the tables of `max_drop` (see the module docstring)."""
    ordered = sorted(backups, key=lambda b: (b.file.mtime_ns, b.file.name), reverse=True)
    settled = [b for b in ordered if not b.writing]
    writing = next((b for b in ordered if b.writing), None)
    return judge_newest_first(settled, writing, high_water, max_drop, now, max_age, size_max_drop)


def judge_newest_first(
    settled: Sequence[Backup],
    writing: Backup | None,
    high_water: Mapping[str, int | None],
    max_drop: Mapping[str, float],
    now: float,
    max_age: float = MAX_AGE,
    size_max_drop: float | None = None,
) -> BackupVerdicts:
    """`judge` of the settled dumps already newest first, and the newest still being written.

    Every rule reads the head of `settled` only: the newest, the first counted, up to
    SIZE_WINDOW before it, and in a failure the older ones down to a restore candidate. A lazy
    sequence (survey.NewestFirst) thus makes a year of dumps cost what the verdict reads.
    """
    drop = max(max_drop.values(), default=0.5) if size_max_drop is None else size_max_drop
    at = next((i for i, b in enumerate(settled) if b.count is not None), None)
    judged = settled[at] if at is not None else None
    # Everything newer than the judged dump is not counted yet: the newest of it comes first.
    to_count = [settled[0].file] if settled and at != 0 else []
    if judged is None:  # the label is then the whole story
        label = "no backup counted yet" if settled else _none_yet(writing)
    else:
        label = "the newest backup" if at == 0 else "the newest counted backup"
    rows = tuple(
        TableVerdict(table, _rows(table, judged, label, high_water.get(table), max_drop[table]))
        for table in max_drop
    )
    candidate = None
    if any(t.verdict.status is Status.FAIL for t in rows) and at is not None:
        candidate, uncounted = _restore_candidate(settled, at, high_water, max_drop)
        if uncounted is not None and uncounted not in to_count:
            to_count.append(uncounted)
        rows = tuple(_with_candidate(t, candidate, uncounted, now) for t in rows)
    return BackupVerdicts(
        freshness=_freshness(settled, writing, now, max_age),
        size=_size(settled, drop),
        rows=rows,
        judged=judged,
        restore_candidate=candidate,
        to_count=tuple(to_count),
    )


def _none_yet(writing: Backup | None) -> str:
    """Why no dump can be judged: there is none, or none is finished yet."""
    if writing is None:
        return "no backup found"
    return f"no finished backup yet ({shown(writing.file.name)} is being written)"


def _freshness(
    settled: Sequence[Backup], writing: Backup | None, now: float, max_age: float
) -> Verdict:
    expected = {"maxAge": max_age}
    in_progress = f" ({shown(writing.file.name)} is being written)" if writing else ""
    if not settled:
        return Verdict(Status.FAIL, None, "s", _none_yet(writing), expected)
    newest = settled[0].file
    age = max(0.0, now - newest.mtime)
    details = {**expected, "backup": shown(newest.name)}
    if age <= max_age:
        return Verdict(Status.PASS, round(age), "s", "", details)
    status = Status.FAIL if age > 2 * max_age else Status.WARN
    output = (
        f"the newest backup ({shown(newest.name)}) is {age_text(age)} old"
        f" (max_age {format_duration(max_age)}){in_progress}"
    )
    return Verdict(status, round(age), "s", output, details)


def _size(settled: Sequence[Backup], max_drop: float) -> Verdict:
    if not settled:
        return Verdict(Status.FAIL, None, "bytes", "no backup found")
    newest = settled[0].file
    comparison = compare_sizes((b.file for b in settled), SIZE_WINDOW)
    details: dict[str, Any] = {"backup": shown(newest.name), "maxDrop": max_drop}
    if comparison is None:
        return Verdict(Status.PASS, newest.size, "bytes", "", {**details, "compared": 0})
    details |= {"median": comparison.median, "compared": comparison.compared}
    if comparison.drop() <= max_drop:
        return Verdict(Status.PASS, newest.size, "bytes", "", details)
    earlier = "the one" if comparison.compared == 1 else f"the {comparison.compared}"
    output = (
        f"the newest backup ({shown(newest.name)}) is {size_text(newest.size)},"
        f" down {comparison.drop():.0%} from the median {size_text(comparison.median)}"
        f" of {earlier} before it (max_drop {max_drop:.0%})"
    )
    return Verdict(Status.FAIL, newest.size, "bytes", output, details)


def _line(high_water: int, max_drop: float) -> int:
    """The fewest rows that pass: as the live row count judges a drop."""
    return math.ceil(high_water * (1 - max_drop))


def _rows(
    table: str, judged: Backup | None, label: str, high_water: int | None, max_drop: float
) -> Verdict:
    expected: dict[str, Any] = {"highWater": high_water, "maxDrop": max_drop}
    if judged is None or judged.count is None:
        return Verdict(Status.WARN, None, "rows", label, expected)
    count, label = judged.count, f"{label} ({shown(judged.file.name)})"
    details = {**expected, "backup": shown(judged.file.name)}
    rows = count.rows(table)
    problem = count.problem
    if rows is None and problem is not None:
        status = Status.WARN if problem.kind in _WARN_ONLY else Status.FAIL
        return Verdict(status, None, "rows", f"{label}: {problem.message}", details)
    if rows is None:
        output = f"{label} does not hold table {table}"
        return Verdict(Status.FAIL, None, "rows", output, details)
    if high_water is None or rows >= _line(high_water, max_drop):
        return Verdict(Status.PASS, rows, "rows", "", details)
    output = (
        f"{label} holds {_rows_of(rows, table)}; the database held"
        f" {high_water}: rotation will drop the good ones"
    )
    return Verdict(Status.FAIL, rows, "rows", output, details)


def _holds(
    count: DumpCount, high_water: Mapping[str, int | None], max_drop: Mapping[str, float]
) -> bool:
    """Whether a dump would pass every table's rows rule."""
    if count.problem is not None and count.problem.kind is not ProblemKind.UNCOUNTABLE:
        return False
    for table, drop in max_drop.items():
        rows, line = count.rows(table), high_water.get(table)
        if rows is None or (line is not None and rows < _line(line, drop)):
            return False
    return True


def _restore_candidate(
    settled: Sequence[Backup],
    judged_at: int,
    high_water: Mapping[str, int | None],
    max_drop: Mapping[str, float],
) -> tuple[Backup | None, BackupFile | None]:
    """The newest dump older than `settled[judged_at]` that passes, or the first older one
    still to count."""
    for backup in islice(settled, judged_at + 1, None):
        if backup.count is None:
            return None, backup.file
        if _holds(backup.count, high_water, max_drop):
            return backup, None
    return None, None


def _with_candidate(
    verdict: TableVerdict, candidate: Backup | None, uncounted: BackupFile | None, now: float
) -> TableVerdict:
    """A failing rows verdict told where the remembered rows still are."""
    v = verdict.verdict
    if v.status is not Status.FAIL:
        return verdict
    if candidate is not None and candidate.count is not None:
        rows = candidate.count.rows(verdict.table)
        held = f"{_rows_of(rows, verdict.table)}, " if rows is not None else ""
        age = age_text(max(0.0, now - candidate.file.mtime))
        note = f"; restore candidate: {shown(candidate.file.name)} ({held}{age} old)"
        details = {**v.details, "restoreCandidate": shown(candidate.file.name)}
    elif uncounted is not None:
        note = f"; counting the older {shown(uncounted.name)} for a restore candidate"
        details = v.details
    else:
        note = "; no older backup holds them"
        details = v.details
    return TableVerdict(
        verdict.table, Verdict(v.status, v.observed, v.unit, v.output + note, details)
    )


def _rows_of(rows: int, table: str) -> str:
    return f"{rows} {table} row" + ("" if rows == 1 else "s")


def age_text(seconds: float) -> str:
    """An age for people: `45s`, `12m`, `5.5h`, `3.2d`."""
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h".replace(".0h", "h")
    return f"{seconds / 86400:.1f}d".replace(".0d", "d")
