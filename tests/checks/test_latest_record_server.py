"""`<table>:latestRecord` against a real MariaDB: Unix-number columns, in range and out."""

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
