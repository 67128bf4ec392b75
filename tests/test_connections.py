"""The connection budget and guard, on a real uvicorn server in-process (`build_server`) with a
tiny app, a short request deadline and a small cap: deadlines, keep-alive, shedding."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import NamedTuple

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sidecar.connections import ConnectionBudget, ConnectionGuard, OpenFilesTooLow, budget_for
from sidecar.demo.throwaway import free_port
from sidecar.server import build_server

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Served(NamedTuple):
    port: int
    guard: ConnectionGuard


HALF = b"GET /livez HTTP/1.1\r\nHost: t\r\n"
REQUEST = HALF + b"\r\n"


@pytest.mark.parametrize(
    ("open_files", "accept_batch", "cap"),
    [
        (1024, 64, 1024 - 64 - 4 * 64),  # a container's usual limit
        (256, 16, 256 - 64 - 4 * 16),
        (4096, 128, 1024),  # plenty of files: the ceiling bounds memory instead
        (1_048_576, 128, 1024),
    ],
)
def test_budget_keeps_a_reserve_and_room_for_accept_batches(
    open_files: int, accept_batch: int, cap: int
) -> None:
    """The cap leaves 64 files in reserve and four accept batches of headroom."""
    budget = budget_for(open_files)
    assert (budget.reserved, budget.accept_batch, budget.cap) == (64, accept_batch, cap)
    assert str(cap) in budget.describe() and str(open_files) in budget.describe()


def test_a_limit_too_low_for_any_cap_is_refused_with_the_number_needed() -> None:
    """Below what a useful cap needs, start-up is refused, naming the limit to set."""
    with pytest.raises(OpenFilesTooLow, match=r"open-files limit 100 .* at least 144"):
        budget_for(100)


async def livez(request: Request) -> Response:
    return PlainTextResponse("ok\n")


@contextlib.asynccontextmanager
async def serving(cap: int = 100, request_timeout: float = 0.5) -> AsyncIterator[Served]:
    """`build_server` around a one-route app on a free port."""
    app = Starlette(routes=[Route("/livez", livez)])
    port = free_port()
    budget = ConnectionBudget(open_files=1024, reserved=64, accept_batch=16, cap=cap)
    server = build_server(app, "127.0.0.1", port, budget=budget, request_timeout=request_timeout)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "server did not start"
        await asyncio.sleep(0.01)
    try:
        yield Served(port, server.guard)
    finally:
        server.should_exit = True
        await task


async def until(condition: Callable[[], bool], timeout: float = 5) -> None:
    """Poll `condition` without blocking the in-process server; fail after `timeout`."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the guard has no event to wait on
            await asyncio.sleep(0.01)


async def connect(port: int, first: bytes = HALF) -> Stream:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(first)
    await writer.drain()
    return reader, writer


async def closed_within(stream: Stream, seconds: float) -> bool:
    """True when the server closes `stream` (EOF or reset) within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while await stream[0].read(4096):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


async def answered(stream: Stream, rest: bytes = b"\r\n") -> bool:
    """Finish (or send) a request on `stream`: True when a 200 comes back."""
    reader, writer = stream
    writer.write(rest)
    try:
        async with asyncio.timeout(5):
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(3)  # "ok\n"
    except (asyncio.IncompleteReadError, ConnectionError):
        return False
    return head.startswith(b"HTTP/1.1 200")


async def test_a_half_sent_request_is_aborted_after_the_deadline() -> None:
    """Half a request head, then nothing: the server hangs up once the deadline passes."""
    async with serving(request_timeout=0.5) as (port, _):
        began = time.monotonic()
        stream = await connect(port)
        assert await closed_within(stream, 10)
        assert time.monotonic() - began >= 0.45


async def test_trickled_bytes_do_not_extend_the_deadline() -> None:
    """A byte every 100 ms (slow loris) still has to finish the head within the deadline."""
    async with serving(request_timeout=0.5) as (port, _):
        reader, writer = await connect(port, b"GET /livez HTTP/1.1\r\n")
        began = time.monotonic()
        with contextlib.suppress(ConnectionError):
            while not reader.at_eof() and time.monotonic() - began < 10:
                writer.write(b"X")
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.1):
                        await reader.read(4096)
        assert time.monotonic() - began < 2, "trickling kept the connection open"
        writer.close()


async def test_a_keep_alive_connection_gets_a_fresh_deadline_after_each_response() -> None:
    """Requests 0.3 s apart on one connection outlive a 0.5 s deadline; idleness does not."""
    async with serving(request_timeout=0.5) as (port, _):
        stream = await connect(port, b"")
        for _ in range(4):
            assert await answered(stream, REQUEST)
            await asyncio.sleep(0.3)
        assert await closed_within(stream, 10)


async def test_at_the_cap_the_connection_idle_longest_is_shed() -> None:
    """With 3 open at a cap of 3, a new connection displaces the one idle longest, not the
    one that was answered most recently, and the newcomer is served."""
    async with serving(cap=3, request_timeout=30) as (port, guard):
        first = await connect(port, b"")
        second = await connect(port)
        third = await connect(port)
        await until(lambda: len(guard) == 3)  # registered in this order
        assert await answered(first, REQUEST)  # the oldest is now the most recently active
        newcomer = await connect(port)
        assert await closed_within(second, 5)
        assert await answered(newcomer)
        assert await answered(first, REQUEST)
        assert await answered(third)
