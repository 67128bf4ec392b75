"""What the sidecar says to a person: durations as one reads them, `1 row` not `1 rows`."""

import pytest

from sidecar.checks.continuity import RowCount
from sidecar.checks.row_count import judge_count, judge_recreated
from sidecar.config import TableConfig
from sidecar.durations import approximate
from sidecar.plural import counted
from sidecar.results import Status


@pytest.mark.parametrize(
    ("seconds", "read"),
    [
        (0.0123, "12ms"),
        (2.54, "2.5s"),
        (90, "90s"),
        (725, "12m"),
        (3599, "1h"),
        (3725, "1h 2m"),
        (86399, "24h"),
        (87721.302, "1d"),  # the issue's `87721.302 s`
        (93600, "1d 2h"),
        (1_000_000, "11d 14h"),
    ],
)
def test_a_duration_reads_in_two_units_at_most(seconds: float, read: str) -> None:
    assert approximate(seconds) == read


def test_one_is_singular() -> None:
    assert [counted(n, "row") for n in (0, 1, 2)] == ["0 rows", "1 row", "2 rows"]
    assert counted(1, "table") == "1 table"


def test_the_incidents_reasons_say_1_row() -> None:
    table = TableConfig(name="User")
    assert judge_count(table, 1, None, 14)[1].startswith("1 row, down 93% ")
    assert judge_count(TableConfig(name="User", min_rows=5), 1, None, None) == (
        Status.FAIL,
        "1 row, below the floor of 5",
    )
    reason = judge_recreated(RowCount(table="User", count=1, kind="exact"), 14)
    assert reason.startswith("table was created anew and holds 1 row where 14 were: "), reason
    assert judge_count(TableConfig(name="User", min_rows=5), 0, None, 1)[1] == (
        "table is empty (floor 5; 1 row remembered)"
    )
