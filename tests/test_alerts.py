"""Webhooks on verdict changes (and only then), push pings every cycle, to a real receiver."""

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sidecar.alerts import Notifier
from sidecar.results import Report, Status
from tests.support.mariadb import MariaDBTestServer
from tests.support.receiver import receiver
from tests.support.servers import MONITOR_PASSWORD, monitor_env, running_sidecar, wait_for


def test_webhook_fires_on_each_transition_and_only_then(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    with receiver() as (url, received):
        env = monitor_env(seeded, webhook_url=f"{url}/hook")
        with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
            sidecar.wait_status("pass")
            sidecar.wait_cycles(3)  # a few passing cycles: nothing to say
            assert received.posts == []  # a healthy start is no news
            seeded.stop()
            wait_for(lambda: len(received.posts) == 1, 10, "the failure webhook")
            sidecar.wait_cycles(3)  # several failing cycles: still one message, no storm
            assert len(received.posts) == 1
            failure = received.posts[0]
            assert failure["status"] == "fail" and failure["previous"] == "pass"
            assert failure["text"].startswith("sidecar: database verdict is FAIL (was pass): ")
            # Checks failing for the same reason share one clause (here: the database is down).
            assert (
                "database:connection, User:rowCount, User:latestRecord: cannot connect"
                in (failure["text"])
            )
            seeded.start()
            wait_for(lambda: len(received.posts) == 2, 10, "the recovery webhook")
            assert received.posts[1]["status"] == "pass"
            assert received.posts[1]["previous"] == "fail"
        for post in received.posts:
            assert MONITOR_PASSWORD not in str(post)


def test_push_pings_every_cycle_with_a_failure_marker(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    with receiver() as (url, received):
        env = monitor_env(seeded, push_url=f"{url}/api/push/abc?status=up&msg=OK&ping=")
        with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
            sidecar.wait_status("pass")
            wait_for(lambda: len(received.gets) >= 2, 10, "two pushes")
            assert all("status=up" in path for path in received.gets)
            assert all(path.count("status=") == 1 for path in received.gets)
            seeded.stop()
            wait_for(lambda: "status=down" in received.gets[-1], 10, "a down push")
            assert "cannot+connect" in received.gets[-1] or "cannot%20connect" in received.gets[-1]


def test_unreachable_webhook_never_delays_the_loop(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    with receiver() as (url, received):
        received.answer = 500  # the receiver is broken: retries, then give up
        env = monitor_env(seeded, webhook_url=url)
        with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
            sidecar.wait_status("pass")
            seeded.stop()
            sidecar.wait_status("fail")
            # The loop keeps its pace while deliveries are retried.
            sidecar.wait_cycles(2, timeout=6)
            wait_for(lambda: len(received.posts) >= 3, 15, "three delivery attempts")


def _endless_body(conn: socket.socket) -> None:
    """A 200 announcing 10 GB, then zeros for as long as anyone reads."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n")
    while True:
        conn.sendall(bytes(65536))


def _trickled_head(conn: socket.socket) -> None:
    """The status line a byte at a time, each well within a per-read timeout."""
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
        conn.sendall(bytes([byte]))
        time.sleep(0.25)


@contextlib.contextmanager
def _hostile_receiver(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A real TCP server that reads a request and answers it with `answer`."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.recv(65536)
                answer(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/push/k"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=10)


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [(_endless_body, "delivered"), (_trickled_head, "failed")],
    ids=["endless-body", "trickled-head"],
)
def test_a_hostile_receiver_costs_one_bounded_attempt(
    answer: Callable[[socket.socket], None], outcome: str
) -> None:
    """A push receiver whose body never ends is done with at its headers (nothing read into
    memory); one that trickles its answer gives up at the attempt's timeout, not per byte."""
    with _hostile_receiver(answer) as url:

        async def push() -> Notifier:
            notifier = Notifier(None, url, backoff=0, timeout=1.0)
            await notifier.start()
            await notifier.on_report(Report(Status.PASS, (), time.time(), time.time()))
            await notifier.drain(timeout=30)
            await notifier.stop()
            return notifier

        began = time.monotonic()
        notifier = asyncio.run(push())
        took = time.monotonic() - began
    assert (notifier.delivered, notifier.failed) == ((1, 0) if outcome == "delivered" else (0, 1))
    assert took < 3 * 1.0 + 2, took  # three attempts of 1 s at most, and some slack
