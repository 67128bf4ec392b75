"""A real local HTTP server that records what it receives (webhooks, push pings)."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Received:
    """Requests seen so far, and the status to answer with."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.gets: list[str] = []
        self.answer = 200
        self.lock = threading.Lock()


@contextmanager
def receiver() -> Iterator[tuple[str, Received]]:
    """A server on a free port; yields its base URL and what it received."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"null")
            with received.lock:
                received.posts.append(body)
            self._reply()

        def do_GET(self) -> None:
            with received.lock:
                received.gets.append(self.path)
            self._reply()

        def _reply(self) -> None:
            self.send_response(received.answer)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
