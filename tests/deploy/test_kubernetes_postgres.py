"""deploy/kubernetes-postgres: the MariaDB manifests patched for PostgreSQL, as kustomize builds
them, held to the promises the MariaDB ones keep (tests/deploy/test_kubernetes_manifests.py).

The overlay is built with `kubectl kustomize`, the tool `kubectl apply -k` runs; its init script
runs against a real PostgreSQL cluster, sourced as the image's entrypoint sources it.
"""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from sidecar.demo.postgres import SUPERUSER, SUPERUSER_PASSWORD, PostgresServer, bin_dir

OVERLAY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes-postgres"
MIN_KUBERNETES = "1.29.0"

Manifest = dict[str, Any]


@pytest.fixture(scope="module")
def built() -> list[Manifest]:
    """`kubectl kustomize deploy/kubernetes-postgres`, the documents it prints."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (it builds the kustomization)")
    done = subprocess.run(
        [kubectl, "kustomize", str(OVERLAY)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def the_one(matches: list[Manifest]) -> Manifest:
    (found,) = matches
    return found


def pod_spec(built: list[Manifest]) -> Manifest:
    statefulset = the_one([d for d in built if d["kind"] == "StatefulSet"])
    spec: Manifest = statefulset["spec"]["template"]["spec"]
    return spec


def container(built: list[Manifest], name: str) -> Manifest:
    spec = pod_spec(built)
    return the_one([c for c in spec["containers"] + spec["initContainers"] if c["name"] == name])


def env_of(entry: Manifest) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in entry.get("env", [])}


def mount_of(entry: Manifest, volume: str) -> Manifest:
    return the_one([m for m in entry["volumeMounts"] if m["name"] == volume])


def test_the_overlay_validates_strictly_against_kubernetes_1_29(built: list[Manifest]) -> None:
    import kubernetes_validate  # type: ignore[import-untyped]

    assert sorted(d["kind"] for d in built) == ["ConfigMap", "Service", "Service", "StatefulSet"]
    for doc in built:
        kubernetes_validate.validate(doc, MIN_KUBERNETES, strict=True)


def test_nothing_of_mariadb_is_left(built: list[Manifest]) -> None:
    text = yaml.safe_dump_all(built).lower()
    assert "mariadb" not in text and "mysql" not in text and "3306" not in text


def test_postgres_keeps_its_data_in_a_directory_of_the_claim(built: list[Manifest]) -> None:
    postgres = container(built, "postgres")
    assert postgres["image"] == "postgres:17"
    claims = {
        t["metadata"]["name"]
        for d in built
        if d["kind"] == "StatefulSet"
        for t in d["spec"]["volumeClaimTemplates"]
    }
    data = mount_of(postgres, "data")
    assert data["name"] in claims
    pgdata = env_of(postgres)["PGDATA"]
    # A subdirectory, not the claim's root (whose lost+found initdb refuses).
    assert Path(pgdata).parent == Path(data["mountPath"]), pgdata
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert postgres[probe]["exec"]["command"][0] == "pg_isready", probe
    assert env_of(postgres)["POSTGRES_PASSWORD_FILE"].startswith(
        mount_of(postgres, "postgres-secret")["mountPath"] + "/"
    )


def test_the_sidecar_watches_postgres_through_its_volume_as_its_owner(
    built: list[Manifest],
) -> None:
    sidecar, postgres = container(built, "sidecar"), container(built, "postgres")
    env = env_of(sidecar)
    url = urlsplit(env["SIDECAR_DB_URL"])
    assert (url.scheme, url.hostname, url.port, url.path) == (
        "postgresql",
        "127.0.0.1",
        5432,
        "/app",
    )
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["readinessProbe"]["httpGet"]["path"] == "/readyz"
    data = mount_of(sidecar, "data")
    assert data["readOnly"] is True
    assert data["mountPath"] == env["SIDECAR_DATA_DIR"] == mount_of(postgres, "data")["mountPath"]
    # postgres's uid: the only one that can read the cluster's control file (PGDATA is 0700).
    context = sidecar["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"]) == (999, 999)
    assert context["readOnlyRootFilesystem"] is True and context["runAsNonRoot"] is True
    # Its own password only.
    secret = the_one([v for v in pod_spec(built)["volumes"] if v["name"] == "sidecar-secret"])
    assert [i["key"] for i in secret["secret"]["items"]] == ["monitor-password"]


def test_the_app_service_routes_to_postgres_only_while_the_sidecar_says_ready(
    built: list[Manifest],
) -> None:
    services = {d["metadata"]["name"]: d for d in built if d["kind"] == "Service"}
    statefulset = the_one([d for d in built if d["kind"] == "StatefulSet"])
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert set(services) == {"postgres", "postgres-headless"}
    assert statefulset["spec"]["serviceName"] == "postgres-headless"
    postgres = container(built, "postgres")
    for service in services.values():
        assert service["spec"]["selector"].items() <= labels.items()
        port = service["spec"]["ports"][0]
        assert (port["port"], port["targetPort"]) == (5432, postgres["ports"][0]["name"])
    assert not services["postgres"]["spec"].get("publishNotReadyAddresses", False)


@pytest.fixture
def cluster() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    try:
        server.psql("CREATE DATABASE app")
        yield server
    finally:
        server.remove()


def test_the_init_script_makes_the_url_role_select_only(
    built: list[Manifest], cluster: PostgresServer, tmp_path: Path
) -> None:
    """Sourced as the image's entrypoint does, with the Secret's files in a directory here;
    then the app role creates a table and the monitor role (the URL's) may only read it."""
    configmap = the_one([d for d in built if d["kind"] == "ConfigMap"])
    (script,) = configmap["data"].values()
    passwords = {"app-password": "App-'x\\1", "monitor-password": "Mon-'y\\2"}
    for name, password in passwords.items():
        (tmp_path / name).write_text(password + "\n")
    script = script.replace("/run/secrets/postgres/", f"{tmp_path}/")
    runner = (
        f"docker_process_sql() {{ psql -v ON_ERROR_STOP=1 -X -q -h 127.0.0.1 -p {cluster.port}"
        f' --username {SUPERUSER} --no-password --dbname app "$@"; }}\n'
    )
    env = {
        "PATH": f"{bin_dir()}:{os.environ.get('PATH', '')}",
        "PGPASSWORD": SUPERUSER_PASSWORD,
    }
    done = subprocess.run(
        ["bash", "-c", runner + script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr

    def as_role(role: str, statement: str) -> str:
        proc = subprocess.run(
            [str(bin_dir() / "psql"), "-X", "-At", "-h", "127.0.0.1", "-p", str(cluster.port),
             "-U", role, "-d", "app", "-c", statement],
            env={"PGPASSWORD": passwords[f"{role}-password"]},
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        return (proc.stdout + proc.stderr).strip()

    as_role("app", 'CREATE TABLE "User" (id serial PRIMARY KEY, email text)')
    as_role("app", "INSERT INTO \"User\" (email) VALUES ('admin@example.com')")
    url = urlsplit(env_of(container(built, "sidecar"))["SIDECAR_DB_URL"])
    assert url.username == "monitor"
    assert as_role("monitor", 'SELECT COUNT(*) FROM "User"') == "1"
    assert "permission denied" in as_role("monitor", 'DELETE FROM "User"')
    assert "permission denied" in as_role("monitor", "CREATE TABLE intruder (id int)")
