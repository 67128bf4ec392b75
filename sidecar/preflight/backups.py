"""`sidecar volumes` and the backups: which dump still holds the rows the sidecar remembers;
and for `sidecar preflight`, whether there is a dump fresh enough to restart on.

During an incident the volume twins are one way back; the backups are the other. When the
stack's sidecar watches a backup directory (its `SIDECAR_BACKUP_DIR` bind mount, or
`--backup-dir`), the dumps are judged as the sidecar judges them, against the high-water
marks in its state file, reusing its record of what each dump held (`backups.json`) and
counting on the spot what it has not counted yet: the newest dump, and the restore candidate.
"""

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from sidecar.backups.catalog import DEFAULT_PATTERNS, list_backups, shown
from sidecar.backups.judge import MAX_AGE, age_text
from sidecar.backups.ledger import LEDGER_FILE, Ledger, LedgerError
from sidecar.backups.survey import look_now
from sidecar.dburl import parse_db_url
from sidecar.durations import format_duration, parse_duration
from sidecar.preflight.recover import command_line
from sidecar.preflight.stack import Stack, sidecar_bind_mount
from sidecar.results import Status
from sidecar.state import Memory
from sidecar.timestamps import iso

DEFAULT_MAX_DROP = 0.5


@dataclass(frozen=True)
class BackupNote:
    """What the backups say, for the text and the JSON output."""

    directory: Path
    lines: tuple[str, ...]
    candidate: str | None  # the restore candidate's file name, shown (escaped)


def _database(stack: Stack) -> str | None:
    for sidecar in stack.sidecars:
        url = sidecar.environment.get("SIDECAR_DB_URL")
        if url:
            try:
                return parse_db_url(url).database
            except ValueError:
                continue
    return None


def backup_note(
    stack: Stack, backup_dir: Path | None, memory: Memory | None, state_dir: Path | None
) -> BackupNote | None:
    """The newest dump and the restore candidate, or None when no backups are watched."""
    directory = backup_dir or sidecar_bind_mount(stack, "SIDECAR_BACKUP_DIR")
    if directory is None:
        return None
    marks = {name: t.high_water for name, t in (memory.tables if memory else {}).items()}
    marks = {name: mark for name, mark in marks.items() if mark}
    database = _database(stack)
    if not marks or database is None:
        why = "no remembered row counts" if not marks else "no SIDECAR_DB_URL to name the database"
        return BackupNote(directory, (f"backups in {directory}: not judged ({why})",), None)
    ledger = Ledger()
    if state_dir is not None and (state_dir / LEDGER_FILE).exists():
        # A cache: when it cannot be read, the dumps are counted here instead.
        with contextlib.suppress(LedgerError):
            ledger = Ledger.load(state_dir / LEDGER_FILE)
    try:
        judgement = look_now(
            directory,
            DEFAULT_PATTERNS,
            marks,
            dict.fromkeys(marks, DEFAULT_MAX_DROP),
            database,
            ledger,
            time.time(),
        )
    except OSError as exc:
        return BackupNote(directory, (f"backups in {directory}: {exc.strerror}",), None)
    lines = [f"backups in {directory}:"]
    for table in judgement.rows:
        verdict = table.verdict
        said = verdict.output or f"the newest backup holds {verdict.observed} {table.table} rows"
        lines.append(f"  {verdict.status}: {said}")
    candidate = judgement.restore_candidate
    if candidate is not None:
        when = iso(candidate.file.mtime, "seconds")
        lines.append(f"  restore candidate: {shown(candidate.file.name)} (written {when})")
    return BackupNote(
        directory, tuple(lines), shown(candidate.file.name) if candidate is not None else None
    )


@dataclass(frozen=True)
class FreshnessNote:
    """A preflight warning: no dump recent enough to come back on after the restart."""

    status: Status
    code: str
    message: str


def freshness_notes(stack: Stack, now: float | None = None) -> list[FreshnessNote]:
    """Warn when the newest dump in the stack's backup directory is older than its max age.

    The incident report's first recommendation: a fresh dump before a restart. The line names
    the one command that takes one now, with the compose tool in use.
    """
    directory = sidecar_bind_mount(stack, "SIDECAR_BACKUP_DIR")
    if directory is None:
        return []
    setting = next((s.environment.get("SIDECAR_BACKUP_MAX_AGE") for s in stack.sidecars), None)
    try:
        max_age = parse_duration(setting) if setting else MAX_AGE
    except ValueError:
        return []  # the sidecar refuses it at start, in its own words
    listing = list_backups(directory, _patterns(stack))
    newest = listing.newest
    service = stack.feeders[0].name if stack.feeders else "backup"
    take = f"{command_line(stack.project)} exec {service} bash /backup/backup.sh once"
    if listing.problem is not None:
        said = f"backups in {directory}: {listing.problem}"
    elif newest is None:
        said = f"no dump in {directory} yet"
    else:
        age = (time.time() if now is None else now) - newest.mtime
        if age <= max_age:
            return []
        said = (
            f"the newest dump ({shown(newest.name)}) is {age_text(age)} old"
            f" (SIDECAR_BACKUP_MAX_AGE {format_duration(max_age)})"
        )
    return [
        FreshnessNote(
            Status.WARN, "backup-stale", f"{said}: take a fresh one before the restart: {take}"
        )
    ]


def _patterns(stack: Stack) -> tuple[str, ...]:
    glob = next((s.environment.get("SIDECAR_BACKUP_GLOB") for s in stack.sidecars), None)
    patterns = tuple(p.strip() for p in (glob or "").split(",") if p.strip())
    return patterns or DEFAULT_PATTERNS
