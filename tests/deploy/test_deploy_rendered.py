"""The whole deployment as a cluster would receive it, checked offline (no cluster can run here: see
docs/DEPLOYMENT.md, "What is validated offline"): `kubectl kustomize k8s/` plus the pods the Dagster chart
builds from k8s/helm/values.yaml. Every object validates against each Kubernetes version we support,
every image is pinned, every Secret/ConfigMap key a pod reads exists, and every server address in the
settings reaches a Service port that a container of the selected workload listens on."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.deploy.test_deploy_helm_values import _run_job, _user_code_deployment

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
# The oldest minor still maintained upstream when this was written, and the newest the installed
# kubernetes-validate knows: objects must be accepted by both.
K8S_VERSIONS = ("1.31.0", kubernetes_validate.utils.latest_version())
WORKLOADS = ("Deployment", "StatefulSet", "Job", "DaemonSet", "CronJob")
DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "postgres": 5432}

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) not installed")


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((K8S / "helm" / "values.yaml").read_text())


@pytest.fixture(scope="module")
def objects(values) -> list[dict]:
    rendered = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60,
                              check=True).stdout
    (user_code,) = values["dagster-user-deployments"]["deployments"]
    return [d for d in yaml.safe_load_all(rendered) if d] + [_user_code_deployment(values, user_code),
                                                            _run_job(values, user_code)]


@pytest.fixture(scope="module")
def secret_keys() -> dict[str, set[str]]:
    """The Secrets created out of band, with their keys (the template lists them, values empty)."""
    return {s["metadata"]["name"]: set(s["stringData"])
            for s in yaml.safe_load_all((K8S / "secret-lake.template.yaml").read_text()) if s}


def _pod(doc: dict) -> dict:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def _containers(doc: dict) -> list[dict]:
    pod = _pod(doc)
    return pod.get("initContainers", []) + pod["containers"]


def _workloads(objects: list[dict]) -> list[dict]:
    return [d for d in objects if d["kind"] in WORKLOADS]


def test_every_object_validates_against_each_supported_kubernetes_version(objects):
    for version in K8S_VERSIONS:
        for doc in objects:
            kubernetes_validate.validate(doc, version, strict=True)
    kinds = {d["kind"] for d in objects}
    assert {"Namespace", "ConfigMap", "Service", "Deployment", "StatefulSet", "Job"} <= kinds


def test_every_image_is_pinned_by_tag_or_digest(objects, values):
    """Ours and the platform's; the chart's webserver and daemon images follow its pinned version."""
    images = [c["image"] for doc in _workloads(objects) for c in _containers(doc)]
    images += [i for part in ("dagsterWebserver", "dagsterDaemon") if (i := values[part].get("image"))]
    pinned = re.compile(r".+@sha256:[0-9a-f]{64}$|.+/[^/:]+:(?!latest$)[\w][\w.-]{0,127}$")
    for image in images:
        assert pinned.match(image), f"{image} is not pinned by a tag (other than latest) or a digest"
    assert "accidents-dagster" not in images, "kustomize's images: entry must replace the bare image name"


def test_every_secret_and_configmap_a_pod_reads_exists_with_the_key(objects, secret_keys, values):
    config_maps = {d["metadata"]["name"]: set(d.get("data", {})) for d in objects if d["kind"] == "ConfigMap"}
    missing = []

    def need(kind: str, name: str, key: str | None, who: str) -> None:
        known = secret_keys if kind == "Secret" else config_maps
        if name not in known or (key is not None and key not in known[name]):
            missing.append(f"{who} reads {kind} {name}" + (f" key {key}" if key else ""))

    for doc in _workloads(objects):
        who = f"{doc['kind']} {doc['metadata']['name']}"
        for container in _containers(doc):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {})
                for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    if field in ref and not ref[field].get("optional"):
                        need(kind, ref[field]["name"], ref[field]["key"], who)
            for source in container.get("envFrom", []):
                for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                    if field in source and not source[field].get("optional"):
                        need(kind, source[field]["name"], None, who)
        for volume in _pod(doc).get("volumes", []):
            for field, kind, name_field in (("secret", "Secret", "secretName"), ("configMap", "ConfigMap", "name")):
                if field in volume:
                    for item in volume[field].get("items", [{"key": None}]):
                        need(kind, volume[field][name_field], item["key"], who)
    # What the chart itself reads: Dagster's storage password; the daemon's and webserver's env Secrets.
    need("Secret", values["global"]["postgresqlSecretName"], "postgresql-password", "the Dagster chart")
    for part in ("dagsterDaemon", "dagsterWebserver"):
        for ref in values[part].get("envSecrets", []):
            need("Secret", ref["name"], None, part)
        for ref in values[part].get("envConfigMaps", []):
            need("ConfigMap", ref["name"], None, part)
    assert not missing, missing


def _strings(node) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


URL = re.compile(r"\b([a-z][a-z0-9+.-]*)://(?:[^@/\s]*@)?([a-z0-9][a-z0-9.-]*)(?::(\d+))?")
DSN = re.compile(r"\bhost=([a-z0-9][a-z0-9.-]*)(?=\s).*?(?:\bport=(\d+)|$)")
HOST_PORT = re.compile(r"^([a-z][a-z0-9-]*):(\d+)$")


def addresses(text: str) -> set[tuple[str, int]]:
    """In-cluster server addresses (short Service names: no dot) written in a setting or argument."""
    found = set()
    for scheme, host, port in URL.findall(text):
        if scheme not in ("s3", "file") and (port or scheme in DEFAULT_PORTS):
            found.add((host, int(port) if port else DEFAULT_PORTS[scheme]))
    for host, port in DSN.findall(text):
        found.add((host, int(port) if port else 5432))
    if match := HOST_PORT.match(text.strip()):
        found.add((match[1], int(match[2])))
    return {(host, port) for host, port in found if "." not in host and host != "localhost"}


def test_the_address_finder_reads_urls_dsns_and_endpoints():
    assert addresses("http://mlflow:5000") == {("mlflow", 5000)}
    assert addresses("postgresql://mlflow@postgres:5432/mlflow") == {("postgres", 5432)}
    assert addresses("host=postgres port=5433 dbname=x user=y") == {("postgres", 5433)}
    assert addresses("minio:9000") == {("minio", 9000)}
    assert addresses("s3://accidents-lake/lake/") == addresses("https://registry.example.com/x") == set()


def test_every_server_address_reaches_a_service_port_a_container_listens_on(objects, values):
    texts = [t for d in objects if d["kind"] == "ConfigMap" for t in _strings(d.get("data", {}))]
    for doc in _workloads(objects):
        for container in _containers(doc):
            texts += [*container.get("command", []), *container.get("args", [])]
            texts += [e["value"] for e in container.get("env", []) if "value" in e]
    texts += list(_strings(values))
    wanted = set().union(*(addresses(t) for t in texts))
    wanted.add((values["postgresql"]["postgresqlHost"], values["postgresql"]["service"]["port"]))
    assert {host for host, _ in wanted} >= {"postgres", "minio", "mlflow"}, wanted

    services = {d["metadata"]["name"]: d for d in objects if d["kind"] == "Service"}
    for host, port in sorted(wanted):
        assert host in services, f"{host}:{port} is used but no Service {host} is deployed"
        (service_port,) = [p for p in services[host]["spec"]["ports"] if p["port"] == port] or [None]
        assert service_port, f"Service {host} has no port {port}"
        selected = [w for w in _workloads(objects) if services[host]["spec"]["selector"].items()
                    <= w["spec"]["template"].get("metadata", {}).get("labels", {}).items()]
        assert len(selected) == 1, f"Service {host} selects {len(selected)} workloads"
        target = service_port.get("targetPort", port)
        listening = [p for c in _pod(selected[0])["containers"] for p in c.get("ports", [])]
        assert any(p["containerPort"] == target or p.get("name") == target for p in listening), \
            f"Service {host}:{port} targets {target}, which no container of {selected[0]['metadata']['name']} exposes"
