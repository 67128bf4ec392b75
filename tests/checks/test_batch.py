"""The coalescer the table checks share: requests made together, one run (no server needed)."""

import asyncio
from collections.abc import Sequence

import pytest

from sidecar.checks.batch import Coalescer, by_weight, grouped
from sidecar.engines.base import DatabaseError, ErrorKind


async def test_requests_made_together_are_answered_by_one_run() -> None:
    runs: list[list[int]] = []

    async def run(keys: list[int]) -> dict[int, int | DatabaseError]:
        runs.append(sorted(keys))
        return {k: k * 10 for k in keys}

    together = Coalescer(run)

    async def one(key: int) -> int:
        await asyncio.sleep(0)  # a check's own await before it asks
        return await together.get(key)

    assert await asyncio.gather(*(one(k) for k in range(50))) == [k * 10 for k in range(50)]
    assert runs == [list(range(50))]


async def test_a_waiter_that_gives_up_leaves_the_answer_to_the_others() -> None:
    release = asyncio.Event()

    async def run(keys: list[str]) -> dict[str, str | DatabaseError]:
        await release.wait()
        return {k: k.upper() for k in keys}

    together = Coalescer(run)
    patient = asyncio.create_task(together.get("b"))
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await together.get("a")
    release.set()
    assert await patient == "B"


async def test_an_error_reaches_every_waiter_of_its_key() -> None:
    async def run(keys: list[str]) -> dict[str, str | DatabaseError]:
        gone = DatabaseError(ErrorKind.MISSING_TABLE, "table does not exist")
        return {k: gone if k == "gone" else k for k in keys}

    together = Coalescer(run)
    results = await asyncio.gather(
        together.get("kept"), together.get("gone"), return_exceptions=True
    )
    assert results[0] == "kept"
    assert isinstance(results[1], DatabaseError) and results[1].kind is ErrorKind.MISSING_TABLE


async def test_a_group_failing_for_one_table_is_asked_again_key_by_key() -> None:
    asked: list[list[str]] = []

    async def ask(group: Sequence[str]) -> list[int]:
        asked.append(list(group))
        if "gone" in group:
            raise DatabaseError(ErrorKind.MISSING_TABLE, "table does not exist")
        return [len(k) for k in group]

    answers = await grouped([["a", "gone", "ccc"]], ask)
    assert answers["a"] == 1 and answers["ccc"] == 3
    assert isinstance(answers["gone"], DatabaseError)
    assert asked == [["a", "gone", "ccc"], ["a"], ["gone"], ["ccc"]]


async def test_a_group_failing_for_every_table_is_not_asked_again() -> None:
    asked: list[list[str]] = []

    async def ask(group: Sequence[str]) -> list[int]:
        asked.append(list(group))
        raise DatabaseError(ErrorKind.TIMEOUT, "query timed out")

    answers = await grouped([["a", "b"]], ask)
    assert all(isinstance(a, DatabaseError) for a in answers.values())
    assert asked == [["a", "b"]]


def test_groups_hold_a_bounded_number_of_keys_and_of_rows() -> None:
    rows = {"a": 150_000, "b": 100_000, "c": 10, "d": 10, "e": 900_000, "f": 1}
    groups = by_weight(list(rows), rows.__getitem__, most=2, heaviest=200_000)
    assert groups == [["a"], ["b", "c"], ["d"], ["e"], ["f"]]
