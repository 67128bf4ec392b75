"""`<table>:rowCount` verdict rules, as a table: observation + memory + settings -> verdict.

No server: the judge is a pure function (the real-server tests in test_row_count_server.py show
the observations are what these rows assume).
"""

import pytest

from sidecar.checks.base import JudgeContext, Judgement, Problem
from sidecar.checks.continuity import RowCount
from sidecar.checks.row_count import HIGH_WATER, ROWS, RowCountCheck
from sidecar.config import TableConfig
from sidecar.engines.base import ErrorKind
from sidecar.results import Status
from sidecar.state import Memory, TableMemory

NOW = 1_800_000_000.0


def memory(high_water: int | None, created: float | None = None) -> Memory:
    return Memory(tables={"User": TableMemory(high_water, None, high_water, created)})


def judge(
    seen: RowCount | Problem,
    high_water: int | None = None,
    created: float | None = None,
    /,
    **table: object,
) -> Judgement:
    check = RowCountCheck(TableConfig(name="User", **table))  # type: ignore[arg-type]
    return check.judge(seen, JudgeContext(memory(high_water, created), NOW))


def learned(judgement: Judgement, before: Memory) -> TableMemory:
    """The table's memory once the judgement's lessons are applied."""
    for lesson in judgement.lessons:
        lesson.apply(before)
    return before.tables["User"]


def exact(count: int) -> RowCount:
    return RowCount("User", count, "exact")


# fmt: off
EXACT_COUNTS = [
    (14, None, {}, Status.PASS, ""),
    (14, 14, {}, Status.PASS, ""),
    (7, 14, {}, Status.PASS, ""),  # exactly the allowed 50% drop
    (6, 14, {}, Status.FAIL, "6 rows, down 57% from the remembered 14 (max_drop 50%)"),
    (1, 14, {}, Status.FAIL, "1 row, down 93% from the remembered 14 (max_drop 50%)"),
    (12, 14, {"max_drop": 0.1}, Status.FAIL, "12 rows, down 14% from the remembered 14 "
     "(max_drop 10%)"),
    (4, None, {"min_rows": 5}, Status.FAIL, "4 rows, below the floor of 5"),
    (5, None, {"min_rows": 5}, Status.PASS, ""),
    (0, None, {}, Status.WARN, "table is empty (no floor set, no rows remembered yet)"),
    (0, None, {"min_rows": 1}, Status.FAIL, "table is empty (floor 1)"),
    (0, 14, {}, Status.FAIL, "table is empty (floor 0; 14 rows remembered)"),
]
# fmt: on


@pytest.mark.parametrize(("count", "high_water", "table", "status", "output"), EXACT_COUNTS)
def test_exact_counts(
    count: int, high_water: int | None, table: dict[str, object], status: Status, output: str
) -> None:
    judgement = judge(exact(count), high_water, **table)
    assert (judgement.status, judgement.output) == (status, output)
    assert judgement.value == count


MISSING = RowCount("User", 0, "exact", missing=True)


# fmt: off
PROBLEMS = [
    (MISSING, None, {}, Status.WARN, "table does not exist (no floor set, no rows remembered yet)"),
    (MISSING, 14, {}, Status.FAIL, "table does not exist; 14 rows remembered"),
    (MISSING, None, {"min_rows": 3}, Status.FAIL, "table does not exist"),
    (Problem(ErrorKind.PERMISSION, "permission denied"), None, {}, Status.FAIL,
     "permission denied"),
    (Problem(ErrorKind.TIMEOUT, "no answer within 1s (timed out)"), 14, {}, Status.FAIL,
     "no answer within 1s (timed out)"),
]
# fmt: on


@pytest.mark.parametrize(("seen", "high_water", "table", "status", "output"), PROBLEMS)
def test_missing_tables_and_problems(
    seen: RowCount | Problem,
    high_water: int | None,
    table: dict[str, object],
    status: Status,
    output: str,
) -> None:
    judgement = judge(seen, high_water, **table)
    assert (judgement.status, judgement.output) == (status, output)
    assert judgement.value is None


def test_a_healthy_exact_count_raises_the_mark_and_a_failing_one_teaches_nothing() -> None:
    assert learned(judge(exact(20), 14), memory(14)).high_water == 20
    kept = learned(judge(exact(10), 14), memory(14))  # within max_drop
    assert (kept.high_water, kept.count) == (14, 10)
    assert judge(exact(1), 14).lessons == ()  # failing: never teaches
    assert learned(judge(exact(0)), Memory()).high_water is None  # empty first sight


CREATED, REBUILT = NOW - 86400, NOW - 5


def test_a_table_rebuilt_with_its_rows_is_a_migration_and_its_new_time_is_remembered() -> None:
    rebuilt = RowCount("User", 14, "exact", created=REBUILT)
    judgement = judge(rebuilt, 14, CREATED)
    assert (judgement.status, judgement.output) == (Status.PASS, "")
    assert learned(judgement, memory(14, CREATED)).created == REBUILT
    one_deleted_meanwhile = RowCount("User", 13, "exact", created=REBUILT)
    assert judge(one_deleted_meanwhile, 14, CREATED).status is Status.PASS


def test_a_table_created_anew_without_its_rows_is_a_restore_or_a_new_database() -> None:
    restored = RowCount("User", 10, "exact", created=REBUILT)  # 15 -> 10: within max_drop
    judgement = judge(restored, 15, CREATED)
    assert judgement.status is Status.FAIL
    assert judgement.output == (
        "table was created anew (2027-01-15T07:59:55.000Z) and holds 10 rows where 15 were: "
        "an older backup restored over the data, or a new database"
    )
    assert judgement.lessons == ()  # the remembered time stays: it keeps failing
    # The same count without a new creation time is an ordinary delete within max_drop.
    assert judge(RowCount("User", 10, "exact", created=CREATED), 15, CREATED).status is Status.PASS


def test_an_estimate_never_raises_the_mark_and_a_failing_one_says_it_is_an_estimate() -> None:
    estimate = RowCount("User", 900_000, "estimate")
    kept = learned(judge(estimate, 500_000, exact_count_below=1000), memory(500_000))
    assert (kept.high_water, kept.count) == (500_000, 500_000)
    low = judge(RowCount("User", 100_000, "estimate"), 500_000, exact_count_below=1000)
    assert low.status is Status.FAIL
    assert low.output == (
        "about 100000 rows, down 80% from the remembered 500000 (max_drop 50%)"
        " (InnoDB estimate; exact count under way)"
    )


def test_a_bounded_probe_that_reached_the_line_passes() -> None:
    probed = RowCount("User", 850, "estimate", at_least=850)
    judgement = judge(probed, None, min_rows=850, exact_count_below=900)
    assert judgement.status is Status.PASS
    assert judgement.details["atLeast"] == 850


def test_a_background_full_count_raises_the_mark_between_counts() -> None:
    seen = RowCount("User", 1000, "estimate", last_exact=(1200, NOW - 30))
    judgement = judge(seen, 1000, exact_count_below=100)
    assert judgement.details["highWater"] == 1200
    assert (judgement.details["lastExactCount"], judgement.details["lastExactAge"]) == (1200, 30)
    assert learned(judgement, memory(1000)).high_water == 1200


def test_samples_and_perfdata_come_from_the_check() -> None:
    judgement = judge(exact(14), 14)
    by_family = {s.family: s for s in judgement.samples}
    assert by_family[ROWS].value == 14 and by_family[ROWS].labels == ("User",)
    assert by_family[HIGH_WATER].value == 14
    assert [d.render() for d in judgement.perfdata] == ["'User:rowCount'=14;;7:"]
    assert judgement.expected == {"minRows": 0, "maxDrop": 0.5, "atLeast": 7}
