"""The incident, with real servers and real dumps: the next morning's backup is caught.

The 06:00 dump held all 14 users. Then the datadir was swapped for a fresh one (the renamed
compose project's new, empty volume), migrations seeded one admin, and the next 06:00 dump
held one user. Rotation would have dropped the good dumps one by one.
"""

import os
import time
from pathlib import Path

import pytest

from sidecar.backups.catalog import Listing, list_backups
from sidecar.backups.judge import BackupVerdicts, judge
from sidecar.backups.ledger import Ledger
from sidecar.backups.survey import count_files, known_backups
from sidecar.results import Status
from tests.backups.dumps import count, mariadb_dump, write
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import incident

DAY = 86400.0


async def look(
    directory: Path,
    high_water: int,
    now: float,
    ledger: Ledger,
    previous: Listing | None = None,
) -> tuple[BackupVerdicts, Ledger, Listing]:
    """What the backup check does over a few cycles: look, judge, count what it asks for."""
    for _ in range(10):
        listing = list_backups(directory)
        backups = known_backups(listing, previous, ledger, ["User"], "app", now)
        judgement = judge(backups, {"User": high_water}, {"User": 0.5}, now)
        if not judgement.to_count:
            return judgement, ledger, listing
        ledger = await count_files(judgement.to_count, ["User"], "app", ledger)
        previous = listing
    raise AssertionError("the judgement kept asking for more counts")


async def test_the_next_morning_backup_of_the_fresh_database_fails_and_names_the_good_one(
    seeded: MariaDBTestServer, backup_dir: Path
) -> None:
    now = time.time()
    high_water = count(seeded, "app", "User")  # what the live rowCount check remembers: 14
    write(backup_dir / "app-2026-11-24.sql.gz", mariadb_dump(seeded, "app"), now - DAY - 3600)
    judgement, ledger, _ = await look(backup_dir, high_water, now - DAY, Ledger())
    assert judgement.rows[0].verdict.status is Status.PASS
    assert judgement.rows[0].verdict.observed == 14

    incident(seeded)  # the fresh datadir: one admin user
    write(backup_dir / "app-2026-11-25.sql.gz", mariadb_dump(seeded, "app"), now - 3600)
    judgement, ledger, _ = await look(backup_dir, high_water, now, ledger)

    rows = judgement.rows[0].verdict
    assert rows.status is Status.FAIL and rows.observed == 1
    assert rows.output == (
        "the newest backup (app-2026-11-25.sql.gz) holds 1 User row; the database held 14:"
        " rotation will drop the good ones;"
        " restore candidate: app-2026-11-24.sql.gz (14 User rows, 25h old)"
    )
    assert judgement.restore_candidate is not None
    assert judgement.restore_candidate.file.name == "app-2026-11-24.sql.gz"
    assert judgement.freshness.status is Status.PASS
    assert [e.name for e in ledger.entries] == ["app-2026-11-24.sql.gz", "app-2026-11-25.sql.gz"]


async def test_a_dump_in_progress_is_not_judged_until_it_settles(
    dump_server: MariaDBTestServer, backup_dir: Path
) -> None:
    now = time.time()
    write(backup_dir / "app-1.sql.zst", mariadb_dump(dump_server, "app"), now - DAY)
    sql = mariadb_dump(dump_server, "app")
    growing = write(backup_dir / "app-2.sql", sql[: len(sql) // 3], now)  # the job writes on

    judgement, ledger, listing = await look(backup_dir, 14, now, Ledger())
    assert judgement.rows[0].verdict.status is Status.PASS  # judged on the finished one
    assert judgement.judged is not None and judgement.judged.file.name == "app-1.sql.zst"
    assert judgement.freshness.output == ""
    assert [e.name for e in ledger.entries] == ["app-1.sql.zst"]  # the half dump never read

    with growing.open("ab") as handle:
        handle.write(sql[len(sql) // 3 :])
    later = now + 600  # long past the settle time, but it grew since the last look
    judgement, ledger, listing = await look(backup_dir, 14, later, ledger, listing)
    assert judgement.judged is not None and judgement.judged.file.name == "app-1.sql.zst"

    judgement, ledger, _ = await look(backup_dir, 14, later + 5, ledger, listing)
    assert judgement.judged is not None and judgement.judged.file.name == "app-2.sql"
    assert judgement.rows[0].verdict.status is Status.PASS
    assert judgement.rows[0].verdict.observed == 14


def truncated_gzip(path: Path, sql: bytes) -> None:
    write(path, sql)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


BAD = {
    "truncated gzip": (
        "app-new.sql.gz",
        truncated_gzip,
        "the newest backup (app-new.sql.gz): the gzip stream is truncated after ",
    ),
    "not a dump": (
        "app-new.sql",
        lambda path, sql: path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(1, 256)) * 40),
        "the newest backup (app-new.sql): not a SQL dump: it does not start with SQL"
        " or a dump header;",
    ),
    "cut short": (
        "app-new.sql",
        lambda path, sql: path.write_bytes(sql[: sql.index(b"-- Dump completed")]),
        "the newest backup (app-new.sql): no `-- Dump completed` line at the end:"
        " the dump was cut short;",
    ),
}


@pytest.mark.parametrize("bad", BAD)
async def test_a_bad_newest_dump_fails_with_its_reason_and_names_the_last_good_one(
    dump_server: MariaDBTestServer, backup_dir: Path, bad: str
) -> None:
    now = time.time()
    sql = mariadb_dump(dump_server, "app")
    write(backup_dir / "app-old.sql.gz", sql, now - DAY)
    name, make, reason = BAD[bad]
    make(backup_dir / name, sql)
    os.utime(backup_dir / name, (now - 3600, now - 3600))
    judgement, _, _ = await look(backup_dir, 14, now, Ledger())
    rows = judgement.rows[0].verdict
    assert rows.status is Status.FAIL
    assert rows.output.startswith(reason)
    assert rows.output.endswith("; restore candidate: app-old.sql.gz (14 User rows, 24h old)")


async def test_a_dump_of_another_database_fails_as_such(
    dump_server: MariaDBTestServer, backup_dir: Path
) -> None:
    now = time.time()
    write(backup_dir / "app.sql.zst", mariadb_dump(dump_server, "other"), now - 3600)
    judgement, _, _ = await look(backup_dir, 14, now, Ledger())
    rows = judgement.rows[0].verdict
    assert rows.status is Status.FAIL
    assert rows.output == (
        "the newest backup (app.sql.zst): a dump of another database: User is in `other`,"
        " not in `app`; no older backup holds them"
    )
