"""The HTTP servers compared by the throughput benchmark, each run as its own process.

    python -m bench.servers sidecar|bare|naive --port PORT

All three run under `sidecar.server.build_server`, the server `sidecar serve` runs (one worker,
no access log, its header limit, request deadline and connection cap); `--http` and `--loop`
pick the HTTP implementation and event loop it is built with (bench/http_impl.py compares them);
`--unguarded` runs uvicorn as it was configured before the deadline and the cap.

`sidecar` is `sidecar.app.create_app` configured from `SIDECAR_*` variables; `bare` is a
Starlette JSON endpoint doing nothing (the baseline); `naive` is what a hand-rolled health
endpoint does: `COUNT(*)` and `MAX(createdAt)` against MariaDB on every request.
"""

import argparse
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Any, get_args

import aiomysql
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sidecar import identifiers
from sidecar.app import create_app
from sidecar.config import load_settings, settings_from_environ
from sidecar.dburl import parse_db_url
from sidecar.server import HTTP, LOOP, HTTPImplementation, LoopImplementation, build_server

KINDS = ("sidecar", "bare", "naive")


def unguarded_config(app: Starlette, port: int, http: str, loop: str) -> uvicorn.Config:
    """The baseline of bench/http_impl.py: the settings `sidecar serve` had before issue 10."""
    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=http,
        loop=loop,
        log_config=None,
        access_log=False,
        lifespan="on",
        h11_max_incomplete_event_size=16 * 1024,
    )


def bare_app() -> Starlette:
    """The baseline: a JSON endpoint that does nothing."""

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "pass"})

    return Starlette(routes=[Route("/health", health, methods=["GET", "HEAD"])])


def naive_app(url: str, table: str) -> Starlette:
    """A health endpoint that asks the database on every request (aiomysql pool)."""
    db = parse_db_url(url)
    quoted = identifiers.quote(table)
    pool: dict[str, Any] = {}

    async def health(request: Request) -> Response:
        async with pool["pool"].acquire() as conn, conn.cursor() as cursor:
            await cursor.execute(f"SELECT COUNT(*) FROM {quoted}")
            (count,) = await cursor.fetchone()
            await cursor.execute(f"SELECT MAX(createdAt) FROM {quoted}")
            (newest,) = await cursor.fetchone()
        return JSONResponse(
            {"status": "pass" if count else "fail", "rows": count, "newest": newest.isoformat()}
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool["pool"] = await aiomysql.create_pool(
            host=db.host,
            port=db.port,
            user=db.user,
            password=db.password or "",
            db=db.database,
            autocommit=True,
            minsize=1,
            maxsize=10,
        )
        try:
            yield
        finally:
            pool["pool"].close()
            await pool["pool"].wait_closed()

    return Starlette(routes=[Route("/health", health, methods=["GET", "HEAD"])], lifespan=lifespan)


def sidecar_app() -> Starlette:
    """The real app, configured from the `SIDECAR_*` environment like `sidecar serve`."""
    return create_app(load_settings(settings_from_environ(os.environ)))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers")
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db-url", help="for naive: mysql:// URL")
    parser.add_argument("--table", help="for naive: the table to count")
    parser.add_argument("--http", choices=get_args(HTTPImplementation), default=HTTP)
    parser.add_argument("--loop", choices=get_args(LoopImplementation), default=LOOP)
    parser.add_argument(
        "--unguarded",
        action="store_true",
        help="uvicorn as `sidecar serve` ran it before issue 10: no request deadline, no cap",
    )
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if options.kind == "sidecar":
        app = sidecar_app()
    elif options.kind == "bare":
        app = bare_app()
    else:
        app = naive_app(options.db_url, options.table)
    if options.unguarded:
        uvicorn.Server(unguarded_config(app, options.port, options.http, options.loop)).run()
    else:
        build_server(app, "127.0.0.1", options.port, http=options.http, loop=options.loop).run()


if __name__ == "__main__":
    main()
