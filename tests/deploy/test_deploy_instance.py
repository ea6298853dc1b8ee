"""The Dagster instance files: local dev (dagster_home/) and production (k8s/), plus the workspace.

Validated with dagster's own config schemas, and the local one is loaded as a real instance.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance
from dagster._config import process_config, validate_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.scheduler import DagsterDaemonScheduler
from dagster._core.storage.config import pg_config
from dagster._core.workspace.config_schema import process_workspace_config
from dagster._serdes import ConfigurableClassData
from dagster._serdes.config_class import class_from_code_pointer

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
LOCAL_HOME = REPO / "dagster_home"

PG_ENV = {
    "DAGSTER_PG_HOST": "pg.example.internal",
    "DAGSTER_PG_PORT": "5433",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "not-a-real-password",
}


def _class(section: dict) -> type:
    return class_from_code_pointer(section["module"], section["class"])


# ---------------------------------------------------------------- local development instance


def test_local_instance_config_is_valid():
    config, custom_class = dagster_instance_config(str(LOCAL_HOME))
    assert custom_class is None
    assert config["telemetry"]["enabled"] is False
    assert "storage" not in config, "local storage stays the SQLite default under DAGSTER_HOME"


def test_local_run_coordinator_admits_one_run():
    """The embedded lake has one writer at a time: the queue launches a single run."""
    section = yaml.safe_load((LOCAL_HOME / "dagster.yaml").read_text())["run_coordinator"]
    data = ConfigurableClassData(section["module"], section["class"], yaml.safe_dump(section["config"]))
    coordinator = data.rehydrate(QueuedRunCoordinator)
    assert isinstance(coordinator, QueuedRunCoordinator)
    assert coordinator.get_run_queue_config().max_concurrent_runs == 1


@pytest.mark.slow
def test_local_instance_loads_and_runs_one_run_at_a_time(tmp_path):
    """Load the real instance (creates its SQLite storage, hence slow)."""
    shutil.copy(LOCAL_HOME / "dagster.yaml", tmp_path / "dagster.yaml")
    instance = DagsterInstance.from_config(str(tmp_path))
    try:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None and queue.max_concurrent_runs == 1
        # SQLite run storage lives under the instance's own folder.
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert str(tmp_path) in instance.run_storage._conn_string  # noqa: SLF001
    finally:
        instance.dispose()


def test_local_home_tracks_only_its_config():
    ignore = (LOCAL_HOME / ".gitignore").read_text().split()
    assert "*" in ignore and "!dagster.yaml" in ignore


# ---------------------------------------------------------------- production instance


@pytest.fixture(scope="module")
def prod() -> dict:
    config, custom_class = dagster_instance_config(str(K8S))
    assert custom_class is None
    return config


def test_prod_run_launcher_is_k8s_and_its_config_is_valid(prod, monkeypatch):
    from dagster_k8s import K8sRunLauncher

    launcher = prod["run_launcher"]
    assert _class(launcher) is K8sRunLauncher
    checked = validate_config(K8sRunLauncher.config_type(), launcher["config"])
    assert checked.success, checked.errors
    monkeypatch.setenv("DAGSTER_K8S_JOB_NAMESPACE", "accidents-ci")
    resolved = process_config(K8sRunLauncher.config_type(), launcher["config"])
    assert resolved.success, resolved.errors
    assert resolved.value["job_namespace"] == "accidents-ci"
    assert resolved.value["env_config_maps"] == ["accidents-lake-config"]
    assert resolved.value["env_secrets"] == ["accidents-lake-secrets"]
    assert resolved.value["postgres_password_secret"] == "dagster-postgresql-secret"



def test_prod_run_job_rendered_by_dagster_k8s_is_valid_kubernetes(prod, monkeypatch):
    """Build the run Job the way K8sRunLauncher does, then validate it against the K8s schemas."""
    import kubernetes
    import kubernetes_validate
    from dagster_k8s import K8sRunLauncher
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import DagsterK8sJobConfig, UserDefinedDagsterK8sConfig, construct_dagster_k8s_job
    from kubernetes_validate.utils import latest_version

    monkeypatch.setenv("DAGSTER_K8S_JOB_NAMESPACE", "accidents")
    config = process_config(K8sRunLauncher.config_type(), prod["run_launcher"]["config"]).value
    context = K8sContainerContext(
        image_pull_policy=config["image_pull_policy"],
        env_config_maps=config["env_config_maps"],
        env_secrets=config["env_secrets"],
        volume_mounts=config["volume_mounts"],
        volumes=config["volumes"],
        resources=config["resources"],
        security_context=config["security_context"],
        namespace=config["job_namespace"],
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(config["run_k8s_config"]),
    )
    job_config = DagsterK8sJobConfig(
        job_image="r.example/accidents-dagster:t1",
        dagster_home=config["dagster_home"],
        instance_config_map=config["instance_config_map"],
        postgres_password_secret=config["postgres_password_secret"],
    )
    job = construct_dagster_k8s_job(
        job_config,
        ["dagster", "api", "execute_run", "{}"],
        "dagster-run-0",
        user_defined_k8s_config=context.run_k8s_config,
        component="run_worker",
    )
    manifest = kubernetes.client.ApiClient().sanitize_for_serialization(job)
    kubernetes_validate.validate(manifest, latest_version(), strict=True)

    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsUser"] == 10001 and pod["securityContext"]["runAsNonRoot"]
    assert {"mountPath": "/data", "name": "accidents-data"} in container["volumeMounts"]
    assert {"configMapRef": {"name": "accidents-lake-config"}} in container["envFrom"]
    assert {"secretRef": {"name": "accidents-lake-secrets"}} in container["envFrom"]
    assert container["resources"]["limits"]["memory"] == "3Gi"
    password = next(e for e in container["env"] if e["name"] == "DAGSTER_PG_PASSWORD")
    assert password["valueFrom"]["secretKeyRef"]["name"] == "dagster-postgresql-secret"


def test_prod_storage_is_postgres_from_env(prod, monkeypatch):
    postgres_db = prod["storage"]["postgres"]["postgres_db"]
    assert {value["env"] for value in postgres_db.values()} == set(PG_ENV)
    for name, value in PG_ENV.items():
        monkeypatch.setenv(name, value)
    resolved = process_config(pg_config(), prod["storage"]["postgres"])
    assert resolved.success, resolved.errors
    db = resolved.value["postgres_db"]
    assert (db["hostname"], db["port"], db["db_name"]) == ("pg.example.internal", 5433, "dagster")
    assert db["password"] == "not-a-real-password"


def test_prod_storage_fails_clearly_without_env(prod, monkeypatch):
    for name in PG_ENV:
        monkeypatch.delenv(name, raising=False)
    resolved = process_config(pg_config(), prod["storage"]["postgres"])
    assert not resolved.success
    assert "DAGSTER_PG_HOST" in str(resolved.errors)


def test_prod_queue_has_tag_limits_and_daemon_scheduler(prod):
    coordinator = prod["run_coordinator"]
    assert _class(coordinator) is QueuedRunCoordinator
    checked = process_config(QueuedRunCoordinator.config_type(), coordinator["config"])
    assert checked.success, checked.errors
    limits = checked.value["tag_concurrency_limits"]
    assert limits and all(limit["limit"] >= 1 for limit in limits)
    assert checked.value["max_concurrent_runs"] > 1, "PostgreSQL catalog admits parallel runs"
    assert _class(prod["scheduler"]) is DagsterDaemonScheduler
    assert prod["telemetry"]["enabled"] is False


# ---------------------------------------------------------------- production workspace


def test_workspace_points_at_the_user_code_grpc_server():
    workspace = yaml.safe_load((K8S / "workspace.yaml").read_text())
    checked = process_workspace_config(workspace)
    assert checked.success, checked.errors
    (entry,) = workspace["load_from"]
    server = entry["grpc_server"]
    values = yaml.safe_load((K8S / "helm" / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    # The chart names the user-code Service after the deployment entry.
    assert server["host"] == deployment["name"]
    assert server["port"] == deployment["port"] == 3030
    assert server["location_name"] == "accidents"


@pytest.mark.skipif(
    importlib.util.find_spec("dagster_accidents.definitions") is None,
    reason="dagster_accidents.definitions not written yet",
)
def test_code_location_module_loads_with_production_settings(tmp_path):
    """What the gRPC server imports, in a fresh process with only the ConfigMap's settings and
    placeholder secrets: importing must not need a database or object storage."""
    configmap = yaml.safe_load((K8S / "configmap-lake.yaml").read_text())["data"]
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path),
        **configmap,
        "ACCIDENTS_DATA_DIR": str(tmp_path / "data"),
        "PGPASSWORD": "placeholder",
        "ACCIDENTS_S3_ACCESS_KEY_ID": "placeholder",
        "ACCIDENTS_S3_SECRET_ACCESS_KEY": "placeholder",
    }
    code = (
        "import dagster as dg, dagster_accidents.definitions as m; "
        "assert isinstance(m.defs, dg.Definitions), type(m.defs); print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
