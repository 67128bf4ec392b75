"""A configuration watching 200 tables costs a bounded number of statements a cycle (issue 24).

Before, every table check asked about its own table: an estimate, a count, a newest record,
each a statement, 600 and more a cycle for 200 tables. Now the checks' requests of one kind
are answered together (sidecar/checks/batch.py): a few statements a cycle, whatever the number
of tables, and a table that is missing or lacks its column still fails on its own.
"""

from pathlib import Path

import pytest

from bench.many_tables import WATCHED_ROWS, add_watched, watching
from sidecar.evaluator import Evaluator
from sidecar.results import Report, Status
from tests.support.evaluate import check, evaluator_for
from tests.support.mariadb import MariaDBTestServer

WATCHED = 200
# Statements a cycle may take for 200 tables: about what one table takes (10) plus a few per
# hundred tables for each kind of read (catalogue, count, newest record, schema).
BOUND = 20


def _evaluator(server: MariaDBTestServer, tmp_path: Path, names: list[str]) -> Evaluator:
    config = watching(names, tmp_path / "tables.toml")
    return evaluator_for(
        server,
        state_dir=tmp_path / "state",
        table=None,
        timestamp_column=None,
        config=str(config),
    )


async def _cycle(evaluator: Evaluator) -> tuple[Report, int]:
    """One cycle and the statements it sent."""
    before = evaluator.db.queries
    report = await evaluator.run_cycle()
    return report, evaluator.db.queries - before


@pytest.fixture
def names(seeded: MariaDBTestServer) -> list[str]:
    return add_watched(seeded, "app", WATCHED)


async def test_two_hundred_watched_tables_cost_a_bounded_number_of_statements(
    seeded: MariaDBTestServer, tmp_path: Path, names: list[str]
) -> None:
    evaluator = _evaluator(seeded, tmp_path, names)
    try:
        for _ in range(3):
            report, statements = await _cycle(evaluator)
            assert report.status is Status.PASS, report.reasons()[:3]
            assert statements <= BOUND
            for name in (names[0], names[99], names[100], names[-1]):
                assert check(report, f"{name}:rowCount").observed_value == WATCHED_ROWS
                latest = check(report, f"{name}:latestRecord")
                assert latest.status is Status.PASS and latest.details["indexed"] is True
    finally:
        await evaluator.aclose()


async def test_a_missing_table_and_a_missing_column_fail_alone(
    seeded: MariaDBTestServer, tmp_path: Path, names: list[str]
) -> None:
    evaluator = _evaluator(seeded, tmp_path, names)
    try:
        first, _ = await _cycle(evaluator)
        assert first.status is Status.PASS, first.reasons()[:3]
        seeded.execute(
            f"DROP TABLE {names[7]}",
            f"ALTER TABLE {names[8]} DROP COLUMN createdAt",
            database="app",
        )
        # The first cycle asks the group that failed again table by table; then only the two
        # failing tables are read on their own.
        for _ in range(2):
            report, statements = await _cycle(evaluator)
        assert statements <= BOUND + 2
        gone = check(report, f"{names[7]}:rowCount")
        assert gone.status is Status.FAIL
        assert gone.output == f"table does not exist; {WATCHED_ROWS} rows remembered"
        column = check(report, f"{names[8]}:latestRecord")
        assert column.status is Status.FAIL
        assert column.output == "column createdAt does not exist"
        failing = {c.key for c in report.checks if c.status is not Status.PASS}
        assert failing == {
            f"{names[7]}:rowCount",
            f"{names[7]}:latestRecord",
            f"{names[8]}:latestRecord",
        }
    finally:
        await evaluator.aclose()
