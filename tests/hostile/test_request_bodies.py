"""Request bodies against a real `sidecar serve` at debug, over raw sockets (issue 20, rows 8
and 12): a client that declares a body and leaves early is one debug line, never a traceback;
a body trickled a byte at a time gets 408 at the head's deadline instead of holding the
connection for an hour; a body past the cap is refused as declared or as counted."""

import socket
import struct
import time
from collections.abc import Iterator

import pytest

from sidecar.connections import REQUEST_TIMEOUT
from sidecar.demo.throwaway import free_port
from sidecar.request_bodies import MAX_BODY
from tests.hostile.test_odd_http import raw
from tests.support.servers import SidecarProcess, wait_for

TOKEN = "Body-Token-62c4"
LEFT = "went away before its request body was complete"
CRASHED = "Exception in ASGI application"


def _head(length: int | None = None, chunked: bool = False) -> bytes:
    head = b"POST /status/login HTTP/1.1\r\nHost: x\r\n"
    head += b"Content-Type: application/x-www-form-urlencoded\r\n"
    if length is not None:
        head += b"Content-Length: %d\r\n" % length
    if chunked:
        head += b"Transfer-Encoding: chunked\r\n"
    return head + b"\r\n"


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarProcess]:
    """A sidecar at debug with a details token; the status page needs no database."""
    base = tmp_path_factory.mktemp("bodies")
    env = {
        "SIDECAR_DB_URL": f"mysql://monitor:unused@127.0.0.1:{free_port()}/app",
        "SIDECAR_TABLE": "User",
        "SIDECAR_DETAILS_TOKEN": TOKEN,
        "SIDECAR_LOG_LEVEL": "debug",
        "SIDECAR_INTERVAL": "30s",  # few cycles: their debug lines are not what is read here
    }
    process = SidecarProcess(env, base / "sidecar.log").start()
    try:
        yield process
    finally:
        process.stop()


def test_clients_that_leave_mid_body_are_one_debug_line_each(sidecar: SidecarProcess) -> None:
    """200 logins declaring 100 bytes and closing after 10 (half with a FIN, half with a
    reset, as a shed connection ends): 200 lines at debug, no traceback, nothing at ERROR."""
    for index in range(200):
        sock = socket.create_connection(("127.0.0.1", sidecar.port), timeout=5)
        if index % 2:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.sendall(_head(100) + b"token=abcd")
        sock.close()

    def settled() -> bool:
        log = sidecar.log()
        return log.count(LEFT) + log.count(CRASHED) >= 200

    wait_for(settled, 30, "200 disconnects to be logged", last=lambda: sidecar.log()[-2000:])
    log = sidecar.log()
    assert CRASHED not in log and "Traceback" not in log, log[-4000:]
    assert "ClientDisconnect" not in log and " ERROR " not in log, log[-4000:]
    assert log.count(LEFT) == 200
    assert all(
        " DEBUG sidecar.request_bodies: " in line for line in log.splitlines() if LEFT in line
    )
    assert sidecar.get("/livez").status_code == 200


def test_a_trickled_body_gets_408_at_the_deadline(sidecar: SidecarProcess) -> None:
    """A form declared at 4,000 bytes and sent a byte every 0.2 s: a 408 and a closed
    connection within the request deadline of its head, not when the form is complete."""
    with socket.create_connection(("127.0.0.1", sidecar.port), timeout=5) as sock:
        sock.sendall(_head(4000))
        sent_at = time.monotonic()
        sock.settimeout(0.2)  # the trickle's pace, and how soon an answer is noticed
        reply = b""
        # Until the server closes; the test gives up by itself past the deadline + 3 s.
        while time.monotonic() - sent_at < REQUEST_TIMEOUT + 3:
            try:
                sock.sendall(b"a")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if not chunk:
                break
            reply += chunk
        took = time.monotonic() - sent_at
    assert reply.startswith(b"HTTP/1.1 408 "), (took, reply[:300])
    assert b"request body not complete within 5s" in reply
    assert REQUEST_TIMEOUT - 0.5 < took < REQUEST_TIMEOUT + 3, took
    assert sidecar.get("/livez").status_code == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(_head(1_000_000_000), id="declared-1GB"),
        pytest.param(_head(MAX_BODY + 1) + b"a" * (MAX_BODY + 1), id="declared-just-over"),
        pytest.param(
            _head(chunked=True) + b"".join(b"400\r\n" + b"a" * 1024 + b"\r\n" for _ in range(5)),
            id="chunked-5KB",
        ),
    ],
)
def test_a_body_past_the_cap_is_refused_with_413(
    sidecar: SidecarProcess, request_bytes: bytes
) -> None:
    """Refused as declared (without reading it) or as counted when chunked; connection closed."""
    reply = raw(sidecar.port, request_bytes, timeout=5)
    assert reply.startswith(b"HTTP/1.1 413 "), reply[:300]
    assert b"connection: close" in reply.lower()
    assert sidecar.get("/livez").status_code == 200


def test_a_login_of_ordinary_size_still_buys_the_cookie(sidecar: SidecarProcess) -> None:
    """The limits leave the form itself alone."""
    response = sidecar.client.post("/status/login", data={"token": TOKEN, "back": "/status"})
    assert response.status_code == 303 and "sidecar_details" in response.cookies
