"""Request bodies: a deadline and a size cap, and a client that leaves mid-body is no error.

The connection guard (connections.py) gives a request head `REQUEST_TIMEOUT` to arrive; once
the head is in, the request is being served and the guard waits for it. A body trickled at a
byte a second would then hold the connection for as long as it lasted (a 4 KB form: an hour).
So the body gets the same deadline, counted from its head, and bytes trickling in do not
extend it: 408 and the connection closed. The only body the sidecar takes is the status page's
form (a token and a page): more than `MAX_BODY` is refused with 413, as declared or as counted.

A client that closes before its body is complete (Starlette raises `ClientDisconnect`) is one
line at debug: nobody is left to answer, and a traceback at ERROR for each one would be a cheap
way to fill a disk and trip log alerts.
"""

import asyncio
import logging

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sidecar.connections import REQUEST_TIMEOUT

log = logging.getLogger("sidecar.request_bodies")

# The status page's form: a token and a page, far smaller than this.
MAX_BODY = 4096


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _body_framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared Content-Length (None if none) and whether the body is chunked."""
    length, chunked = None, False
    for name, value in scope["headers"]:
        if name == b"content-length":
            # h11 and httptools refuse a malformed length before the app runs; stay safe anyway.
            length = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "a client"


async def _refuse(send: Send, status: int, reason: str) -> None:
    body = f"{reason}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            # The rest of the body may still be on its way: this connection is done.
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimits:
    """ASGI middleware: a request body arrives within `timeout` of its head, holds at most
    `max_bytes`, and a client leaving before it is complete is a debug line."""

    def __init__(
        self, app: ASGIApp, timeout: float = REQUEST_TIMEOUT, max_bytes: int = MAX_BODY
    ) -> None:
        self.app = app
        self.timeout = timeout
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared, chunked = _body_framing(scope) if scope["type"] == "http" else (None, False)
        if not declared and not chunked:
            # No body (every probe and scrape): nothing to bound, and nothing added per request.
            await self.app(scope, receive, send)
            return
        too_large = f"request body too large (at most {self.max_bytes} bytes)"
        if declared is not None and declared > self.max_bytes:
            await _refuse(send, 413, too_large)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout
        received = 0
        complete = False
        responding = False

        async def bounded_receive() -> Message:
            nonlocal received, complete
            if complete:
                # The body is in: what is left to hear is a disconnect, on no deadline.
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _Refused(408, f"request body not complete within {self.timeout:g}s") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > self.max_bytes:
                    raise _Refused(413, too_large)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal responding
            responding = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracked_send)
        except _Refused as refused:
            log.debug("%s: %s %s: %s", _client(scope), scope["method"], scope["path"], refused)
            if not responding:
                await _refuse(send, refused.status, str(refused))
        except ClientDisconnect:
            log.debug(
                "%s went away before its request body was complete (%s %s)",
                _client(scope),
                scope["method"],
                scope["path"],
            )
