"""`<table>:latestRecord` verdict rules, as a table (no server)."""

import pytest

from sidecar.checks.base import JudgeContext, Judgement, Problem
from sidecar.checks.continuity import RowCount
from sidecar.checks.latest_record import AGE, NEWEST, LatestRecord, LatestRecordCheck
from sidecar.config import TableConfig
from sidecar.engines.base import ErrorKind
from sidecar.results import Status
from sidecar.state import Memory, SetNewest, TableMemory

NOW = 1_800_000_000.0
DAY = 86400.0
CREATED = NOW - 90 * DAY


def judge(
    seen: LatestRecord | Problem,
    remembered: float | None = None,
    rows: tuple[int, RowCount] | None = None,
    /,
    **table: object,
) -> Judgement:
    """Judge with `remembered` as the newest, and `rows` as (count remembered, this cycle's)."""
    config = TableConfig(name="User", timestamp_column="createdAt", **table)  # type: ignore[arg-type]
    was, counted = rows if rows else (None, None)
    memory = Memory(tables={"User": TableMemory(was, remembered, was, CREATED)})
    observations = [counted] if counted else []
    return LatestRecordCheck(config).judge(seen, JudgeContext(memory, NOW, observations))


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
    (LatestRecord("User", None, True, False, True, "9e+18 is not a time: out of range (...)"),
     NOW - 60, {}, Status.FAIL, "newest record 9e+18 is not a time: out of range (...)"),
]
# fmt: on


@pytest.mark.parametrize(("seen", "remembered", "table", "status", "output"), RULES)
def test_rules(
    seen: LatestRecord | Problem,
    remembered: float | None,
    table: dict[str, object],
    status: Status,
    output: str,
) -> None:
    judgement = judge(seen, remembered, **table)
    assert (judgement.status, judgement.output) == (status, output)


def test_only_a_newer_record_from_a_healthy_check_is_remembered() -> None:
    assert judge(newest(NOW - 10), NOW - 60).lessons == (SetNewest("User", NOW - 10),)
    assert judge(newest(NOW - 60), NOW - 60).lessons == ()
    assert judge(newest(NOW - DAY), NOW - 60).lessons == ()  # moved backwards: fails


def counted(count: int, created: float = CREATED) -> RowCount:
    return RowCount("User", count, "exact", created=created)


# fmt: off
BACKWARDS = [
    # the newest user deleted their account: one row fewer, the newest an hour back
    ("newest deleted", 14, counted(13), NOW - 3600, Status.PASS, ""),
    # the newest ten of a 1,000-row table
    ("ten deleted", 1000, counted(990), NOW - 3600, Status.PASS, ""),
    ("deleted, days back", 14, counted(13), NOW - 5 * DAY, Status.WARN,
     "newest record moved backwards from 2027-01-15T07:59:00.000Z to 2027-01-10T08:00:00.000Z "
     "(5d back) after 1 row was deleted: the newest rows deleted, or an older backup?"),
    ("nothing deleted", 14, counted(14), NOW - 3600, Status.FAIL,
     "newest record moved backwards from 2027-01-15T07:59:00.000Z to 2027-01-15T07:00:00.000Z "
     "while no rows were deleted (an older backup?)"),
    ("two of 14 gone", 14, counted(12), NOW - 3600, Status.FAIL,
     "newest record moved backwards from 2027-01-15T07:59:00.000Z to 2027-01-15T07:00:00.000Z "
     "and 2 rows are gone (an older backup?)"),
    ("many gone", 15, counted(10), NOW - 3600, Status.FAIL,
     "newest record moved backwards from 2027-01-15T07:59:00.000Z to 2027-01-15T07:00:00.000Z "
     "and 5 rows are gone (an older backup?)"),
    ("created anew", 14, counted(13, NOW - 10), NOW - 3600, Status.FAIL,
     "newest record moved backwards from 2027-01-15T07:59:00.000Z to 2027-01-15T07:00:00.000Z "
     "and the table was created anew (an older backup?)"),
]
# fmt: on


@pytest.mark.parametrize(("case", "was", "rows", "at", "status", "output"), BACKWARDS)
def test_deleting_the_newest_rows_is_not_going_back_in_time(
    case: str, was: int, rows: RowCount, at: float, status: Status, output: str
) -> None:
    judgement = judge(newest(at), NOW - 60, (was, rows))
    assert (judgement.status, judgement.output) == (status, output), case
    # What deletions explain, the remembered newest follows back: no failing forever.
    rolled = judgement.lessons == (SetNewest("User", at),)
    assert rolled is (status is not Status.FAIL), case


def test_the_newest_timestamp_is_exported_exactly_and_the_age_beside_it() -> None:
    judgement = judge(newest(NOW - 42.5))
    by_family = {s.family: s.value for s in judgement.samples}
    assert by_family == {AGE: 42.5, NEWEST: NOW - 42.5}
    assert judgement.value == 42.5 and str(judgement.details["newestRecord"]).endswith("Z")
    assert [d.render() for d in judgement.perfdata] == ["'User:latestRecord'=42.5s;;"]
