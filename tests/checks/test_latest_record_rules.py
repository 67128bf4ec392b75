"""`<table>:latestRecord` verdict rules, as a table (no server)."""

import pytest

from sidecar.checks.base import Problem
from sidecar.checks.latest_record import AGE, NEWEST, LatestRecord, LatestRecordCheck
from sidecar.config import TableConfig
from sidecar.database import ErrorKind
from sidecar.results import Status
from sidecar.state import Memory, SetNewest, TableMemory

NOW = 1_800_000_000.0
DAY = 86400.0


def judge(seen: LatestRecord | Problem, remembered: float | None = None, **table: object):
    config = TableConfig(name="User", timestamp_column="createdAt", **table)  # type: ignore[arg-type]
    memory = Memory(tables={"User": TableMemory(newest=remembered)})
    return LatestRecordCheck(config).judge(seen, memory, NOW)


def newest(at: float | None, has_rows: bool = True, is_time: bool = True) -> LatestRecord:
    return LatestRecord("User", at, has_rows, is_time, True)


# fmt: off
RULES = [
    (newest(NOW - 60), None, {}, Status.PASS, ""),
    (newest(NOW - 60), NOW - 60, {}, Status.PASS, ""),
    (newest(NOW - 2 * DAY), None, {"max_age": 36 * 3600}, Status.WARN,
     "newest record is 2d old, older than max_age 36h"),
    (newest(NOW + 3 * DAY), None, {}, Status.WARN,
     "newest record is 3d in the future (2027-01-18T08:00:00.000Z)"),
    (newest(NOW + 60), None, {}, Status.PASS, ""),  # within clock skew
    (newest(NOW - DAY), NOW - 60, {}, Status.FAIL,
     "newest record moved backwards from 2027-01-15T07:59:00.000Z to "
     "2027-01-14T08:00:00.000Z (an older backup or another volume?)"),
    (newest(None, has_rows=True), None, {}, Status.WARN, "rows exist but every createdAt is NULL"),
    (newest(None, has_rows=False), None, {}, Status.WARN,
     "table is empty (no records remembered yet)"),
    (newest(None, has_rows=False), NOW - 60, {}, Status.FAIL,
     "table is empty; newest remembered 2027-01-15T07:59:00.000Z"),
    (newest(None, has_rows=False), None, {"min_rows": 1}, Status.FAIL, "table is empty"),
    (newest(None, is_time=False), None, {}, Status.FAIL,
     "column createdAt does not hold dates or Unix times"),
    (Problem(ErrorKind.MISSING_COLUMN, "column does not exist"), None, {}, Status.FAIL,
     "column createdAt does not exist"),
    (Problem(ErrorKind.MISSING_TABLE, "table does not exist"), None, {}, Status.WARN,
     "table does not exist (no records remembered yet)"),
    (Problem(ErrorKind.MISSING_TABLE, "table does not exist"), NOW - 60, {}, Status.FAIL,
     "table does not exist; newest remembered 2027-01-15T07:59:00.000Z"),
    (Problem(ErrorKind.PERMISSION, "permission denied"), None, {}, Status.FAIL,
     "permission denied"),
]
# fmt: on


@pytest.mark.parametrize(("seen", "remembered", "table", "status", "output"), RULES)
def test_rules(seen, remembered, table, status, output) -> None:
    judgement = judge(seen, remembered, **table)
    assert (judgement.status, judgement.output) == (status, output)


def test_only_a_newer_record_from_a_healthy_check_is_remembered() -> None:
    assert judge(newest(NOW - 10), NOW - 60).lessons == (SetNewest("User", NOW - 10),)
    assert judge(newest(NOW - 60), NOW - 60).lessons == ()
    assert judge(newest(NOW - DAY), NOW - 60).lessons == ()  # moved backwards: fails


def test_the_newest_timestamp_is_exported_exactly_and_the_age_beside_it() -> None:
    judgement = judge(newest(NOW - 42.5))
    by_family = {s.family: s.value for s in judgement.samples}
    assert by_family == {AGE: 42.5, NEWEST: NOW - 42.5}
    assert judgement.value == 42.5 and judgement.details["newestRecord"].endswith("Z")
    assert [d.render() for d in judgement.perfdata] == ["'User:latestRecord'=42.5s;;"]
