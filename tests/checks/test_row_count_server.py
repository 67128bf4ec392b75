"""`<table>:rowCount` against a real MariaDB: exact counts, estimates and bounded probes, the
background count near a line, what a missing grant or a lock makes of it. (The cases both engines
share are in tests/engines/test_contract.py; its rules, without a server, in
test_row_count_rules.py.)"""

import asyncio
import threading
from collections.abc import Callable

from sidecar.results import CheckResult, Status
from tests.support.evaluate import check, cycle, evaluator_for, once
from tests.support.mariadb import MariaDBTestServer
from tests.support.servers import MONITOR_USER, add_users


async def test_healthy_table_passes_with_exact_values(seeded: MariaDBTestServer) -> None:
    report = await once(seeded)
    assert report.status is Status.PASS, report.reasons()
    rows = check(report, "User:rowCount")
    assert (rows.observed_value, rows.details["countKind"]) == (14, "exact")
    latest = check(report, "User:latestRecord")
    assert isinstance(latest.observed_value, int | float) and 0 <= latest.observed_value < 60
    assert latest.details["indexed"] is True


async def test_permission_denied_is_named(seeded: MariaDBTestServer) -> None:
    seeded.execute(
        f"REVOKE SELECT ON app.* FROM '{MONITOR_USER}'@'127.0.0.1'",
        "CREATE TABLE app.Other (id INT PRIMARY KEY)",
        f"GRANT SELECT ON app.Other TO '{MONITOR_USER}'@'127.0.0.1'",
    )
    report = await once(seeded)
    rows = check(report, "User:rowCount")
    assert rows.status is Status.FAIL and "permission denied" in rows.output
    assert "permission denied" in check(report, "User:latestRecord").output
    assert MONITOR_USER not in rows.output and "127.0.0.1" not in rows.output


async def test_locked_table_times_out_with_a_reason(seeded: MariaDBTestServer) -> None:
    holder = seeded.connect(database="app")
    release = threading.Event()
    try:
        with holder.cursor() as cursor:
            cursor.execute("LOCK TABLES User WRITE")
        report = await once(seeded)
        rows = check(report, "User:rowCount")
        assert rows.status is Status.FAIL and "timed out" in rows.output
        assert rows.duration < 1.5  # bounded by the 1 s timeout, not by the lock
    finally:
        release.set()
        holder.close()
    assert (await once(seeded)).status is Status.PASS


async def test_large_table_uses_estimates_and_bounded_probes(seeded: MariaDBTestServer) -> None:
    add_users(seeded, 986)
    seeded.execute("ANALYZE TABLE User", database="app")
    estimated = check(await once(seeded, exact_count_below=100), "User:rowCount")
    assert estimated.details["countKind"] == "estimate"
    assert estimated.status is Status.PASS
    assert isinstance(estimated.observed_value, int)
    assert 500 <= estimated.observed_value <= 2000  # InnoDB's estimate of 1000 rows
    # A floor near the estimate, within what may be counted in a cycle: a probe bounded by
    # the floor confirms the table holds at least that many rows.
    probed = check(await once(seeded, exact_count_below=900, min_rows=850), "User:rowCount")
    assert probed.status is Status.PASS
    assert (probed.details["countKind"], probed.details["atLeast"]) == ("estimate", 850)
    # A floor far above it and above what a cycle may count: judged on the estimate, said so.
    floored = check(await once(seeded, exact_count_below=100, min_rows=5000), "User:rowCount")
    assert floored.status is Status.FAIL
    assert floored.output.startswith("about ") and "below the floor of 5000" in floored.output
    assert "InnoDB estimate" in floored.output


async def test_large_table_near_its_line_is_counted_in_full_in_the_background(
    seeded: MariaDBTestServer,
) -> None:
    """A line above `exact_count_below` is never probed in the cycle: a full count settles it."""
    add_users(seeded, 986)
    seeded.execute("ANALYZE TABLE User", database="app")
    # Full counts at most every second here (in production: exact_count_interval, and at most
    # once a minute while the estimate stays near the line).
    evaluator = evaluator_for(seeded, exact_count_below=100, exact_count_interval="1s")
    try:
        await cycle(evaluator)  # estimate; schedules the first background exact count

        async def settled(predicate: Callable[[CheckResult], bool]) -> CheckResult:
            for _ in range(50):
                rows = check(await cycle(evaluator), "User:rowCount")
                if predicate(rows):
                    return rows
                await asyncio.sleep(0.1)
            raise AssertionError(f"never settled: {rows}")

        await settled(lambda rows: rows.details.get("highWater") == 1000)
        seeded.execute("DELETE FROM User WHERE id > 400", "ANALYZE TABLE User", database="app")
        rows = await settled(lambda rows: rows.status is Status.FAIL)
        if rows.details["countKind"] == "estimate":
            assert rows.output.startswith("about ") and "InnoDB estimate" in rows.output
            rows = await settled(lambda rows: rows.details["countKind"] == "exact")
        assert rows.status is Status.FAIL
        assert rows.output == "400 rows, down 60% from the remembered 1000 (max_drop 50%)"
    finally:
        await evaluator.aclose()
