"""The shipped Prometheus rules, scrape configs and Alertmanager example pass the real tools."""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sidecar.durations import parse_duration
from tests.support.prometheus import PROMETHEUS_DIR as PROMETHEUS
from tests.support.prometheus import documented_authorization, load

DEPLOY = PROMETHEUS.parent
PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not on PATH (Debian package `prometheus`)"
)
needs_amtool = pytest.mark.skipif(
    AMTOOL is None, reason="amtool not on PATH (Debian package `prometheus-alertmanager`)"
)

# The metric names the sidecar exposes (backup_* with the backup checks): a rule that names
# any other never fires. `sidecar_up` is gone: it duplicated Prometheus's own `up`.
SIDECAR_METRICS = {
    "sidecar_verdict",
    "sidecar_check_status",
    "sidecar_check_duration_seconds",
    "sidecar_table_rows",
    "sidecar_table_rows_high_water",
    "sidecar_table_rows_floor",
    "sidecar_table_rows_min_allowed",
    "sidecar_table_latest_record_timestamp_seconds",
    "sidecar_table_latest_record_age_seconds",
    "sidecar_identity_match",
    "sidecar_identity_source_match",
    "sidecar_last_cycle_timestamp_seconds",
    "sidecar_cycles_total",
    "sidecar_cycle_errors_total",
    "sidecar_cycle_duration_seconds",
    "sidecar_build_info",
    "sidecar_backup_age_seconds",
    "sidecar_backup_size_bytes",
    "sidecar_backup_rows",
}

# The pages of one incident, and the alert that takes over when the sidecar is gone.
INCIDENT = ("SidecarIdentityChanged", "SidecarTableRowsDropped", "SidecarVerdictFail")


def promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    """Run promtool with a deadline, capturing its output for the assertion message."""
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def load_rules() -> list[dict[str, Any]]:
    """Every rule of every group in rules.yml."""
    return [rule for group in load("rules.yml")["groups"] for rule in group["rules"]]


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run amtool with a deadline, capturing its output for the assertion message."""
    assert AMTOOL is not None
    return subprocess.run(
        [AMTOOL, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60, check=False
    )


@needs_promtool
def test_promtool_check_rules_accepts_rules_file() -> None:
    result = promtool("check", "rules", "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", "rules_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_check_config_accepts_static_scrape_example() -> None:
    result = promtool("check", "config", "scrape.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def kubernetes_targets(statefulset: dict[str, Any]) -> list[dict[str, Any]]:
    """Every container port of the StatefulSet's pod as Kubernetes pod discovery lists it."""
    pod = statefulset["spec"]["template"]
    return [
        {
            "targets": [f"10.0.0.7:{port['containerPort']}"],
            "labels": {
                "__meta_kubernetes_namespace": "shop",
                "__meta_kubernetes_pod_name": f"{statefulset['metadata']['name']}-0",
                "__meta_kubernetes_pod_label_app_kubernetes_io_name": pod["metadata"]["labels"][
                    "app.kubernetes.io/name"
                ],
                "__meta_kubernetes_pod_container_name": container["name"],
                "__meta_kubernetes_pod_container_port_name": port["name"],
                "__meta_kubernetes_pod_container_port_number": str(port["containerPort"]),
            },
        }
        for container in pod["spec"]["initContainers"] + pod["spec"]["containers"]
        for port in container.get("ports", [])
    ]


def load_manifest(name: str) -> dict[str, Any]:
    """The first document of a manifest in deploy/kubernetes."""
    doc: dict[str, Any] = yaml.safe_load((DEPLOY / "kubernetes" / name).read_text())
    return doc


def postgres_statefulset() -> dict[str, Any]:
    """The StatefulSet of deploy/kubernetes-postgres, as `kubectl kustomize` builds it."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (it builds the kustomization)")
    built = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "kubernetes-postgres")],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    (doc,) = [d for d in yaml.safe_load_all(built) if d and d["kind"] == "StatefulSet"]
    statefulset: dict[str, Any] = doc
    return statefulset


@needs_promtool
@pytest.mark.parametrize("engine", ["mariadb", "postgres"])
def test_kubernetes_scrape_example_keeps_only_the_sidecar_port_under_a_stable_instance(
    tmp_path: Path, engine: str
) -> None:
    """Real relabeling by `promtool check service-discovery` on the pod's discovered ports.

    Debian's Prometheus is built without Kubernetes discovery, so the targets pod discovery
    would list are given as static targets carrying the same `__meta_kubernetes_*` labels;
    the relabel rules and the rule file are checked as shipped.
    """
    config = load("scrape-kubernetes.yml")
    (job,) = config["scrape_configs"]
    assert job.pop("kubernetes_sd_configs")
    statefulset = (
        load_manifest("statefulset.yaml") if engine == "mariadb" else postgres_statefulset()
    )
    job["static_configs"] = kubernetes_targets(statefulset)
    (tmp_path / "scrape.yml").write_text(yaml.safe_dump(config))
    shutil.copy(PROMETHEUS / "rules.yml", tmp_path / "rules.yml")
    result = promtool("check", "config", "scrape.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr

    # promtool collects discovered targets until the timeout; static targets arrive at once.
    result = promtool(
        "check", "service-discovery", "--timeout=3s", "scrape.yml", "sidecar", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    kept = [target["labels"] for target in json.loads(result.stdout) if target["labels"]]
    headless = statefulset["spec"]["serviceName"]
    assert [(t["__address__"], t["instance"], t["pod"]) for t in kept] == [
        ("10.0.0.7:8080", f"{engine}-0.{headless}.shop.svc:8080", f"{engine}-0")
    ]


@needs_promtool
def test_documented_scrape_authorization_is_accepted_by_promtool(tmp_path: Path) -> None:
    """The commented `authorization:` block of scrape.yml, switched on, is a valid config."""
    token = tmp_path / "sidecar-token"
    token.write_text("a-token\n")
    config = load("scrape.yml")
    (job,) = config["scrape_configs"]
    job["authorization"] = {**documented_authorization(), "credentials_file": str(token)}
    assert set(job["authorization"]) == {"credentials_file"}  # the scheme defaults to Bearer
    (tmp_path / "scrape.yml").write_text(yaml.safe_dump(config))
    shutil.copy(PROMETHEUS / "rules.yml", tmp_path / "rules.yml")
    result = promtool("check", "config", "scrape.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def expand(values: str) -> list[str]:
    """promtool's series notation for plain values (`1x3` is four samples of 1, `stale`)."""
    samples: list[str] = []
    for token in values.split():
        value, _, repeat = token.partition("x")
        assert "+" not in value and value != "_", f"not a plain value: {token}"
        samples += [value] * (int(repeat) + 1 if repeat else 1)
    return samples


@needs_promtool
def test_killed_sidecar_pages_fire_at_every_evaluation_until_sidecar_down_takes_over(
    tmp_path: Path,
) -> None:
    """rules_test.yml's "sidecar killed mid-incident", asserted at every evaluation step.

    The promtool case spot-checks the hand-over with full annotations; here the annotations are
    stripped and every 15 s step from the kill to a minute after SidecarDown fires is checked:
    the incident's pages fire at each one, SidecarDown from the end of its `for` on. No gap.
    """
    case = {case["name"]: case for case in load("rules_test.yml")["tests"]}[
        "sidecar killed mid-incident"
    ]
    rules = load("rules.yml")
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))

    step = parse_duration(case["interval"])
    up = next(s["values"] for s in case["input_series"] if s["series"].startswith("up{"))
    killed = expand(up).index("0") * step
    takes_over = killed + parse_duration(
        {rule["alert"]: rule for rule in load_rules()}["SidecarDown"]["for"]
    )
    instance = {"severity": "critical", "job": "sidecar", "instance": "db:8080"}
    expected = {name: instance for name in (*INCIDENT, "SidecarDown")}
    expected["SidecarTableRowsDropped"] = {**instance, "table": "User"}
    steps = [killed + n * step for n in range(int((takes_over + 60 - killed) / step) + 1)]
    checks = [
        {
            "eval_time": f"{at:g}s",
            "alertname": name,
            "exp_alerts": [{"exp_labels": labels}]
            if name != "SidecarDown" or at >= takes_over
            else [],
        }
        for at in steps
        for name, labels in expected.items()
    ]
    dense = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": case["interval"],
        "tests": [{**case, "alert_rule_test": checks}],
    }
    (tmp_path / "dense_test.yml").write_text(yaml.safe_dump(dense))
    result = promtool("test", "rules", "dense_test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(checks) > 40  # every step of three minutes, four alerts each


@needs_amtool
def test_amtool_check_config_accepts_alertmanager_example() -> None:
    result = amtool("check-config", "alertmanager.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 inhibit rules" in result.stdout


def test_alertmanager_example_inhibits_by_alerts_the_rules_define() -> None:
    """Inhibit rules name only alerts of rules.yml, and nothing silences the cause."""
    defined = {rule["alert"] for rule in load_rules()}
    inhibit = load("alertmanager.yml")["inhibit_rules"]
    for rule in inhibit:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            names = re.fullmatch(r'alertname=~?"([A-Za-z|]+)"', matcher)
            assert names, matcher
            assert set(names.group(1).split("|")) <= defined, matcher
    targets = " ".join(m for rule in inhibit for m in rule["target_matchers"])
    assert "SidecarIdentityChanged" not in targets
    # Per database, except SidecarAbsent, which has no instance: all sidecars are gone.
    assert all(rule["equal"] in (["job", "instance"], ["job"]) for rule in inhibit)


def test_rules_name_only_metrics_the_sidecar_exposes() -> None:
    for rule in load_rules():
        named = set(re.findall(r"\bsidecar_[a-z_]+\b", str(rule["expr"])))
        assert named <= SIDECAR_METRICS, (rule["alert"], named - SIDECAR_METRICS)


def test_rules_cover_the_promised_alerts() -> None:
    rules = {rule["alert"]: rule for rule in load_rules()}
    assert set(rules) >= {
        "SidecarVerdictFail",
        "SidecarIdentityChanged",
        "SidecarTableRowsDropped",
        "SidecarNewestRecordStale",
        "SidecarDown",
        "SidecarAbsent",
        "SidecarCyclesStalled",
        "SidecarBackupStale",
        "SidecarBackupRowsDropped",
    }
    # A changed identity is the incident itself: no waiting, highest severity.
    assert "for" not in rules["SidecarIdentityChanged"]
    assert rules["SidecarIdentityChanged"]["labels"] == {"severity": "critical"}
    for rule in rules.values():
        assert 'job="sidecar"' in str(rule["expr"]), rule["alert"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule


def test_annotations_link_the_runbook_and_health_and_never_call_the_sidecar_mariadb() -> None:
    rules = {rule["alert"]: rule for rule in load_rules()}
    runbooks = {rule["annotations"]["runbook_url"] for rule in rules.values()}
    assert len(runbooks) == 1 and runbooks.pop().endswith("#when-it-fires")
    for name, rule in rules.items():
        text = rule["annotations"]["summary"] + rule["annotations"]["description"]
        assert "MariaDB on" not in text, name
        # A dead or absent sidecar has no /health to show; every other alert links it.
        if name not in ("SidecarDown", "SidecarAbsent"):
            assert "http://{{ $labels.instance }}/health" in text, name


def test_pages_judge_the_last_reported_value() -> None:
    """What the sidecar reports must outlive its staleness; liveness rules read the present."""
    for rule in load_rules():
        series = set(re.findall(r"\bsidecar_[a-z_]+\b", str(rule["expr"])))
        if series and rule["alert"] != "SidecarCyclesStalled":
            for name in series:
                assert f"last_over_time({name}" in rule["expr"], (rule["alert"], name)


def test_scrape_examples_use_the_job_name_the_rules_select() -> None:
    for name in ("scrape.yml", "scrape-kubernetes.yml"):
        config = load(name)
        assert [job["job_name"] for job in config["scrape_configs"]] == ["sidecar"], name
        assert config["rule_files"] == ["rules.yml"], name
