"""From reports to events: what the timeline says, rule by rule, without a server.

Reports are built by hand here (they are plain data); the incident end to end is in
tests/test_statuspage.py and tests/browser/.
"""

import asyncio
from collections.abc import Sequence

from sidecar.checks import row_count, volume_identity
from sidecar.checks.volume_identity import IdentityObservation
from sidecar.engines.mariadb.dialect import MARIADB
from sidecar.evaluator import STATE_KEY
from sidecar.history import History, Kind, Recorder
from sidecar.identity.reading import Absence, Reading
from sidecar.identity.registry import build_sources
from sidecar.identity.settings import IdentitySettings
from sidecar.results import CheckResult, Report, Sample, Status
from sidecar.state import Memory

T0 = 1_800_000_000.0


def identity(status: Status, readings: Sequence[Reading], pinned: str | None = None) -> CheckResult:
    expected = {"pinned": pinned} if pinned else {}
    return CheckResult(
        volume_identity.KEY,
        status,
        None,
        "fingerprint",
        T0,
        "" if status is Status.PASS else "volume changed",
        expected,
        observation=IdentityObservation(tuple(readings)),
    )


def rows(count: int, status: Status = Status.PASS, output: str = "") -> CheckResult:
    samples = (
        Sample(row_count.ROWS, count, ("User",)),
        Sample(row_count.HIGH_WATER, 14, ("User",)),
        Sample(row_count.MIN_ALLOWED, 7, ("User",)),
    )
    return CheckResult("User:rowCount", status, count, "rows", T0, output, samples=samples)


def report(at: float, *checks: CheckResult) -> Report:
    return Report.from_checks(list(checks), at - 0.01, at)


class Feed:
    """A recorder over an in-memory history and a memory the test changes."""

    def __init__(self) -> None:
        self.memory = Memory()
        self.history = History(None, ["User"])
        sources = build_sources(IdentitySettings(None, None), MARIADB)
        self.recorder = Recorder(self.history, sources, lambda: self.memory)

    def __call__(self, *reports: Report) -> list[tuple[Kind, str]]:
        before = len(self.history.events)

        async def run() -> None:
            for r in reports:
                await self.recorder.on_report(r)

        asyncio.run(run())
        new = list(self.history.events)[before:]
        return [(e.kind, e.message) for e in new]


VOLUME_A = Reading("volume", "shop_db_data")
VOLUME_B = Reading("volume", "renamed_db_data")


def test_the_first_report_says_the_sidecar_started_and_its_verdict() -> None:
    feed = Feed()
    assert feed(report(T0, rows(14))) == [(Kind.START, "sidecar started: verdict pass")]


def test_a_verdict_transition_names_its_reasons_once() -> None:
    feed = Feed()
    feed(report(T0, rows(14)))
    told = feed(report(T0 + 5, rows(1, Status.FAIL, "1 rows, down 93%")))
    assert told == [(Kind.VERDICT, "verdict fail (was pass): User:rowCount: 1 rows, down 93%")]
    assert feed(report(T0 + 10, rows(1, Status.FAIL, "1 rows, down 93%"))) == []
    assert feed(report(T0 + 15, rows(14))) == [(Kind.VERDICT, "verdict pass (was fail)")]


def test_a_new_reason_under_the_same_verdict_is_told_but_ticking_numbers_are_not() -> None:
    feed = Feed()
    feed(report(T0, rows(0, Status.FAIL, "cannot connect to the database")))
    told = feed(report(T0 + 5, rows(1, Status.FAIL, "1 rows, down 93%")))
    assert told == [(Kind.CHECK, "User:rowCount fail: 1 rows, down 93%")]
    assert feed(report(T0 + 10, rows(0, Status.FAIL, "0 rows, down 100%"))) == []


def test_an_age_that_ticks_into_another_unit_is_no_new_reason() -> None:
    # `durations.approximate` writes 900ms, then 2s, then 1h 5m: the reason stays the same.
    feed = Feed()
    feed(report(T0, rows(0, Status.FAIL, "the database looks newly initialised (900ms ago)")))
    for age in ("2s", "1.5s", "12m", "1h 5m", "24h", "1d 2h"):
        reason = f"the database looks newly initialised ({age} ago)"
        assert feed(report(T0 + 5, rows(0, Status.FAIL, reason))) == [], age


def test_an_identity_change_gives_old_and_new_value_per_source() -> None:
    feed = Feed()
    feed(report(T0, identity(Status.PASS, [VOLUME_A, Reading("inode", "11")])))
    feed.history.events.clear()
    feed(report(T0 + 5, identity(Status.FAIL, [VOLUME_B, Reading("inode", "12")])))
    change = next(e for e in feed.history.events if e.kind is Kind.IDENTITY)
    assert change.status is Status.FAIL
    assert change.message == (
        "volume changed from shop_db_data to renamed_db_data; inode changed from 11 to 12"
    )
    assert [(c.source, c.old, c.new) for c in change.changes] == [
        ("volume", "shop_db_data", "renamed_db_data"),
        ("inode", "11", "12"),
    ]


def test_a_source_that_cannot_be_read_is_no_change_but_a_gone_one_is() -> None:
    feed = Feed()
    feed(report(T0, identity(Status.PASS, [VOLUME_A, Reading("sentinel", "abc")])))
    unread = Reading("volume", None, Absence.ERROR, "no mount found")
    assert feed(report(T0 + 5, identity(Status.WARN, [unread, Reading("sentinel", "abc")]))) == [
        (Kind.VERDICT, "verdict warn (was pass): volume:identity: volume changed")
    ]
    gone = Reading("sentinel", None, Absence.GONE, "table is gone")
    told = feed(report(T0 + 10, identity(Status.FAIL, [VOLUME_A, gone])))
    assert (Kind.IDENTITY, "sentinel abc is gone") in told


def test_the_identity_first_seen_and_an_adopt_come_from_the_memory() -> None:
    feed = Feed()
    feed.memory.identity = {"volume": "shop_db_data"}
    feed.memory.identity_recorded_at = T0 - 1
    told = feed(report(T0, identity(Status.PASS, [VOLUME_A])))
    assert (Kind.FIRST_SEEN, "identity first seen, trusted on first use: volume=shop_db_data") in (
        told
    )
    assert feed.history.recent()[-1].time == T0 - 1  # told at the time it happened
    assert feed(report(T0 + 5, identity(Status.PASS, [VOLUME_A]))) == []
    feed.memory.identity = {"volume": "restored_db_data"}
    feed.memory.identity_recorded_at = feed.memory.adopted_at = T0 + 7
    told = feed(report(T0 + 10, identity(Status.PASS, [Reading("volume", "restored_db_data")])))
    assert (
        Kind.ADOPT,
        "sidecar adopt: the database as it was then is the baseline (volume=restored_db_data)",
    ) in told
    assert not any(kind is Kind.FIRST_SEEN for kind, _ in told)


def test_a_pin_set_changed_and_removed_is_told() -> None:
    feed = Feed()
    feed(report(T0, identity(Status.PASS, [VOLUME_A])))
    assert feed(report(T0 + 5, identity(Status.PASS, [VOLUME_A], "volume=shop_db_data"))) == [
        (Kind.PIN, "identity pinned: volume=shop_db_data")
    ]
    told = feed(report(T0 + 10, identity(Status.PASS, [VOLUME_A], "volume=other")))
    assert told == [(Kind.PIN, "pin changed from volume=shop_db_data to volume=other")]
    assert feed(report(T0 + 15, identity(Status.PASS, [VOLUME_A]))) == [
        (Kind.PIN, "pin removed (was volume=other)")
    ]


def test_a_state_problem_is_a_state_event_and_its_end_too() -> None:
    feed = Feed()
    feed(report(T0, rows(14)))
    state = CheckResult(STATE_KEY, Status.WARN, None, "", T0, "cannot write state: read-only")
    told = feed(report(T0 + 5, rows(14), state))
    assert (Kind.STATE, "sidecar:state warn (was pass): cannot write state: read-only") not in told
    assert told[0][0] is Kind.VERDICT
    assert any(kind is Kind.STATE for kind, _ in told)
    assert (Kind.STATE, "sidecar:state passes again (no longer reported)") in feed(
        report(T0 + 10, rows(14))
    )


def test_samples_of_a_cycle_fill_the_tables_history() -> None:
    feed = Feed()
    feed(report(T0, rows(14)), report(T0 + 5, rows(1, Status.FAIL, "down")))
    points = list(feed.history.tables["User"].tiers[0].points())
    assert [(p.values[0], p.values[2], p.values[4]) for p in points] == [
        (14.0, 14.0, 7.0),
        (1.0, 14.0, 7.0),
    ]
    verdicts = [p.values[1] for p in feed.history.cycles.tiers[0].points()]
    assert verdicts == [0.0, 2.0]
