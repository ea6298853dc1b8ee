"""The whole deployment as a cluster would receive it from `rebuild-and-deploy.sh`, checked offline (no
cluster can run here: see docs/DEPLOYMENT.md, "What cannot be checked here"): the manifests the script
applies (`--render`: k8s/ and the bootstrap Job through its kustomize overlay) plus the pods the Dagster
chart builds from k8s/helm/values.yaml with the script's own `--set` values (read from its plan).
Every object validates against each Kubernetes version we support; every image of ours is the one just
pushed and every other one is pinned; every Secret/ConfigMap key a pod reads exists; every Service,
probe and scrape port is a port its container listens on, and the image EXPOSEs them; every claim has
the storage class; every server address in the settings reaches a Service port."""

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
SCRIPT = REPO / "rebuild-and-deploy.sh"
ARGS = ["--registry", "r.example/team", "--tag", "t1", "--namespace", "prod", "--storage-class", "sc1", "--bootstrap"]
PUSHED = "r.example/team/accidents-dagster:t1"
CHART_CONFIG_MAPS = {"dagster-instance"}  # rendered by the Dagster chart (release `dagster`)
# The oldest minor still maintained upstream when this was written, and the newest the installed
# kubernetes-validate knows: objects must be accepted by both.
K8S_VERSIONS = ("1.31.0", kubernetes_validate.utils.latest_version())
WORKLOADS = ("Deployment", "StatefulSet", "Job", "DaemonSet", "CronJob")
DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "postgres": 5432}

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) not installed")


def _script(*args: str) -> str:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=120,
                          check=True).stdout


def _set(tree: dict, dotted: str, value: str) -> None:
    """Helm's `--set a.b[0].c=v` on a values tree."""
    *path, last = re.findall(r"[^.\[\]]+|\[\d+\]", dotted)
    for part in path:
        tree = tree[int(part[1:-1])] if part.startswith("[") else tree.setdefault(part, {})
    tree[last] = value


@pytest.fixture(scope="module")
def values() -> dict:
    """k8s/helm/values.yaml with the `--set` flags of the script's own `helm upgrade`."""
    tree = yaml.safe_load((K8S / "helm" / "values.yaml").read_text())
    helm = next(line for line in _script("--dry-run", *ARGS).splitlines() if line.startswith("+ helm upgrade"))
    flags = re.findall(r"--set '?([^=' ]+)=([^' ]+)'?", helm)
    assert len(flags) == 3, helm
    for key, value in flags:
        _set(tree, key, value)
    return tree


@pytest.fixture(scope="module")
def objects(values) -> list[dict]:
    rendered = _script("--render", *ARGS)
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


def test_every_image_of_ours_is_the_one_just_pushed(objects):
    """The API, MLflow, the bootstrap Job, the code server and the runs: no placeholder survives."""
    ours = {f"{d['kind']} {d['metadata']['name']}": c["image"] for d in _workloads(objects) for c in _containers(d)
            if "accidents-dagster" in c["image"]}
    assert set(ours) == {"Deployment accidents-api", "Deployment mlflow", "Job accidents-bootstrap",
                         "Deployment dagster-accidents", "Job dagster-run-0"}
    assert set(ours.values()) == {PUSHED}, ours
    text = yaml.safe_dump_all(objects)
    assert "registry.example.com" not in text and "image: accidents-dagster\n" not in text


def _listening(doc: dict) -> dict[str | int, int]:
    """Port name and number -> number, for every port a container of the workload declares."""
    ports = {}
    for container in _pod(doc)["containers"]:
        for p in container.get("ports", []):
            ports[p["containerPort"]] = p["containerPort"]
            if "name" in p:
                ports[p["name"]] = p["containerPort"]
    return ports


def test_every_service_probe_and_scrape_port_is_a_port_the_container_listens_on(objects):
    workloads = _workloads(objects)
    for service in (d for d in objects if d["kind"] == "Service"):
        selector = service["spec"]["selector"].items()
        [target] = [w for w in workloads if selector <= w["spec"]["template"].get("metadata", {}).get("labels", {}).items()]
        for port in service["spec"]["ports"]:
            assert port.get("targetPort", port["port"]) in _listening(target), (service["metadata"]["name"], port)
    for doc in workloads:
        for container in _pod(doc)["containers"]:
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                if port := container.get(probe, {}).get("httpGet", {}).get("port"):
                    assert port in _listening(doc), (doc["metadata"]["name"], probe, port)
        annotations = doc["spec"]["template"].get("metadata", {}).get("annotations", {})
        if "prometheus.io/port" in annotations:
            assert int(annotations["prometheus.io/port"]) in _listening(doc).values()


def test_the_image_exposes_every_port_it_serves_here(objects, values):
    exposed = {int(p) for line in (REPO / "Dockerfile.dagster").read_text().splitlines()
               if line.startswith("EXPOSE") for p in line.split()[1:]}
    served = {port for d in _workloads(objects) for c in _pod(d)["containers"] if c["image"] == PUSHED
              for port in (p["containerPort"] for p in c.get("ports", []))}
    served.add(values["dagster-user-deployments"]["deployments"][0]["port"])  # the chart's gRPC port
    assert served == {3030, 5000, 8000} and served <= exposed


def test_every_claim_has_the_storage_class(objects):
    claims = [(d["metadata"]["name"], c) for d in objects if d["kind"] == "StatefulSet"
              for c in d["spec"].get("volumeClaimTemplates", [])]
    claims += [(d["metadata"]["name"], d) for d in objects if d["kind"] == "PersistentVolumeClaim"]
    assert {name for name, _ in claims} == {"postgres", "minio"}
    assert all(c["spec"].get("storageClassName") == "sc1" for _, c in claims), claims


def test_everything_lands_in_the_chosen_namespace(objects):
    namespaced = [d for d in objects if d["kind"] not in ("Namespace",) and d["metadata"]["name"] != "dagster-run-0"
                  and d["metadata"]["name"] != "dagster-accidents"]
    assert {d["metadata"].get("namespace") for d in namespaced} == {"prod"}
    assert [d["metadata"]["name"] for d in objects if d["kind"] == "Namespace"] == ["prod"]


def test_every_secret_and_configmap_a_pod_reads_exists_with_the_key(objects, secret_keys, values):
    config_maps = {d["metadata"]["name"]: set(d.get("data", {})) for d in objects if d["kind"] == "ConfigMap"}
    config_maps |= {name: {"dagster.yaml"} for name in CHART_CONFIG_MAPS}
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
