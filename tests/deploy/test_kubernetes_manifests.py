"""The Kubernetes manifests are valid offline and keep the promises the docs make about them."""

import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (pip install pyyaml)")

KUBERNETES = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
# The oldest release where native sidecars (initContainers with restartPolicy: Always) are on
# by default; the manifests must work from here on.
MIN_KUBERNETES = "1.29.0"
SIDECAR_IMAGE = "ghcr.io/example/sidecar:0.2.0"

Manifest = dict[str, Any]


def manifest_files() -> list[Path]:
    """Every YAML file in deploy/kubernetes except the kustomization itself."""
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")


def the_one(matches: list[Manifest]) -> Manifest:
    """The single match; anything else is a broken manifest."""
    (found,) = matches
    return found


def load_all() -> list[Manifest]:
    return [doc for path in manifest_files() for doc in yaml.safe_load_all(path.read_text()) if doc]


def only(kind: str) -> Manifest:
    return the_one([doc for doc in load_all() if doc["kind"] == kind])


def pod_spec() -> Manifest:
    spec: Manifest = only("StatefulSet")["spec"]["template"]["spec"]
    return spec


def sidecar() -> Manifest:
    return the_one([c for c in pod_spec().get("initContainers", []) if c["name"] == "sidecar"])


def mariadb() -> Manifest:
    return the_one([c for c in pod_spec()["containers"] if c["name"] == "mariadb"])


def env_of(container: Manifest) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def port_number(container: Manifest, port: int | str) -> int:
    """Resolve a probe's named port against the container's ports."""
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return int(number)


def mount_at(container: Manifest, path: str) -> Manifest:
    return the_one([m for m in container["volumeMounts"] if m["mountPath"] == path])


def claim_template_names() -> set[str]:
    return {t["metadata"]["name"] for t in only("StatefulSet")["spec"]["volumeClaimTemplates"]}


def pod_volume(name: str) -> Manifest:
    return the_one([v for v in pod_spec()["volumes"] if v["name"] == name])


# Schema validation


def test_every_manifest_validates_strictly_against_kubernetes_1_29() -> None:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate is not installed"
    )
    docs = load_all()
    assert {doc["kind"] for doc in docs} == {"ConfigMap", "Service", "StatefulSet"}
    for doc in docs:
        # strict: an unknown or misspelt field (readinesProbe, restartpolicy) is an error.
        kubernetes_validate.validate(doc, MIN_KUBERNETES, strict=True)


def test_native_sidecar_field_is_what_the_schema_checks() -> None:
    """Control: before 1.28 the same StatefulSet is rejected for restartPolicy on an initContainer.

    Shows the validation above really reaches the initContainer fields.
    """
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate is not installed"
    )
    with pytest.raises(kubernetes_validate.ValidationError, match="restartPolicy"):
        kubernetes_validate.validate(only("StatefulSet"), "1.27.0", strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == [p.name for p in manifest_files()]


# The sidecar


def test_sidecar_is_a_native_sidecar() -> None:
    container = sidecar()
    assert container["restartPolicy"] == "Always"
    assert container["image"] == SIDECAR_IMAGE
    assert "sidecar" not in {c["name"] for c in pod_spec()["containers"]}


def test_sidecar_probes_use_the_sidecar_endpoints() -> None:
    container = sidecar()
    readiness = container["readinessProbe"]["httpGet"]
    liveness = container["livenessProbe"]["httpGet"]
    assert readiness["path"] == "/readyz"
    assert liveness["path"] == "/livez"
    assert port_number(container, readiness["port"]) == 8080
    assert port_number(container, liveness["port"]) == 8080


def test_sidecar_startup_probe_cannot_deadlock_the_pod() -> None:
    """Kubelet starts mariadb only after the sidecar's startupProbe, so it must not wait on data."""
    startup = sidecar()["startupProbe"]["httpGet"]
    assert startup["path"] == "/livez"


def test_sidecar_sees_the_database_volume_read_only() -> None:
    container = sidecar()
    data_dir = env_of(container)["SIDECAR_DATA_DIR"]
    assert data_dir == "/var/lib/mysql"
    sidecar_mount = mount_at(container, data_dir)
    assert sidecar_mount["readOnly"] is True
    # ...and it is the very volume mariadb writes its datadir to.
    assert sidecar_mount["name"] == mount_at(mariadb(), "/var/lib/mysql")["name"]
    assert sidecar_mount["name"] in claim_template_names()


def test_sidecar_state_lives_on_its_own_persistent_volume() -> None:
    container = sidecar()
    state_dir = env_of(container)["SIDECAR_STATE_DIR"]
    assert state_dir == "/var/lib/sidecar"
    state = mount_at(container, state_dir)
    assert not state.get("readOnly", False)
    # A volumeClaimTemplate, not a pod volume (emptyDir would forget every restart).
    assert state["name"] in claim_template_names()
    assert state["name"] not in {v["name"] for v in pod_spec()["volumes"]}
    assert state["name"] != mount_at(mariadb(), "/var/lib/mysql")["name"]


def test_sidecar_configuration() -> None:
    env = env_of(sidecar())
    assert env["SIDECAR_DB_URL"] == "mysql://monitor@127.0.0.1:3306/app"
    assert env["SIDECAR_TABLE"] == "User"
    assert env["SIDECAR_TIMESTAMP_COLUMN"] == "createdAt"


def test_sidecar_password_comes_from_a_mounted_secret_file() -> None:
    container = sidecar()
    password_file = Path(env_of(container)["SIDECAR_DB_PASSWORD_FILE"])
    mount = mount_at(container, str(password_file.parent))
    assert mount["readOnly"] is True
    secret = pod_volume(mount["name"])["secret"]
    assert [item["path"] for item in secret["items"]] == [password_file.name]


def test_no_password_is_written_into_the_manifests() -> None:
    for container in pod_spec()["initContainers"] + pod_spec()["containers"]:
        for entry in container.get("env", []):
            if "PASSWORD" in entry["name"]:
                assert entry["name"].endswith("_FILE"), (container["name"], entry["name"])
            if "URL" in entry["name"]:
                assert urlsplit(entry.get("value", "")).password is None, entry["name"]
    assert "Secret" not in {doc["kind"] for doc in load_all()}


def test_sidecar_runs_locked_down() -> None:
    context = sidecar()["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert not context["capabilities"].get("add")


# MariaDB and the monitor account


def test_mariadb_is_probed_by_its_own_healthcheck() -> None:
    container = mariadb()
    assert container["image"] == "mariadb:10.11"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["exec"]["command"][0] == "healthcheck.sh", probe
    assert container["readinessProbe"]["exec"]["command"][1:] == [
        "--connect",
        "--innodb_initialized",
    ]


def test_data_lives_on_a_volume_claim_template() -> None:
    assert mount_at(mariadb(), "/var/lib/mysql")["name"] in claim_template_names()


def test_init_script_is_mounted_where_the_image_runs_it() -> None:
    mount = mount_at(mariadb(), "/docker-entrypoint-initdb.d")
    configmap = only("ConfigMap")
    assert pod_volume(mount["name"])["configMap"]["name"] == configmap["metadata"]["name"]
    (script_name,) = configmap["data"]
    assert script_name.endswith(".sh")


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_init_script_grants_least_privilege_to_the_url_user(tmp_path: Path) -> None:
    """Source the script as the image's entrypoint would, with its SQL sink captured.

    The account it creates must be the one in SIDECAR_DB_URL, with SELECT on the app database
    and on mysql.gtid_slave_pos and nothing else.
    """
    (shipped,) = only("ConfigMap")["data"].values()
    assert "s3cret" not in shipped
    password_file = tmp_path / "monitor-password"
    password_file.write_text("s3cret")
    script = shipped.replace("/run/secrets/mariadb/monitor-password", str(password_file))
    # Stand-ins for the two entrypoint helpers the script relies on.
    harness = (
        "set -eo pipefail\n"
        "docker_sql_escape_string_literal() { printf '%s' \"$1\"; }\n"
        'docker_process_sql() { printf -- "-- args: %s\\n" "$*"; cat; }\n'
        f"source /dev/stdin <<'SCRIPT'\n{script}SCRIPT\n"
        'test -z "${monitor_password_escaped+x}"\n'
    )
    result = subprocess.run(
        ["bash", "-c", harness], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    sql = result.stdout

    url = urlsplit(env_of(sidecar())["SIDECAR_DB_URL"])
    account = f"'{url.username}'@'{url.hostname}'"
    assert f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY 's3cret';" in sql
    grants = [line for line in sql.splitlines() if line.startswith("GRANT")]
    assert grants == [
        f"GRANT SELECT ON `{url.path.lstrip('/')}`.* TO {account};",
        f"GRANT SELECT ON `mysql`.`gtid_slave_pos` TO {account};",
    ]


# Services


def test_app_service_routes_only_to_ready_pods_and_headless_governs_the_statefulset() -> None:
    services = {doc["metadata"]["name"]: doc for doc in load_all() if doc["kind"] == "Service"}
    statefulset = only("StatefulSet")
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    for service in services.values():
        assert service["spec"]["selector"].items() <= pod_labels.items()
    # The app's Service must honour readiness, i.e. the sidecar's verdict.
    assert not services["mariadb"]["spec"].get("publishNotReadyAddresses", False)
    governing = services[statefulset["spec"]["serviceName"]]
    assert governing["spec"]["clusterIP"] == "None"
