"""History reads never stall probes (issue 24): `/history` and `/events` bodies are rendered
once per history revision, off the loop, however many clients ask at once, and answered at a
pace that leaves the loop to the probes (bench/history_reads.py measures `/livez` under it)."""

import asyncio
import threading
import time

import httpx
from starlette.applications import Starlette

from sidecar.access import DetailsGate
from sidecar.history import Event, History, Kind
from sidecar.history.endpoints import routes
from sidecar.history.history import CycleSample, TableSample
from sidecar.history.renders import KEPT, READS_PER_SECOND, Renders
from sidecar.results import Status
from tests.history.test_series import year_of_cycles

ROW = (14.0, 14.0, 14.0, 0.0, 7.0, 3.0)


def year() -> tuple[History, float]:
    history = History(None, ["User"])
    end = year_of_cycles(
        lambda t: (history.tables["User"].add(t, ROW), history.cycles.add(t, (0.003, 0.0)))
    )
    history.events.extend(
        Event(end - 60 * n, Kind.CHECK, f"event {n}", Status.WARN) for n in range(2000)
    )
    return history, end


def client(history: History, renders: Renders) -> httpx.AsyncClient:
    app = Starlette(routes=routes(history, DetailsGate(None), renders))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sidecar")


YEAR_OF_POINTS = "/history?window=365d&points=2000&table=User"


def test_300_concurrent_reads_of_a_year_cost_one_render_per_revision() -> None:
    history, end = year()
    renders = Renders()

    async def run() -> None:
        async with client(history, renders) as http:
            began = time.monotonic()
            answers = await asyncio.gather(*(http.get(YEAR_OF_POINTS) for _ in range(300)))
            # Paced: the reads were answered in turns, never faster than the pace.
            assert time.monotonic() - began >= 299 / READS_PER_SECOND
            assert {a.status_code for a in answers} == {200}
            assert len({a.content for a in answers}) == 1
            points = answers[0].json()["points"]
            assert 1000 < len(points) <= 2000 and points[-1]["rows"] == 14
            assert renders.rendered == 1
            events = await asyncio.gather(*(http.get("/events?limit=1000") for _ in range(50)))
            assert len(events[0].json()["events"]) == 1000 and events[0].json()["truncated"]
            assert renders.rendered == 2
            # A new cycle is a new revision: the next read renders again, and shows it.
            sample = CycleSample(end + 5, 0.003, Status.PASS, {"User": TableSample(3, 14, 0, 7, 1)})
            await history.record(sample, [], False)
            again = (await http.get(YEAR_OF_POINTS)).json()["points"]
            assert again[-1]["rowsMin"] == 3 and renders.rendered == 3

    asyncio.run(run())


def test_renders_run_in_a_worker_thread_one_at_a_time() -> None:
    """Clients varying the query defeat the cache; they still never render on the loop."""
    history, _ = year()
    renders = Renders()
    seen: set[int] = set()
    running, most = [0], [0]
    lock = threading.Lock()
    original = history.tables["User"].copy

    def watched_copy() -> object:
        copy = original()
        window = copy.window

        def counted(*args: object, **kwargs: object) -> object:
            with lock:
                seen.add(threading.get_ident())
                running[0] += 1
                most[0] = max(most[0], running[0])
            try:
                return window(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                with lock:
                    running[0] -= 1

        copy.window = counted  # type: ignore[method-assign]
        return copy

    history.tables["User"].copy = watched_copy  # type: ignore[method-assign]

    async def run() -> None:
        async with client(history, renders) as http:
            paths = [f"/history?window=365d&table=User&points={n}" for n in range(1, KEPT + 20)]
            answers = await asyncio.gather(*(http.get(p) for p in paths))
            assert {a.status_code for a in answers} == {200}
            assert [len(a.json()["points"]) for a in answers[:3]] == [1, 2, 3]

    asyncio.run(run())
    assert renders.rendered == KEPT + 19
    assert threading.get_ident() not in seen  # never on the loop's thread
    assert most[0] == 1
