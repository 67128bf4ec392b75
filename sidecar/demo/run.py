"""`sidecar demo`: a throwaway MariaDB (`--engine postgres`: a PostgreSQL cluster) with a sample
`User` table, served by the sidecar.

With `--incident` it replays the incident after a while: the server is restarted on a brand
new data directory (as podman-compose did with a renamed volume), "migrations" recreate the
schema and seed one admin user, and the verdict flips to fail with the reason printed. What
differs between the engines is in engines.py; the story is told here, the same for both.

It runs until Ctrl-C, SIGTERM or SIGHUP (or `--duration`). The first signal stops it in order:
the HTTP server and the check loop first (so no verdict is printed about a database going away
on purpose), then the database server, waited for, then its temporary directory. A second
signal kills the server at once. Nothing is left running in any case, even when nobody reads
the output any more (`sidecar demo | tee demo.log`, then Ctrl-C, ends `tee` too). What a
SIGKILLed demo left (nothing can stop it) is swept by the next one, whatever its engine.
"""

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from sidecar import logs
from sidecar.app import create_app
from sidecar.config import load_settings
from sidecar.demo.engines import DEMOS, DemoServer, kill, sweep_killed_servers
from sidecar.demo.throwaway import ServerError, owner_gone
from sidecar.history.recorder import gist
from sidecar.results import Report
from sidecar.server import EXIT_PORT_IN_USE, build_server, port_in_use
from sidecar.service import Service

MONITOR_PASSWORD = "demo-monitor-pw"  # noqa: S105 - a throwaway server on 127.0.0.1
USERS = 14
PREFIX = "sidecar-demo-"  # of the temporary directory; the sweep finds a killed demo's by it
# What stops the demo: Ctrl-C, `kill`, and the terminal closing.
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stop(Exception):
    """A signal asked the demo to stop while it was not yet serving."""


def _say(text: str, stream: TextIO | None = None) -> None:
    """Print one line of the story (to stdout unless `stream`); never raise, the output may be
    gone (a pipe whose reader left, a terminal closed)."""
    out = stream or sys.stdout
    try:
        print(f"[demo {datetime.now().strftime('%H:%M:%S')}] {text}", file=out, flush=True)
    except OSError:
        # The reader is gone (EPIPE) or the terminal hung up (EIO). A stop must not fail on
        # a print: from now on the output goes nowhere, also Python's own flush at exit.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, out.fileno())
            os.close(devnull)


def _sweep_killed_demos() -> None:
    """Stop the server of a demo that was SIGKILLed and remove its temporary directory."""
    servers = sweep_killed_servers()
    dirs = [
        base
        for base in Path(tempfile.gettempdir()).glob(f"{PREFIX}*")
        if any(owner_gone(base / engine.directory) for engine in DEMOS.values())
    ]
    for base in dirs:
        shutil.rmtree(base, ignore_errors=True)
    # On stderr: a note beside the story, which stays the same whatever was left before.
    for server in servers:
        _say(f"swept what a killed run left: {server}", sys.stderr)
    for base in dirs:
        _say(f"swept what a killed demo left: {base}", sys.stderr)


def _kill_on_signal(server: DemoServer, number: int, frame: FrameType | None) -> None:
    kill(server)


def _prepare(server: DemoServer) -> None:
    # One user a day up to today, so the newest record has a believable age.
    start = datetime.now(UTC) - timedelta(days=USERS)
    server.seed(MONITOR_PASSWORD, [start + timedelta(days=i + 1) for i in range(USERS)])


class _Narrator:
    """Prints the verdict when it or its reasons change; quiet while the replay is under way."""

    def __init__(self) -> None:
        self.last = ""
        self.quiet_until = 0.0  # reports of cycles started before this are not told

    async def __call__(self, report: Report) -> None:
        if report.started < self.quiet_until:
            return
        reasons = "; ".join(report.reasons()) or "every check passes"
        line = f"verdict {str(report.status).upper()}: {reasons}"
        if gist(line) != gist(self.last):
            self.last = line
            _say(line)


async def _serve(
    server: DemoServer, base: Path, port: int, incident: bool, after: float, duration: float
) -> int:
    config = load_settings(
        {
            "db_url": server.monitor_url(MONITOR_PASSWORD),
            "table": "User",
            "timestamp_column": "createdAt",
            "data_dir": str(server.datadir),
            "state_dir": str(base / "state"),
            "interval": "2s",
            "timeout": "1s",
            "port": port,
            "host": "127.0.0.1",
        }
    )
    logs.configure("warning", config.secrets())
    service = Service(config)
    narrator = _Narrator()
    service.scheduler.listeners.append(narrator)
    http = build_server(create_app(config, service), "127.0.0.1", port, handle_signals=False)
    stopping, hurried = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        # Acted on first, told after: telling may fail (nobody reads), acting must not.
        if stopping.is_set():
            # At once, but in order still: the server killed rather than shut down; the loop
            # and the HTTP server then close in a moment, with nothing left to wait for.
            kill(server)
            hurried.set()
            _say("stopping at once")
            return
        stopping.set()
        _say("stopping (again to stop at once)")

    for number in SIGNALS:
        loop.add_signal_handler(number, on_signal)
    serving = asyncio.create_task(http.serve())
    while not http.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no event
        await asyncio.sleep(0.05)
    if not http.started:
        raise Stop(f"could not listen on 127.0.0.1:{port} (try --port)")
    base_url = f"http://127.0.0.1:{port}"
    _say(f"serving {base_url}/ (status page in a browser), {base_url}/health, {base_url}/metrics")
    if incident:
        _say(f"the incident is replayed in {after:g}s (--incident-after); Ctrl-C stops the demo")
    else:
        _say("Ctrl-C stops the demo")

    async def replay() -> None:
        await asyncio.sleep(after)
        _say(f"INCIDENT: restarting {server.name} on {server.fresh} (the renamed-volume case)...")
        narrator.quiet_until = float("inf")
        await asyncio.to_thread(server.replay, MONITOR_PASSWORD)
        _say("the app's 'migrations' re-created the schema and seeded 1 admin user;")
        _say(f"{server.pings} would call this healthy. Watch the sidecar:")
        narrator.quiet_until = service.scheduler.clock()

    waiters: list[asyncio.Task[Any]] = [asyncio.create_task(stopping.wait())]
    if duration:
        waiters.append(asyncio.create_task(asyncio.sleep(duration)))
    replaying = [asyncio.create_task(replay())] if incident else []
    try:
        await asyncio.wait([*waiters, serving], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (*waiters, *replaying):
            task.cancel()
        await asyncio.gather(*waiters, *replaying, return_exceptions=True)
        http.should_exit = True
        await serving  # the lifespan stops the loop and closes the connections
    return 130 if hurried.is_set() else 0  # as a shell reports a program stopped by Ctrl-C


def run_demo(engine: str, port: int, incident: bool, after: float, duration: float) -> int:
    """Run the demo until a signal (or `duration`); leave nothing running and nothing behind."""
    if port_in_use("127.0.0.1", port):
        print(f"sidecar demo: port {port} is in use; try --port", flush=True)
        return EXIT_PORT_IN_USE

    def interrupted(number: int, frame: FrameType | None) -> None:
        raise Stop("stopped")

    # Before the event loop runs, a signal unwinds through the `finally` below.
    previous = {number: signal.signal(number, interrupted) for number in SIGNALS}
    code = 0
    base: Path | None = None
    server: DemoServer | None = None
    try:
        _sweep_killed_demos()
        base = Path(tempfile.mkdtemp(prefix=PREFIX))
        server = DEMOS[engine](base)
        _say(f"starting a throwaway {server.name} on 127.0.0.1:{server.port} ({server.datadir})")
        server.start()
        _prepare(server)
        _say(f"seeded {server.seeded} with {USERS} users; monitoring account has SELECT only")
        code = asyncio.run(_serve(server, base, port, incident, after, duration))
    except (Stop, KeyboardInterrupt, ServerError) as exc:
        message = str(exc) or "stopped"
        if message != "stopped":
            _say(message)
            code = 1
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        # While the server shuts down cleanly, one more signal kills it instead of waiting.
        if server is not None:
            hurry = functools.partial(_kill_on_signal, server)
            for number in SIGNALS:
                signal.signal(number, hurry)
            server.stop()
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)
        _restore(previous)
        stopped = f"{server.name} shut down and its" if server is not None else "its"
        _say(f"stopped; {stopped} temporary directory removed")
    return code


def _restore(handlers: dict[signal.Signals, Any]) -> None:
    for number, handler in handlers.items():
        signal.signal(number, handler)
