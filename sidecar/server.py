"""`sidecar serve`: the app under uvicorn, with graceful shutdown on SIGTERM/SIGINT."""

import logging
import signal

import uvicorn

from sidecar import logs
from sidecar.app import create_app
from sidecar.config import ResolvedConfig

log = logging.getLogger("sidecar.server")


def serve(config: ResolvedConfig) -> int:
    """Run until signalled; 0 on a clean stop, 1 when the server could not start."""
    settings = config.settings
    logs.configure(settings.log_level, config.secrets())
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,  # ours, from logs.configure
            access_log=False,  # probes every second would drown the log
            lifespan="on",
            timeout_graceful_shutdown=max(5, int(settings.timeout) + 1),
            # Probes and scrapes carry small headers; anything huge is refused early.
            h11_max_incomplete_event_size=16 * 1024,
        )
    )
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
    server.run()
    return 0 if server.started else 1
