"""`<table>:rowCount` verdict rules, as a table: observation + memory + settings -> verdict.

No server: the judge is a pure function (the real-server tests in tests/test_checks.py show
the observations are what these rows assume).
"""

import pytest

from sidecar.checks.base import Problem
from sidecar.checks.row_count import HIGH_WATER, ROWS, RowCount, RowCountCheck
from sidecar.config import TableConfig
from sidecar.database import ErrorKind
from sidecar.results import Status
from sidecar.state import Memory, SetHighWater, TableMemory

NOW = 1_800_000_000.0


def memory(high_water: int | None) -> Memory:
    return Memory(tables={"User": TableMemory(high_water=high_water)})


def judge(seen: RowCount | Problem, high_water: int | None = None, **table: object):
    check = RowCountCheck(TableConfig(name="User", **table))  # type: ignore[arg-type]
    return check.judge(seen, memory(high_water), NOW)


def exact(count: int) -> RowCount:
    return RowCount("User", count, "exact")


# fmt: off
EXACT_COUNTS = [
    (14, None, {}, Status.PASS, ""),
    (14, 14, {}, Status.PASS, ""),
    (7, 14, {}, Status.PASS, ""),  # exactly the allowed 50% drop
    (6, 14, {}, Status.FAIL, "6 rows, down 57% from the remembered 14 (max_drop 50%)"),
    (1, 14, {}, Status.FAIL, "1 rows, down 93% from the remembered 14 (max_drop 50%)"),
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
def test_exact_counts(count, high_water, table, status, output) -> None:
    judgement = judge(exact(count), high_water, **table)
    assert (judgement.status, judgement.output) == (status, output)
    assert judgement.value == count


# fmt: off
PROBLEMS = [
    ("missing", ErrorKind.MISSING_TABLE, None, {}, Status.WARN,
     "table does not exist (no floor set, no rows remembered yet)"),
    ("missing, remembered", ErrorKind.MISSING_TABLE, 14, {}, Status.FAIL,
     "table does not exist; 14 rows remembered"),
    ("missing, floor", ErrorKind.MISSING_TABLE, None, {"min_rows": 3}, Status.FAIL,
     "table does not exist"),
    ("permission", ErrorKind.PERMISSION, None, {}, Status.FAIL, "permission denied"),
    ("timeout", ErrorKind.TIMEOUT, 14, {}, Status.FAIL, "no answer within 1s (timed out)"),
]
# fmt: on


@pytest.mark.parametrize(("kind", "problem", "high_water", "table", "status", "output"), PROBLEMS)
def test_problems(kind, problem, high_water, table, status, output) -> None:
    reason = output if problem is not ErrorKind.MISSING_TABLE else "table does not exist"
    judgement = judge(Problem(problem, reason), high_water, **table)
    assert (judgement.status, judgement.output) == (status, output), kind
    assert judgement.value is None


def test_a_healthy_exact_count_raises_the_mark_and_a_failing_one_does_not() -> None:
    assert judge(exact(20), 14).lessons == (SetHighWater("User", 20),)
    assert judge(exact(14), 14).lessons == ()
    assert judge(exact(10), 14).lessons == ()  # within max_drop: the mark stays at 14
    assert judge(exact(1), 14).lessons == ()  # failing: never teaches
    assert judge(exact(0)).lessons == ()  # an empty first sight remembers nothing


def test_an_estimate_never_raises_the_mark_and_a_failing_one_says_it_is_an_estimate() -> None:
    estimate = RowCount("User", 900_000, "estimate")
    assert judge(estimate, 500_000, exact_count_below=1000).lessons == ()
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
    assert judgement.lessons == (SetHighWater("User", 1200),)


def test_samples_and_perfdata_come_from_the_check() -> None:
    judgement = judge(exact(14), 14)
    by_family = {s.family: s for s in judgement.samples}
    assert by_family[ROWS].value == 14 and by_family[ROWS].labels == ("User",)
    assert by_family[HIGH_WATER].value == 14
    assert [d.render() for d in judgement.perfdata] == ["'User:rowCount'=14;;7:"]
    assert judgement.expected == {"minRows": 0, "maxDrop": 0.5, "atLeast": 7}
