"""A flood of silent connections against a server, with `/livez` probed throughout.

Each silent connection sends half a request head and then nothing, as an attacker (or a
broken client) would. Meanwhile a prober asks `/livez` on a fresh connection every
`probe_every` seconds, as an orchestrator does, and every silent connection is watched for the
server closing it. Shared by the benchmark (bench/http_impl.py) and the test that pins the
behaviour (tests/hostile/test_silent_connections.py).
"""

import asyncio
import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field

from bench.measure import rss_mib

HALF_A_REQUEST = b"GET /readyz HTTP/1.1\r\nHost: sidecar\r\nX-Slow: "
PROBE = b"GET /livez HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n"


@dataclass
class FloodResult:
    """What the prober and the silent connections saw."""

    count: int
    opened: int
    open_seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, /livez answered 200
    failures: list[str] = field(default_factory=list)  # probes that failed, and how
    closed_by_server: int = 0
    # Seconds from the last silent connection opened until the server had closed them all.
    all_closed_after: float | None = None
    rss_mib: list[float] = field(default_factory=list)

    @property
    def worst(self) -> float:
        """The slowest /livez answer in seconds (inf when a probe failed)."""
        return float("inf") if self.failures else max(self.latencies, default=0.0)

    def percentile(self, fraction: float) -> float:
        """A latency percentile of the answered probes, in seconds."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def probe_once(port: int, timeout: float) -> float:
    """One `/livez` on a fresh connection; its latency in seconds, or raise why it failed."""
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(PROBE)
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
            if time.monotonic() - began > timeout:
                raise TimeoutError(f"no complete answer within {timeout:g}s")
    reply = b"".join(chunks)
    status = reply.split(b" ", 2)[1] if reply.count(b" ") >= 2 else b"(none)"
    if status != b"200":
        took = time.monotonic() - began
        shown = status.decode(errors="replace")
        raise RuntimeError(f"status {shown} after {took:.3f}s ({len(reply)} bytes)")
    return time.monotonic() - began


def _prober(
    port: int, every: float, timeout: float, stop: threading.Event, result: FloodResult
) -> None:
    # A thread of its own, as an orchestrator is a process of its own: the flood's event loop
    # must not delay a probe's request, or the server rightly takes the probe for silent.
    while not stop.is_set():
        try:
            result.latencies.append(probe_once(port, timeout))
        except (OSError, RuntimeError) as error:
            result.failures.append(f"{time.strftime('%H:%M:%S')} {type(error).__name__}: {error}")
        stop.wait(every)


async def _silent(port: int, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HALF_A_REQUEST)
    return reader, writer


async def _closed(reader: asyncio.StreamReader) -> float:
    """Wait until the server closes (EOF or reset); the monotonic time it did."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass
    return time.monotonic()


async def _sample_rss(pid: int, stop: asyncio.Event, result: FloodResult) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError, RuntimeError):
            result.rss_mib.append(rss_mib(pid))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.1):
                await stop.wait()


async def silent_flood(
    port: int,
    count: int,
    watch: float,
    *,
    pid: int | None = None,
    probe_every: float = 0.05,
    probe_timeout: float = 2.0,
    connect_timeout: float = 5.0,
) -> FloodResult:
    """Open `count` silent connections at once, then watch for `watch` seconds.

    The prober runs from before the first silent connection until the end of the watch, which
    ends early once the server has closed every silent connection.
    """
    stop = asyncio.Event()
    stop_probing = threading.Event()
    result = FloodResult(count, 0, 0.0)
    prober = threading.Thread(
        target=_prober, args=(port, probe_every, probe_timeout, stop_probing, result)
    )
    prober.start()
    background = [asyncio.create_task(_sample_rss(pid, stop, result))] if pid is not None else []
    began = time.monotonic()
    opened = await asyncio.gather(
        *(_silent(port, connect_timeout) for _ in range(count)), return_exceptions=True
    )
    streams = [s for s in opened if not isinstance(s, BaseException)]
    result.opened = len(streams)
    result.open_seconds = time.monotonic() - began
    last_opened = time.monotonic()
    watchers = [asyncio.create_task(_closed(reader)) for reader, _ in streams]
    try:
        done, _ = await asyncio.wait(watchers, timeout=watch) if watchers else (set(), set())
        result.closed_by_server = len(done)
        if watchers and len(done) == len(watchers):
            result.all_closed_after = max(t.result() for t in done) - last_opened
    finally:
        stop.set()
        stop_probing.set()
        for task in watchers:
            task.cancel()
        for _, writer in streams:
            writer.close()
        await asyncio.gather(*background, *watchers, return_exceptions=True)
        await asyncio.to_thread(prober.join)
    return result
