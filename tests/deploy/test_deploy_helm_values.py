"""k8s/helm/values.yaml: the keys the official Dagster chart reads, and what they render to.

There is no chart here (offline), so the pod specs the chart builds from these values are
reassembled in a few lines and validated against the Kubernetes schemas: that catches malformed
resources, volumes or security contexts before a real `helm upgrade`.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
K8S_VERSION = latest_version()
LAKE_CONFIGMAP = "accidents-lake-config"
LAKE_SECRET = "accidents-lake-secrets"


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((K8S / "helm" / "values.yaml").read_text())


@pytest.fixture(scope="module")
def deployment(values) -> dict:
    user = values["dagster-user-deployments"]
    assert user["enabled"] is True and user["enableSubchart"] is True
    (only,) = user["deployments"]
    return only


def _names(refs: list[dict]) -> list[str]:
    return [r["name"] for r in refs]


def _manifest_names(kind: str) -> set[str]:
    names = set()
    for path in K8S.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == kind:
                names.add(doc["metadata"]["name"])
    return names


def test_user_deployment_serves_the_definitions_module(deployment):
    assert deployment["name"] == "accidents"
    image = deployment["image"]
    assert image["repository"].endswith("/accidents-dagster")
    assert isinstance(image["tag"], str) and image["tag"], "quote the tag so YAML keeps it a string"
    assert image["pullPolicy"] in {"Always", "IfNotPresent", "Never"}
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", "dagster_accidents.definitions"]
    assert deployment["port"] == 3030


def test_user_deployment_takes_lake_settings_from_configmap_and_secret(deployment):
    assert _names(deployment["envConfigMaps"]) == [LAKE_CONFIGMAP]
    assert _names(deployment["envSecrets"]) == [LAKE_SECRET]
    # They exist as manifests (ConfigMap) or as a documented template (Secret).
    assert LAKE_CONFIGMAP in _manifest_names("ConfigMap")
    assert LAKE_SECRET in _manifest_names("Secret")


def test_user_deployment_has_requests_and_limits(deployment):
    resources = deployment["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert {"cpu", "memory"} <= set(resources["limits"])


def test_runs_do_not_inherit_the_code_server_container_context(deployment):
    """With the context included, the code server's small resources would override the runs'."""
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is False


def test_run_launcher_is_k8s_with_the_same_settings(values):
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    config = launcher["config"]["k8sRunLauncher"]
    assert _names(config["envConfigMaps"]) == [LAKE_CONFIGMAP]
    assert _names(config["envSecrets"]) == [LAKE_SECRET]
    assert config["jobNamespace"] == "accidents"
    assert config["loadInclusterConfig"] is True
    # Keys the chart's schema requires for this launcher.
    assert {"imagePullPolicy", "envVars", "volumes", "volumeMounts"} <= set(config)


def test_dagster_storage_is_external_postgres_with_password_secret(values):
    pg = values["postgresql"]
    assert pg["enabled"] is False
    assert pg["postgresqlHost"] and pg["postgresqlUsername"] and pg["postgresqlDatabase"]
    assert pg["postgresqlPassword"] == "", "the password belongs in the Secret, not in values"
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] in _manifest_names("Secret")


def test_daemon_and_webserver_enabled(values):
    daemon = values["dagsterDaemon"]
    assert daemon["enabled"] is True
    coordinator = daemon["runCoordinator"]
    assert coordinator["enabled"] is True and coordinator["type"] == "QueuedRunCoordinator"
    assert coordinator["config"]["queuedRunCoordinator"]["maxConcurrentRuns"] >= 1
    assert values["scheduler"]["type"] == "DagsterDaemonScheduler"
    assert values["dagsterWebserver"]["replicaCount"] >= 1


def test_queue_limits_match_the_production_instance_file(values):
    """The chart's rendered instance and k8s/dagster.yaml must not drift apart."""
    helm_queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    instance = yaml.safe_load((K8S / "dagster.yaml").read_text())
    instance_queue = instance["run_coordinator"]["config"]
    assert helm_queue["maxConcurrentRuns"] == instance_queue["max_concurrent_runs"]
    assert helm_queue["tagConcurrencyLimits"] == instance_queue["tag_concurrency_limits"]
    launcher = instance["run_launcher"]["config"]
    helm_launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert launcher["env_config_maps"] == _names(helm_launcher["envConfigMaps"])
    assert launcher["env_secrets"] == _names(helm_launcher["envSecrets"])
    assert launcher["resources"] == helm_launcher["resources"]
    assert launcher["env_vars"] == helm_launcher["envVars"]
    assert launcher["security_context"] == helm_launcher["securityContext"]
    assert (
        launcher["run_k8s_config"]["pod_spec_config"]["securityContext"]
        == helm_launcher["runK8sConfig"]["podSpecConfig"]["securityContext"]
    )


def _user_code_deployment(values: dict, deployment: dict) -> dict:
    """The core of the Deployment the chart renders for one user-code entry."""
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    labels = {"component": "user-deployments", "deployment": deployment["name"]}
    container = {
        "name": "dagster",
        "image": image,
        "imagePullPolicy": deployment["image"]["pullPolicy"],
        "args": ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", str(deployment["port"])]
        + deployment["dagsterApiGrpcArgs"],
        "env": [
            {
                "name": "DAGSTER_PG_PASSWORD",
                "valueFrom": {
                    "secretKeyRef": {
                        "name": values["global"]["postgresqlSecretName"],
                        "key": "postgresql-password",
                    }
                },
            }
        ],
        "envFrom": [{"configMapRef": ref} for ref in deployment["envConfigMaps"]]
        + [{"secretRef": ref} for ref in deployment["envSecrets"]],
        "resources": deployment["resources"],
        "securityContext": deployment["securityContext"],
        "volumeMounts": deployment["volumeMounts"],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"dagster-{deployment['name']}", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": deployment["podSecurityContext"],
                    "containers": [container],
                    "volumes": deployment["volumes"],
                },
            },
        },
    }


def _run_job(values: dict, deployment: dict) -> dict:
    """The core of the Job the K8sRunLauncher creates for one run."""
    config = values["runLauncher"]["config"]["k8sRunLauncher"]
    container = {
        "name": "dagster",
        "image": f"{deployment['image']['repository']}:{deployment['image']['tag']}",
        "imagePullPolicy": config["imagePullPolicy"],
        "args": ["dagster", "api", "execute_run", "{}"],
        "envFrom": [{"configMapRef": ref} for ref in config["envConfigMaps"]]
        + [{"secretRef": ref} for ref in config["envSecrets"]],
        "env": [dict(zip(("name", "value"), item.split("=", 1), strict=True)) for item in config["envVars"]],
        "resources": config["resources"],
        "securityContext": config["securityContext"],
        "volumeMounts": config["volumeMounts"],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "dagster-run-0", "namespace": config["jobNamespace"]},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": config["runK8sConfig"]["podSpecConfig"]["securityContext"],
                    "containers": [container],
                    "volumes": config["volumes"],
                }
            },
        },
    }


def test_rendered_user_code_deployment_is_valid_kubernetes(values, deployment):
    rendered = _user_code_deployment(values, deployment)
    kubernetes_validate.validate(rendered, K8S_VERSION, strict=True)
    pod = rendered["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001, "must match the image's USER"
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts and "/data" in mounts.values(), "ACCIDENTS_DATA_DIR=/data needs a writable volume"
    assert set(mounts) <= {v["name"] for v in pod["volumes"]}


def test_rendered_run_job_is_valid_kubernetes(values, deployment):
    rendered = _run_job(values, deployment)
    kubernetes_validate.validate(rendered, K8S_VERSION, strict=True)
    pod = rendered["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == deployment["podSecurityContext"]["runAsUser"]
    mounts = {m["name"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts <= {v["name"] for v in pod["volumes"]}


def test_runs_and_their_steps_use_the_kubernetes_executor(values, deployment, monkeypatch):
    """The code location and every run select dagster-k8s' k8s_job_executor: each step of a
    département's run is a pod of its own, with the run's image, environment and resources."""
    import importlib

    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert {"name": "ACCIDENTS_DAGSTER_EXECUTOR", "value": "k8s"} in deployment["env"]
    assert "ACCIDENTS_DAGSTER_EXECUTOR=k8s" in launcher["envVars"]
    step = _run_job(values, deployment)
    step["spec"]["template"]["spec"]["containers"][0]["args"] = ["dagster", "api", "execute_step", "{}"]
    kubernetes_validate.validate(step, K8S_VERSION, strict=True)
    for item in launcher["envVars"]:
        monkeypatch.setenv(*item.split("=", 1))
    monkeypatch.setenv("ACCIDENTS_CATALOG", "postgres")
    monkeypatch.setenv("ACCIDENTS_PG_DSN", "host=127.0.0.1 port=9 dbname=lake")
    definitions = importlib.import_module("dagster_accidents.definitions")
    try:
        defs = importlib.reload(definitions).defs
        assert defs.resolve_job_def("all_assets_job").executor_def.name == "k8s"
    finally:
        monkeypatch.undo()
        importlib.reload(definitions)
