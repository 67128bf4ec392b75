"""Odd HTTP against a real `sidecar serve`: oversized heads, unknown methods, garbage bytes,
half-open connections, HAProxy's `OPTIONS /`. Each is refused or answered, never a crash, and
the sidecar keeps serving probes afterwards."""

import contextlib
import json
import socket
import time

import pytest

from tests.hostile.conftest import DETAILS_TOKEN
from tests.support.servers import SidecarProcess

PATHS = ["/livez", "/readyz", "/health", "/metrics"]


def raw(port: int, data: bytes, timeout: float = 3.0) -> bytes:
    """Send `data` on a fresh connection; return what came back until close or timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # the server may hang up before we finish sending an oversized request
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"Connection: close" not in chunk:
                break
    return b"".join(chunks)


def status_of(reply: bytes) -> int | None:
    """The status code of a raw HTTP reply, None when the server just hung up."""
    if not reply:
        return None
    return int(reply.split(b" ", 2)[1])


def still_serving(sidecar: SidecarProcess) -> None:
    assert sidecar.process is not None and sidecar.process.poll() is None, sidecar.log()
    assert sidecar.get("/livez").status_code == 200
    assert sidecar.get("/readyz").status_code == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(
            b"GET /readyz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n",
            id="one-1MB-header",
        ),
        pytest.param(
            b"GET /readyz HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 50) for i in range(5000))
            + b"\r\n",
            id="5000-headers",
        ),
        pytest.param(b"GET /" + b"r" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", id="200KB-path"),
        pytest.param(
            b"GET /readyz HTTP/1.1\r\nHost: x\r\nCookie: " + b"c=1; " * 100_000 + b"\r\n\r\n",
            id="500KB-cookie",
        ),
    ],
)
def test_oversized_requests_are_refused_and_serving_goes_on(
    live_sidecar: SidecarProcess, request_bytes: bytes
) -> None:
    """A huge request head gets a 4xx or a closed connection, never a 5xx or a crash."""
    reply = raw(live_sidecar.port, request_bytes)
    code = status_of(reply)
    assert code is None or 400 <= code < 500, reply[:200]
    still_serving(live_sidecar)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # a TLS ClientHello
        b"\x00" * 4096,
        b"GET /readyz HTTP/9.9\r\n\r\n",
        b"GET /readyz\r\n\r\n",  # HTTP/0.9
        b"GET /readyz HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"GET /readyz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET /réadyz HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        b"GET /readyz HTTP/1.1\r\nHost: x\r\nX: \xff\xfe\r\n\r\n",
    ],
    ids=[
        "tls",
        "nul",
        "http-9.9",
        "http-0.9",
        "negative-length",
        "bad-chunk",
        "utf8-path",
        "binary-header",
    ],
)
def test_garbage_on_the_wire_never_takes_the_sidecar_down(
    live_sidecar: SidecarProcess, garbage: bytes
) -> None:
    """Malformed requests get a 4xx (or an answer, or a hang-up), never a 5xx."""
    code = status_of(raw(live_sidecar.port, garbage))
    assert code is None or code < 500 or code == 503
    still_serving(live_sidecar)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE", "FROB"])
@pytest.mark.parametrize("path", PATHS)
def test_unknown_methods_get_405_with_allow(
    live_sidecar: SidecarProcess, method: str, path: str
) -> None:
    """Only GET and HEAD are served: anything else is 405 naming them."""
    response = live_sidecar.client.request(method, path)
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}


def test_haproxy_default_options_check_gets_the_verdict(live_sidecar: SidecarProcess) -> None:
    """Bare `option httpchk` sends `OPTIONS / HTTP/1.0`: it gets 200 and the verdict."""
    reply = raw(live_sidecar.port, b"OPTIONS / HTTP/1.0\r\n\r\n")
    assert status_of(reply) == 200, reply
    assert reply.endswith(b"pass\n")
    assert live_sidecar.client.options("/").status_code == 200


@pytest.mark.parametrize("path", PATHS)
def test_head_answers_like_get_without_a_body(live_sidecar: SidecarProcess, path: str) -> None:
    """HEAD has GET's status and content type, and no body."""
    get, head = live_sidecar.get(path), live_sidecar.client.head(path)
    assert head.status_code == get.status_code
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.content == b""


def test_unknown_paths_and_traversal_are_404(live_sidecar: SidecarProcess) -> None:
    """No static files, no path tricks: anything off the four paths is 404."""
    for path in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/health/",
        "/HEALTH",
        "/health%00",
        "/readyz/../health/x",
        "/docs",
        "/openapi.json",
    ]:
        code = status_of(raw(live_sidecar.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()))
        assert code in (307, 404, 400), (path, code)
    still_serving(live_sidecar)


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {DETAILS_TOKEN}x",
        f"Bearer {DETAILS_TOKEN[:-1]}",
        f"Bearer{DETAILS_TOKEN}",
        f"Basic {DETAILS_TOKEN}",
        "Basic " + "A" * 8000,
    ],
)
def test_a_wrong_token_gets_the_status_only(
    live_sidecar: SidecarProcess, authorization: str
) -> None:
    """Near-miss tokens are treated as anonymous: status, no checks, no details."""
    request = f"GET /health HTTP/1.0\r\nAuthorization: {authorization}\r\n\r\n"
    reply = raw(live_sidecar.port, request.encode())
    assert status_of(reply) == 200, reply[:200]
    assert json.loads(reply.partition(b"\r\n\r\n")[2]) == {"status": "pass"}


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {DETAILS_TOKEN}", f"bearer {DETAILS_TOKEN}", f"BEARER  {DETAILS_TOKEN}"],
)
def test_the_token_is_accepted_whatever_the_case_of_its_scheme(
    live_sidecar: SidecarProcess, authorization: str
) -> None:
    """RFC 7235: the auth scheme is case-insensitive, and one or more spaces follow it."""
    for path in ("/health", "/metrics"):
        request = f"GET {path} HTTP/1.0\r\nAuthorization: {authorization}\r\n\r\n"
        reply = raw(live_sidecar.port, request.encode())
        assert status_of(reply) == 200, reply[:200]
        assert b"User:rowCount" in reply or b"sidecar_table_rows" in reply


def test_metrics_are_details_too(live_sidecar: SidecarProcess) -> None:
    """Row counts and marks need the token on /metrics as on /health."""
    reply = raw(live_sidecar.port, b"GET /metrics HTTP/1.0\r\n\r\n")
    assert status_of(reply) == 401
    assert b"www-authenticate: bearer" in reply.lower() and b"sidecar_table_rows" not in reply


def test_half_open_connections_do_not_block_probes(live_sidecar: SidecarProcess) -> None:
    """200 clients that send half a request and stall: probes are still answered at once."""
    stalled = []
    try:
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", live_sidecar.port), timeout=3)
            sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            stalled.append(sock)
        began = time.monotonic()
        for _ in range(20):
            assert live_sidecar.get("/readyz").status_code == 200
        assert time.monotonic() - began < 2.0
    finally:
        for sock in stalled:
            sock.close()
    still_serving(live_sidecar)
