"""Webhooks on verdict changes (and only then), push pings every cycle, to a real receiver."""

import time
from pathlib import Path

from sidecar.mariadb_server import MariaDBServer
from tests.support.receiver import receiver
from tests.support.servers import MONITOR_PASSWORD, monitor_env, running_sidecar, wait_for


def test_webhook_fires_on_each_transition_and_only_then(
    seeded: MariaDBServer, tmp_path: Path
) -> None:
    with receiver() as (url, received):
        env = monitor_env(seeded, webhook_url=f"{url}/hook")
        with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
            sidecar.wait_status("pass")
            time.sleep(2.5)  # a few passing cycles: nothing to say
            assert received.posts == []  # a healthy start is no news
            seeded.stop()
            wait_for(lambda: len(received.posts) == 1, 10, "the failure webhook")
            time.sleep(3)  # several failing cycles: still one message, no storm
            assert len(received.posts) == 1
            failure = received.posts[0]
            assert failure["status"] == "fail" and failure["previous"] == "pass"
            assert failure["text"].startswith("sidecar: database verdict is FAIL (was pass): ")
            # Checks failing for the same reason share one clause (here: the database is down).
            assert (
                "database:connection, User:rowCount, User:latestRecord: cannot connect"
                in (failure["text"])
            )
            seeded.start()
            wait_for(lambda: len(received.posts) == 2, 10, "the recovery webhook")
            assert received.posts[1]["status"] == "pass"
            assert received.posts[1]["previous"] == "fail"
        for post in received.posts:
            assert MONITOR_PASSWORD not in str(post)


def test_push_pings_every_cycle_with_a_failure_marker(
    seeded: MariaDBServer, tmp_path: Path
) -> None:
    with receiver() as (url, received):
        env = monitor_env(seeded, push_url=f"{url}/api/push/abc?status=up&msg=OK&ping=")
        with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
            sidecar.wait_status("pass")
            wait_for(lambda: len(received.gets) >= 2, 10, "two pushes")
            assert all("status=up" in path for path in received.gets)
            assert all(path.count("status=") == 1 for path in received.gets)
            seeded.stop()
            wait_for(lambda: "status=down" in received.gets[-1], 10, "a down push")
            assert "cannot+connect" in received.gets[-1] or "cannot%20connect" in received.gets[-1]


def test_unreachable_webhook_never_delays_the_loop(seeded: MariaDBServer, tmp_path: Path) -> None:
    with receiver() as (url, received):
        received.answer = 500  # the receiver is broken: retries, then give up
        env = monitor_env(seeded, webhook_url=url)
        with running_sidecar(env, tmp_path / "sidecar.log") as sidecar:
            sidecar.wait_status("pass")
            seeded.stop()
            sidecar.wait_status("fail")
            cycles = lambda: float(  # noqa: E731
                next(
                    line.split()[-1]
                    for line in sidecar.get("/metrics").text.splitlines()
                    if line.startswith("sidecar_cycles_total")
                )
            )
            before = cycles()
            time.sleep(3)
            assert cycles() - before >= 2  # cycles went on while deliveries were retried
            wait_for(lambda: len(received.posts) >= 3, 15, "three delivery attempts")
