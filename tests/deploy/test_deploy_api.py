"""The risk API's Kubernetes manifests (k8s/api.yaml), checked offline against the app they run."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

REPO = Path(__file__).resolve().parents[2]
API = REPO / "k8s" / "api.yaml"


@pytest.fixture(scope="module")
def docs() -> dict[str, dict]:
    return {d["kind"]: d for d in yaml.safe_load_all(API.read_text()) if d}


def _container(docs) -> dict:
    [container] = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


def test_deployment_service_and_autoscaler_validate_strictly(docs):
    assert set(docs) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    for doc in docs.values():
        kubernetes_validate.validate(doc, latest_version(), strict=True)


def test_command_is_a_valid_accidents_serve_invocation(docs):
    from pipeline.cli import build_parser

    command = _container(docs)["command"]
    assert command[:2] == ["accidents", "serve"]
    args = build_parser().parse_args(command[1:])
    port = next(p for p in _container(docs)["ports"] if p["name"] == "http")["containerPort"]
    assert args.host == "0.0.0.0" and args.port == port and args.workers == 1


def test_probes_and_scrape_path_are_routes_of_the_app(docs):
    from pipeline.serving.app import create_app
    from pipeline.serving.service import ServeOptions

    routes = set(create_app(lambda: None, ServeOptions()).openapi()["paths"])
    container = _container(docs)
    assert container["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    annotations = docs["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert {"/readyz", "/healthz", annotations["prometheus.io/path"]} <= routes
    assert annotations["prometheus.io/port"] == str(container["ports"][0]["containerPort"])


def test_service_and_autoscaler_point_at_the_deployment(docs):
    deployment = docs["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()
    assert docs["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    target = docs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert docs["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2  # a rolling restart keeps serving
    assert _container(docs)["resources"]["requests"]["cpu"]  # the CPU target needs a request


def test_settings_come_from_the_lake_configmap_and_secret_and_options_parse(docs):
    from pipeline.serving.config import options_from_env

    sources = {next(iter(ref.values()))["name"] for ref in _container(docs)["envFrom"]}
    assert sources == {"accidents-lake-config", "accidents-lake-secrets"}
    env = {e["name"]: e["value"] for e in _container(docs)["env"]}
    assert options_from_env(env).radius_km == float(env["ACCIDENTS_SERVE_RADIUS_KM"])


def test_root_filesystem_is_read_only_with_writable_data_and_tmp(docs):
    container = _container(docs)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/data", "/tmp"}
