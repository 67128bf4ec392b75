"""`sidecar probe`'s hand-written URL handling and HTTP status reading."""

import http.server
import threading
from collections.abc import Iterator

import pytest

from sidecar.probe import _split, main, probe


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("http://127.0.0.1:8080/readyz", (False, "127.0.0.1", 8080, "/readyz")),
        ("http://sidecar/readyz?x=1", (False, "sidecar", 80, "/readyz?x=1")),
        ("https://db.example", (True, "db.example", 443, "/")),
        ("http://[::1]:9000/livez", (False, "::1", 9000, "/livez")),
    ],
)
def test_urls_are_split(url: str, parts: tuple[bool, str, int, str]) -> None:
    assert _split(url) == parts


@pytest.mark.parametrize("url", ["ftp://x/", "127.0.0.1:8080", "http://:80/", "http://u@h/"])
def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        _split(url)


@pytest.fixture
def answering() -> Iterator[dict[str, int]]:
    """A real HTTP server answering every GET with the status in `state["status"]`."""
    state = {"status": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(state["status"])
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["port"] = server.server_address[1]
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_2xx_is_0_anything_else_is_1(answering: dict[str, int]) -> None:
    url = f"http://127.0.0.1:{answering['port']}/readyz"
    for status, code in ((200, 0), (204, 0), (301, 1), (503, 1)):
        answering["status"] = status
        assert probe(url, 2) == code, status


def test_bad_arguments_exit_2() -> None:
    assert main(["--timeout", "soon"]) == 2
    assert main(["a", "b"]) == 2
