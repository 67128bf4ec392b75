"""`<table>:latestRecord` against a real MariaDB: Unix-number columns, in range and out, and a
column of NULLs. (The cases both engines share are in tests/engines/test_contract.py; the rules
in test_latest_record_rules.py.)"""

from datetime import UTC, datetime

import pytest

from sidecar.results import Status
from tests.support.evaluate import check, once
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import seed


@pytest.mark.parametrize(
    ("newest", "status", "output"),
    [
        (9 * 10**18, Status.FAIL, "newest record 9e+18 is not a time: out of range ("),
        (-(2**63), Status.FAIL, "newest record -9.22337e+18 is not a time: out of range ("),
        ("{now_us}", Status.PASS, ""),  # microseconds since the epoch: recognised
    ],
)
async def test_a_bigint_column_out_of_range_is_a_reason_not_a_crash(
    mariadb: MariaDBTestServer, newest: object, status: Status, output: str
) -> None:
    seed(mariadb, users=0)
    now_us = int(datetime.now(UTC).timestamp() * 1_000_000)
    value = str(newest).format(now_us=now_us - 5_000_000)
    mariadb.execute(
        "CREATE TABLE Ping (id INT PRIMARY KEY, at BIGINT, INDEX (at))",
        f"INSERT INTO Ping VALUES (1, {value})",
        database="app",
    )
    report = await once(mariadb, table="Ping", timestamp_column="at")
    latest = check(report, "Ping:latestRecord")
    assert latest.status is status and latest.output.startswith(output), latest.output
    assert "crashed" not in latest.output


async def test_all_null_timestamps_are_named(mariadb: MariaDBTestServer) -> None:
    seed(mariadb, users=0)
    mariadb.execute(
        "CREATE TABLE Event (id INT PRIMARY KEY, at DATETIME NULL)",
        "INSERT INTO Event VALUES (1, NULL), (2, NULL)",
        database="app",
    )
    report = await once(mariadb, table="Event", timestamp_column="at")
    latest = check(report, "Event:latestRecord")
    assert latest.status is Status.WARN
    assert latest.output == "rows exist but every at is NULL"
    assert latest.details["indexed"] is False  # and the log says MAX() scans the table


async def test_integer_unix_time_columns_are_understood(mariadb: MariaDBTestServer) -> None:
    seed(mariadb, users=0)
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    mariadb.execute(
        "CREATE TABLE Ping (id INT PRIMARY KEY, at BIGINT, INDEX (at))",
        f"INSERT INTO Ping VALUES (1, {now_ms - 5000})",
        database="app",
    )
    latest = check(await once(mariadb, table="Ping", timestamp_column="at"), "Ping:latestRecord")
    assert latest.status is Status.PASS
    assert latest.observed_value == pytest.approx(5, abs=3)
