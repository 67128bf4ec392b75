"""Column values as times: which numbers are Unix times, and which are a reason, not a crash."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from sidecar.timestamps import OutOfRange, to_epoch

T = 1_700_000_000  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (datetime(2023, 11, 14, 22, 13, 20), T),  # naive: UTC
        (datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), T),
        (date(2023, 11, 14), T - 80000),
        (T, T),
        (T + 0.5, T + 0.5),
        (Decimal(T), T),
        (T * 1000, T),  # milliseconds (Date.now())
        (T * 1_000_000, T),  # microseconds
        (-86400, -86400),  # before 1970, in seconds
        (9_999_999_999, 9_999_999_999),  # the year 2286 in seconds: a time, checked as future
        ("2023-11-14", None),  # not a number: not a time at all
        (True, None),
    ],
)
def test_times_and_unix_numbers(value: object, seconds: float | None) -> None:
    assert to_epoch(value) == seconds


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (9 * 10**18, "9e+18"),  # BIGINT near its largest: a placeholder
        (2**63 - 1, "9.22337e+18"),
        (T * 10**9, "1.7e+18"),  # nanoseconds are not recognised
        (-(10**17), "-1e+17"),
        (Decimal("1e400"), "inf"),
        (10**400, "inf"),
        (float("nan"), "nan"),
    ],
)
def test_a_number_that_is_no_time_is_out_of_range_with_one_line(value: object, shown: str) -> None:
    with pytest.raises(OutOfRange) as caught:
        to_epoch(value)
    assert str(caught.value).startswith(f"{shown} is not a time: out of range (")
