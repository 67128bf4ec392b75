"""Real Prometheus and Alertmanager processes on free ports, fed the shipped deploy/ files."""

import contextlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from sidecar.demo.throwaway import free_port
from sidecar.durations import parse_duration
from tests.support.servers import wait_for

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def load(name: str) -> dict[str, Any]:
    """One of the shipped files in deploy/prometheus, parsed."""
    doc: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / name).read_text())
    return doc


def scaled_rules(factor: float) -> dict[str, Any]:
    """rules.yml with every `for:` divided by `factor`; expressions and windows unchanged."""
    doc = load("rules.yml")
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = f"{round(parse_duration(rule['for']) * 1000 / factor)}ms"
    return doc


def documented_authorization() -> dict[str, Any]:
    """The `authorization:` block scrape.yml documents in a comment, as Prometheus would read it."""
    text = (PROMETHEUS_DIR / "scrape.yml").read_text()
    block = re.search(r"^(\s*)# (authorization:\n(?:\1#   .*\n)+)", text, re.MULTILINE)
    assert block is not None, "scrape.yml no longer documents an authorization: block"
    uncommented = re.sub(r"^\s*# ", "", block.group(2), flags=re.MULTILINE)
    parsed: dict[str, Any] = yaml.safe_load(uncommented)["authorization"]
    return parsed


class Daemon:
    """A server binary on 127.0.0.1:<free port>, its config written to `workdir`."""

    storage_flag: str  # each binary names its data directory flag differently
    extra_arguments: tuple[str, ...] = ()

    def __init__(self, binary: str, workdir: Path, config: dict[str, Any]) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.config_path = workdir / "config.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_path = workdir / "log"
        self.process: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=f"http://{self.address}", timeout=5)

    def arguments(self) -> list[str]:
        """The command line after the binary."""
        return [
            f"--config.file={self.config_path}",
            f"{self.storage_flag}={self.workdir / 'data'}",
            f"--web.listen-address={self.address}",
            "--log.level=warn",
            *self.extra_arguments,
        ]

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, *self.arguments()],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        wait_for(self._ready, timeout=30, what=f"{Path(self.binary).name} to be ready")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.binary} exited {self.process.returncode}: {self.log()}")
        with contextlib.suppress(httpx.HTTPError):
            return self.client.get("/-/ready").status_code == 200
        return False

    def get(self, path: str, **params: str) -> Any:
        """GET a JSON API path; fail the test with the server's log on an error."""
        response = self.client.get(path, params=params)
        assert response.status_code == 200, f"{path}: {response.text}\n{self.log()[-2000:]}"
        return response.json()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.client.close()
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


class Prometheus(Daemon):
    """Prometheus with its own TSDB under `workdir`."""

    storage_flag = "--storage.tsdb.path"

    def active(self) -> list[dict[str, Any]]:
        """Every pending or firing alert."""
        alerts: list[dict[str, Any]] = self.get("/api/v1/alerts")["data"]["alerts"]
        return alerts

    def alerts(self) -> dict[str, str]:
        """Alert name -> state (`pending` or `firing`) for every active alert."""
        return {alert["labels"]["alertname"]: alert["state"] for alert in self.active()}

    def firing(self) -> dict[str, dict[str, Any]]:
        """Alert name -> the alert, for the alerts that fire now."""
        return {a["labels"]["alertname"]: a for a in self.active() if a["state"] == "firing"}

    def query(self, expr: str, **params: str) -> list[dict[str, Any]]:
        """An instant query's result vector."""
        result: list[dict[str, Any]] = self.get("/api/v1/query", query=expr, **params)["data"][
            "result"
        ]
        return result


class Alertmanager(Daemon):
    """Alertmanager without clustering (no gossip port to collide with other tests)."""

    storage_flag = "--storage.path"
    extra_arguments = ("--cluster.listen-address=",)

    def alerts(self) -> dict[str, dict[str, Any]]:
        """Alert name -> its status (`state`, `inhibitedBy`) and fingerprint."""
        data = self.get("/api/v2/alerts")
        return {a["labels"]["alertname"]: {**a["status"], "fp": a["fingerprint"]} for a in data}


D = TypeVar("D", bound=Daemon)


@contextlib.contextmanager
def running(daemon: D) -> Iterator[D]:
    """A started daemon that is stopped on the way out, even on failure."""
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()
