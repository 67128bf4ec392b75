"""A real Prometheus and Alertmanager from Debian watch a live sidecar through the incident.

Prometheus scrapes a real `sidecar serve` (with the details token, through the `authorization:`
block scrape.yml documents) and evaluates the shipped rules.yml; Alertmanager runs the shipped
alertmanager.yml and notifies a local webhook. The test replays the incident (a fresh datadir
under the same server), then kills the sidecar, and reads the timeline from their HTTP APIs.

Only the `for:` durations are scaled down (by FACTOR: `for: 2m` becomes 5 s) so that the test
takes seconds; every expression, window and annotation is the shipped one. Scrapes and rule
evaluations run every second.
"""

import signal
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.mariadb import MariaDBTestServer
from tests.support.prometheus import (
    ALERTMANAGER,
    PROMETHEUS,
    Alertmanager,
    Prometheus,
    documented_authorization,
    load,
    running,
    scaled_rules,
)
from tests.support.receiver import Received, receiver
from tests.support.servers import incident, monitor_env, running_sidecar, wait_for

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None or ALERTMANAGER is None,
    reason="needs Debian's prometheus and prometheus-alertmanager packages",
)

FACTOR = 24
INCIDENT = ("SidecarIdentityChanged", "SidecarTableRowsDropped", "SidecarVerdictFail")
TOKEN = "prom-scrape-token-5d1c"


class Timeline:
    """Seconds since a reference moment for named events, printed for the test's output."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, float]] = []
        self.marks: dict[str, float] = {}

    def mark(self, name: str) -> None:
        self.marks[name] = time.monotonic()

    def record(self, since: str, event: str) -> float:
        seconds = time.monotonic() - self.marks[since]
        self.events.append((since, event, seconds))
        return seconds

    def render(self) -> str:
        return "\n".join(f"  {s:6.1f} s after the {m:<4}  {e}" for m, e, s in self.events)


def prometheus_config(sidecar: str, alertmanager: str, token_file: Path) -> dict[str, Any]:
    """scrape.yml as shipped, pointed at the test's sidecar and Alertmanager, every second."""
    config = load("scrape.yml")
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = ["rules.yml"]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    (job,) = config["scrape_configs"]
    job.update(scrape_interval="1s", scrape_timeout="1s", static_configs=[{"targets": [sidecar]}])
    job["authorization"] = {**documented_authorization(), "credentials_file": str(token_file)}
    return config


def alertmanager_config(webhook: str) -> dict[str, Any]:
    """alertmanager.yml as shipped, notifying the test's webhook without the waits."""
    config = load("alertmanager.yml")
    config["route"].update(group_wait="1s", group_interval="1s")
    for receiver_ in config["receivers"]:
        receiver_["webhook_configs"] = [{"url": webhook, "send_resolved": True}]
    return config


def notified(received: Received) -> list[tuple[str, str]]:
    """(alert name, status) of every alert in every webhook notification so far."""
    with received.lock:
        return [
            (a["labels"]["alertname"], a["status"]) for n in received.posts for a in n["alerts"]
        ]


def await_firing(prom: Prometheus, *names: str) -> None:
    """Poll Prometheus until every alert in `names` fires."""
    wait_for(
        lambda: set(names) <= set(prom.firing()),
        timeout=30,
        what=f"{', '.join(names)} to fire",
        last=prom.alerts,
    )


def await_notified(received: Received, name: str) -> None:
    """Poll the webhook until Alertmanager has notified `name` as firing."""
    wait_for(
        lambda: (name, "firing") in notified(received),
        timeout=30,
        what=f"Alertmanager to notify {name}",
        last=lambda: notified(received),
    )


def test_pages_survive_the_killed_sidecar_and_hand_over_to_sidecar_down(
    seeded: MariaDBTestServer, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    env = monitor_env(
        seeded, data_dir=seeded.datadir, state_dir=tmp_path / "state", details_token=TOKEN
    )
    for name in ("sidecar", "prometheus", "alertmanager"):
        (tmp_path / name).mkdir()
    timeline = Timeline()
    with (
        receiver() as (webhook, received),
        running_sidecar(env, tmp_path / "sidecar" / "log") as sidecar,
        running(
            Alertmanager(str(ALERTMANAGER), tmp_path / "alertmanager", alertmanager_config(webhook))
        ) as am,
    ):
        workdir = tmp_path / "prometheus"
        (workdir / "rules.yml").write_text(yaml.safe_dump(scaled_rules(FACTOR)))
        config = prometheus_config(f"127.0.0.1:{sidecar.port}", am.address, token_file)
        with running(Prometheus(str(PROMETHEUS), workdir, config)) as prom:
            sidecar.wait_status("pass")
            wait_for(
                lambda: bool(prom.query('sidecar_verdict{job="sidecar"} == 0')),
                timeout=30,
                what="Prometheus to scrape a passing verdict",
            )
            assert prom.firing() == {}

            # The incident: same server, same port, a fresh datadir with one seeded admin.
            timeline.mark("swap")
            incident(seeded)
            timeline.record("swap", "fresh datadir up, admin seeded")
            await_firing(prom, "SidecarIdentityChanged")
            timeline.record("swap", "SidecarIdentityChanged firing")
            await_notified(received, "SidecarIdentityChanged")
            timeline.record("swap", "webhook notified of SidecarIdentityChanged")
            await_firing(prom, *INCIDENT)
            timeline.record("swap", "SidecarTableRowsDropped and SidecarVerdictFail firing")
            dropped = prom.firing()["SidecarTableRowsDropped"]["annotations"]["description"]
            assert dropped.startswith("User holds 1 of the 14 rows it once had"), dropped

            # The sidecar dies mid-incident.
            timeline.mark("kill")
            sidecar.stop(signal.SIGKILL)
            wait_for(
                lambda: bool(prom.query('up{job="sidecar"} == 0')),
                timeout=30,
                what="Prometheus to see the sidecar down",
            )
            timeline.record("kill", "Prometheus scraped up == 0 (series now stale)")
            gaps: list[tuple[float, dict[str, str]]] = []

            def handed_over() -> bool:
                states = prom.alerts()
                firing = {name for name, state in states.items() if state == "firing"}
                if not set(INCIDENT) <= firing:
                    gaps.append((time.monotonic() - timeline.marks["kill"], states))
                return "SidecarDown" in firing

            wait_for(handed_over, timeout=60, what="SidecarDown to fire", interval=0.2)
            timeline.record("kill", "SidecarDown firing; incident alerts still firing")
            assert gaps == [], f"incident alerts stopped firing before SidecarDown: {gaps}"
            down = prom.firing()["SidecarDown"]["annotations"]["description"]
            assert "The last verdict it reported was fail" in down, down
            identity = prom.firing()["SidecarIdentityChanged"]["annotations"]["description"]
            assert "this is the last identity it reported" in identity, identity

            # Prometheus's own record, at every second since the kill: something was firing.
            window = int(time.monotonic() - timeline.marks["kill"])
            pages = "|".join((*INCIDENT, "SidecarDown"))
            worst = prom.query(
                f'min_over_time((count(ALERTS{{alertstate="firing",alertname=~"{pages}"}})'
                f" or vector(0))[{window}s:1s])"
            )
            assert float(worst[0]["value"][1]) >= 1, worst

            # Alertmanager: one notification group, the cause only, nothing "resolved".
            await_notified(received, "SidecarDown")
            timeline.record("kill", "webhook notified of SidecarDown")
            statuses = am.alerts()
            cause = statuses["SidecarIdentityChanged"]
            assert cause["state"] == "active"
            for consequence in ("SidecarTableRowsDropped", "SidecarVerdictFail"):
                assert statuses[consequence]["state"] == "suppressed", statuses
                assert cause["fp"] in statuses[consequence]["inhibitedBy"], statuses
            assert {name for name, _ in notified(received)} == {
                "SidecarIdentityChanged",
                "SidecarDown",
            }
            assert all(status == "firing" for _, status in notified(received))
    print(f"\nalert timeline (scrape and evaluation every 1s, `for:` / {FACTOR}):")
    print(timeline.render())
