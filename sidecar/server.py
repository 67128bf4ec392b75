"""`sidecar serve`: the app under uvicorn, with graceful shutdown on SIGTERM/SIGINT.

`build_server` is the one place the HTTP server is put together (limits, timeouts, the HTTP
implementation), for `sidecar serve`, the demo and the benchmarks alike.
"""

import contextlib
import errno
import logging
import math
import os
import signal
import socket
from collections.abc import Iterator
from typing import Literal

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.importer import import_from_string

from sidecar import logs
from sidecar.app import create_app
from sidecar.config import ConfigError, ResolvedConfig
from sidecar.connections import (
    REQUEST_TIMEOUT,
    ConnectionBudget,
    ConnectionGuard,
    OpenFilesTooLow,
    current_budget,
    guarded_protocol,
)
from sidecar.state import StateDirectoryBusy, serving

log = logging.getLogger("sidecar.server")

HTTPImplementation = Literal["h11", "httptools"]
LoopImplementation = Literal["asyncio", "uvloop"]
# Chosen by measurement (docs/benchmarks.md, "HTTP server implementation"). Named explicitly:
# uvicorn's "auto" would switch silently to whatever happens to be installed.
HTTP: HTTPImplementation = "h11"
LOOP: LoopImplementation = "asyncio"


# The kernel's queue of connections waiting for accept(). They cost the process no descriptor,
# so it can be long: a probe that connects during a flood waits its turn instead of having its
# SYN dropped (and retried a second later). The kernel caps it at net.core.somaxconn.
LISTEN_QUEUE = 2048
# Exit codes of `serve` besides 0 (stopped when asked) and 3 (bad configuration).
EXIT_CANNOT_START = 1
EXIT_PORT_IN_USE = 4


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on (or holds) `host:port`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


class Server(uvicorn.Server):
    """uvicorn's server with a listen queue longer than the batch asyncio accepts at once."""

    def __init__(
        self, config: uvicorn.Config, guard: ConnectionGuard, handle_signals: bool = True
    ) -> None:
        super().__init__(config)
        self.guard = guard
        self.handle_signals = handle_signals

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's signal handling, unless the caller decides what a signal means."""
        if self.handle_signals:
            with super().capture_signals():
                yield
        else:
            yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        for server in getattr(self, "servers", []):
            for listener in server.sockets:
                # asyncio took its accept batch from the backlog it was given; a second
                # listen() on a duplicate descriptor lengthens only the kernel's queue.
                with socket.socket(fileno=os.dup(listener.fileno())) as dup:
                    dup.listen(LISTEN_QUEUE)


def build_server(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    graceful_timeout: int = 5,
    http: HTTPImplementation = HTTP,
    loop: LoopImplementation = LOOP,
    budget: ConnectionBudget | None = None,
    request_timeout: float = REQUEST_TIMEOUT,
    handle_signals: bool = True,
) -> Server:
    """A uvicorn server for `app` that sheds silent connections and stays within its files.

    `loop` applies when the server runs its own loop (`Server.run`); `await server.serve()`
    uses the caller's. Raises `OpenFilesTooLow` when the open-files limit leaves no room for a
    connection cap.
    """
    budget = budget or current_budget()
    guard = ConnectionGuard(budget.cap, request_timeout)
    protocol = guarded_protocol(import_from_string(HTTP_PROTOCOLS[http]), guard)
    server = Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            http=protocol,
            loop=loop,
            ws="none",
            log_config=None,  # ours, from logs.configure
            access_log=False,  # probes every second would drown the log
            lifespan="on",
            # The most the loop accepts in one pass (connections.py says why it matters).
            backlog=budget.accept_batch,
            # The guard's deadline is the idle timeout; uvicorn's own is only a backstop.
            timeout_keep_alive=math.ceil(request_timeout),
            timeout_graceful_shutdown=graceful_timeout,
            # Probes and scrapes carry small headers; anything huge is refused early.
            h11_max_incomplete_event_size=16 * 1024,
        ),
        guard,
        handle_signals,
    )
    log.info(
        "%s; a request must arrive within %gs of connecting or of the previous response",
        budget.describe(),
        request_timeout,
    )
    return server


def serve(config: ResolvedConfig) -> int:
    """Run until signalled; 0 on a clean stop, 4 when the port is taken, 1 when the server
    could not start otherwise; ConfigError when another service holds the state directory."""
    logs.configure(config.settings.log_level, config.secrets())
    try:
        with serving(config.settings.state_dir):  # held until the server has stopped
            return _serve(config)
    except StateDirectoryBusy as exc:
        raise ConfigError("SIDECAR_STATE_DIR", str(exc)) from None


def _serve(config: ResolvedConfig) -> int:
    settings = config.settings
    if port_in_use(settings.host, settings.port):
        log.error(
            "port %d on %s is in use: stop what listens there or set SIDECAR_PORT",
            settings.port,
            settings.host,
        )
        return EXIT_PORT_IN_USE
    try:
        server = build_server(
            create_app(config),
            settings.host,
            settings.port,
            graceful_timeout=max(5, int(settings.timeout) + 1),
        )
    except OpenFilesTooLow as error:
        log.error("%s", error)
        return EXIT_CANNOT_START
    log.info(
        "serving on %s:%d, checking every %ss (timeout %ss), %d table(s)",
        settings.host,
        settings.port,
        settings.interval,
        settings.timeout,
        len(config.tables),
    )
    # uvicorn re-raises the signal it caught once it has shut down gracefully, which would end
    # the process "killed by SIGTERM" (143). A stop we were asked for is a clean exit: give it
    # handlers that do nothing, which uvicorn restores and re-raises into after its shutdown.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, frame: None)
    try:
        server.run()
    except SystemExit:
        # uvicorn exits 3 when it cannot bind (taken since we looked): not bad configuration.
        log.error("could not listen on %s:%d", settings.host, settings.port)
        return EXIT_PORT_IN_USE
    return 0 if server.started else EXIT_CANNOT_START
