"""Reads of one kind that a cycle's checks ask for together, answered in few statements.

Each table check asks about its own table: a configuration of 200 tables would send 200
statements of each kind every cycle. The checks of a cycle start together (and wake together
when a shared answer arrives), so a `Coalescer` collects what they ask within a few turns of
the event loop and answers all of it in one call of its `run`, which groups the keys into as
few statements as their cost allows. Each cycle has its own (`ObserveContext.batch`): nothing
is cached across cycles.
"""

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from sidecar.engines.base import DatabaseError, ErrorKind

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Turns of the event loop a coalescer waits for more requests before it runs: checks woken by
# the same answer resume within one or two turns, each behind a few awaits of its own.
SETTLE = 4
# Errors one table of a group causes alone: the group is asked again key by key, so every
# check gets its own answer (and the missing table its own "does not exist").
ATTRIBUTABLE = frozenset({ErrorKind.MISSING_TABLE, ErrorKind.MISSING_COLUMN, ErrorKind.PERMISSION})


def _retrieved(future: "asyncio.Future[Any]") -> None:
    # A waiter that timed out no longer reads its answer: an error left unread is no news.
    if not future.cancelled():
        future.exception()


class Coalescer(Generic[K, V]):
    """Answers `get(key)` calls made together with one call of `run(keys)`."""

    def __init__(self, run: Callable[[list[K]], Awaitable[Mapping[K, V | DatabaseError]]]) -> None:
        self._run = run
        self._pending: dict[K, asyncio.Future[V]] = {}
        self._draining: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak refs

    async def get(self, key: K) -> V:
        """The answer for `key`; raises the `DatabaseError` that stood in its way."""
        future = self._pending.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            future.add_done_callback(_retrieved)
            self._pending[key] = future
            if self._draining is None:
                self._draining = asyncio.create_task(self._drain())
                self._tasks.add(self._draining)
                self._draining.add_done_callback(self._tasks.discard)
        # Shielded: one check running out of budget must not cancel the others' answer.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        for _ in range(SETTLE):
            await asyncio.sleep(0)
        batch, self._pending, self._draining = self._pending, {}, None
        try:
            answers = await self._run(list(batch))
        except DatabaseError as exc:
            answers = dict.fromkeys(batch, exc)
        except BaseException:
            for future in batch.values():
                future.cancel()
            raise
        for key, future in batch.items():
            answer = answers[key]
            if isinstance(answer, DatabaseError):
                future.set_exception(answer)
            else:
                future.set_result(answer)


async def grouped(
    groups: Iterable[Sequence[K]], ask: Callable[[Sequence[K]], Awaitable[Sequence[V]]]
) -> dict[K, V | DatabaseError]:
    """`ask` each group (concurrently) for one answer per key. A group that fails because of
    one of its tables (missing, not granted) is asked again key by key."""

    async def one_group(group: Sequence[K]) -> dict[K, V | DatabaseError]:
        try:
            return dict(zip(group, await ask(group), strict=True))
        except DatabaseError as exc:
            if exc.kind not in ATTRIBUTABLE or len(group) == 1:
                return dict.fromkeys(group, exc)
        answers: dict[K, V | DatabaseError] = {}
        for key in group:
            try:
                (answers[key],) = await ask([key])
            except DatabaseError as exc:
                answers[key] = exc
        return answers

    answers: dict[K, V | DatabaseError] = {}
    for part in await asyncio.gather(*(one_group(g) for g in groups)):
        answers.update(part)
    return answers


def by_weight(
    keys: Sequence[K], weight: Callable[[K], int], most: int, heaviest: int
) -> list[list[K]]:
    """`keys` in groups of at most `most` keys whose weights add up to at most `heaviest`
    (a key heavier than that alone)."""
    groups: list[list[K]] = []
    current: list[K] = []
    load = 0
    for key in keys:
        w = max(0, weight(key))
        if current and (len(current) >= most or load + w > heaviest):
            groups.append(current)
            current, load = [], 0
        current.append(key)
        load += w
    if current:
        groups.append(current)
    return groups
