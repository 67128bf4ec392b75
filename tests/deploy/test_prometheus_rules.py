"""The shipped Prometheus rules and scrape configs are accepted by the real promtool."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (pip install pyyaml)")

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not on PATH (Debian package `prometheus`)"
)

# The metric names the sidecar exposes: a rule that names any other never fires.
SIDECAR_METRICS = {
    "sidecar_up",
    "sidecar_verdict",
    "sidecar_check_status",
    "sidecar_check_duration_seconds",
    "sidecar_table_rows",
    "sidecar_table_rows_high_water",
    "sidecar_table_latest_record_timestamp_seconds",
    "sidecar_table_latest_record_age_seconds",
    "sidecar_identity_match",
    "sidecar_last_cycle_timestamp_seconds",
    "sidecar_cycles_total",
    "sidecar_cycle_errors_total",
    "sidecar_cycle_duration_seconds",
}


def promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    """Run promtool with a deadline, capturing its output for the assertion message."""
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def load_rules() -> list[dict[str, Any]]:
    """Every rule of every group in rules.yml."""
    doc = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())
    rules: list[dict[str, Any]] = [rule for group in doc["groups"] for rule in group["rules"]]
    return rules


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


@needs_promtool
def test_kubernetes_scrape_example_relabeling_is_valid(tmp_path: Path) -> None:
    """Debian's promtool is built without Kubernetes discovery, so swap in static targets.

    Everything else, relabel rules and the rule file included, is checked as shipped.
    """
    config = yaml.safe_load((PROMETHEUS / "scrape-kubernetes.yml").read_text())
    for job in config["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs"), job["job_name"]
        job["static_configs"] = [{"targets": ["127.0.0.1:8080"]}]
    (tmp_path / "scrape.yml").write_text(yaml.safe_dump(config))
    shutil.copy(PROMETHEUS / "rules.yml", tmp_path / "rules.yml")
    result = promtool("check", "config", "scrape.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


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
    }
    # A changed identity is the incident itself: no waiting, highest severity.
    assert "for" not in rules["SidecarIdentityChanged"]
    assert rules["SidecarIdentityChanged"]["labels"] == {"severity": "critical"}
    for rule in rules.values():
        assert 'job="sidecar"' in str(rule["expr"]), rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_scrape_examples_use_the_job_name_the_rules_select() -> None:
    for name in ("scrape.yml", "scrape-kubernetes.yml"):
        config = yaml.safe_load((PROMETHEUS / name).read_text())
        assert [job["job_name"] for job in config["scrape_configs"]] == ["sidecar"], name
        assert config["rule_files"] == ["rules.yml"], name


def test_kubernetes_scrape_example_selects_exactly_the_sidecar_port() -> None:
    """The relabel `keep` rules match the pod label and the sidecar's port, not MariaDB's."""
    config = yaml.safe_load((PROMETHEUS / "scrape-kubernetes.yml").read_text())
    keep = {
        tuple(rule["source_labels"]): rule["regex"]
        for rule in config["scrape_configs"][0]["relabel_configs"]
        if rule.get("action") == "keep"
    }
    statefulset = yaml.safe_load((DEPLOY / "kubernetes" / "statefulset.yaml").read_text())
    pod = statefulset["spec"]["template"]
    label_regex = keep[("__meta_kubernetes_pod_label_app_kubernetes_io_name",)]
    assert re.fullmatch(label_regex, pod["metadata"]["labels"]["app.kubernetes.io/name"])

    port_regex = keep[("__meta_kubernetes_pod_container_port_name",)]
    kept = [
        (container["name"], port["containerPort"])
        for container in pod["spec"]["initContainers"] + pod["spec"]["containers"]
        for port in container.get("ports", [])
        if re.fullmatch(port_regex, port["name"])
    ]
    assert kept == [("sidecar", 8080)]
