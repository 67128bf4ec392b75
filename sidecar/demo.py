"""`sidecar demo`: a throwaway MariaDB with a sample `User` table, served by the sidecar.

With `--incident` it replays the incident after a while: the server is restarted on a brand
new datadir (as podman-compose did with a renamed volume), "migrations" recreate the schema
and seed one admin user, and the verdict flips to fail with the reason printed.
"""

import asyncio
import contextlib
import shutil
import signal
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn

from sidecar import logs
from sidecar.app import create_app
from sidecar.config import load_settings
from sidecar.evaluator import Evaluator
from sidecar.mariadb_server import MariaDBServer
from sidecar.monitor import Monitor
from sidecar.results import Report

MONITOR_PASSWORD = "demo-monitor-pw"  # noqa: S105 - a throwaway server on 127.0.0.1
USERS = 14

SCHEMA = (
    "CREATE TABLE User (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(191) NOT NULL UNIQUE,"
    " createdAt DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), INDEX (createdAt))"
)


def prepare(server: MariaDBServer, users: int) -> None:
    """Create the app database, the monitoring account and `users` sample users."""
    start = datetime.now(UTC) - timedelta(days=users)
    inserts = [
        "INSERT INTO User (email, createdAt) VALUES "
        f"('user{i}@example.com', '{(start + timedelta(days=i)).strftime('%Y-%m-%d %H:%M:%S')}')"
        for i in range(users)
    ]
    server.execute(
        "CREATE DATABASE IF NOT EXISTS app",
        f"CREATE USER IF NOT EXISTS 'monitor'@'127.0.0.1' IDENTIFIED BY '{MONITOR_PASSWORD}'",
        "GRANT SELECT ON app.* TO 'monitor'@'127.0.0.1'",
        "GRANT SELECT ON mysql.gtid_slave_pos TO 'monitor'@'127.0.0.1'",
    )
    server.execute(SCHEMA, *inserts, database="app")


def _gist(line: str) -> str:
    """A line without its numbers (ages, round trips), to tell real changes from ticking."""
    return "".join(ch for ch in line if not ch.isdigit())


def _say(text: str) -> None:
    print(f"[demo {datetime.now().strftime('%H:%M:%S')}] {text}", flush=True)


async def _replay_incident(server: MariaDBServer, after: float) -> None:
    await asyncio.sleep(after)
    _say("INCIDENT: restarting MariaDB on a NEW, EMPTY datadir (the renamed-volume case)...")
    await asyncio.to_thread(server.swap_datadir)
    # What the app's migrations and seed did on the empty database: schema plus one admin.
    await asyncio.to_thread(prepare, server, 0)
    await asyncio.to_thread(
        server.execute, "INSERT INTO User (email) VALUES ('admin@example.com')", database="app"
    )
    _say("the app's 'migrations' re-created the schema and seeded 1 admin user;")
    _say("`mysqladmin ping` and `SELECT 1` would call this healthy. Watch the sidecar:")


async def _run(port: int, incident: bool, after: float, duration: float, base: Path) -> None:
    server = MariaDBServer(base / "mariadb")
    server.base.mkdir()
    _say(f"starting a throwaway MariaDB on 127.0.0.1:{server.port} ({server.datadir})")
    await asyncio.to_thread(server.start)
    try:
        await asyncio.to_thread(prepare, server, USERS)
        _say(f"seeded app.User with {USERS} users; monitoring account has SELECT only")
        config = load_settings(
            {
                "db_url": server.url("monitor", MONITOR_PASSWORD),
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
        monitor = Monitor(Evaluator(config))
        said: list[str] = []

        async def announce(report: Report) -> None:
            reasons = "; ".join(report.reasons()) or "every check passes"
            line = f"verdict {str(report.status).upper()}: {reasons}"
            # Say it when the verdict or its reasons change, not every cycle.
            if not said or _gist(said[-1]) != _gist(line):
                said.append(line)
                _say(line)

        monitor.listeners.append(announce)
        http = uvicorn.Server(
            uvicorn.Config(
                create_app(config, monitor), host="127.0.0.1", port=port, log_config=None
            )
        )
        serving = asyncio.create_task(http.serve())
        while not http.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.05)
        if serving.done():
            raise SystemExit(f"demo: could not listen on 127.0.0.1:{port} (try --port)")
        for path in ("/health", "/readyz", "/livez", "/metrics"):
            _say(f"serving http://127.0.0.1:{port}{path}")
        replay = asyncio.create_task(_replay_incident(server, after)) if incident else None
        if incident:
            _say(f"replaying the incident in {after:g}s (Ctrl-C to stop)")
        try:
            await (asyncio.sleep(duration) if duration else asyncio.Event().wait())
        finally:
            if replay is not None:
                replay.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await replay
            http.should_exit = True
            await serving
    finally:
        await asyncio.to_thread(server.stop)


def run_demo(port: int, incident: bool, after: float, duration: float) -> int:
    """Run the demo until Ctrl-C (or `duration`), cleaning up the temporary server."""
    base = Path(tempfile.mkdtemp(prefix="sidecar-demo-"))
    loop = asyncio.new_event_loop()
    main = loop.create_task(_run(port, incident, after, duration, base))
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, main.cancel)
    try:
        loop.run_until_complete(main)
    except asyncio.CancelledError:
        _say("stopped")
    finally:
        loop.close()
        shutil.rmtree(base, ignore_errors=True)
    return 0
