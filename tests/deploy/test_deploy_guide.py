"""docs/DEPLOYMENT.md, section 0 ("From zero on microk8s"), read as a program: every step is a fenced
shell block, every line of it a command of a known program with valid shell syntax, and what it
names exists in what the script deploys (addons, storage class, Secrets, Services, the bootstrap Job),
and its invocation of rebuild-and-deploy.sh is accepted by the script."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "DEPLOYMENT.md"
PROGRAMS = {"sudo", "microk8s", "export", "newgrp", "curl", "./rebuild-and-deploy.sh"}


def _section() -> str:
    text = GUIDE.read_text()
    return text.split("## 0. From zero on microk8s", 1)[1].split("\n## ", 1)[0]


def _steps() -> dict[str, list[str]]:
    """Step title -> its fenced bash blocks."""
    steps = {}
    for chunk in _section().split("\n### ")[1:]:
        title, _, body = chunk.partition("\n")
        steps[title.strip()] = re.findall(r"```bash\n(.*?)```", body, re.S)
    return steps


def _commands() -> list[str]:
    lines = [line.split("  #")[0].strip() for blocks in _steps().values() for block in blocks
             for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_every_step_of_the_guide_is_commands():
    steps = _steps()
    assert len(steps) >= 5, list(steps)
    for title, blocks in steps.items():
        assert blocks, f"step {title!r} has no command block"
        for block in blocks:
            checked = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True)
            assert checked.returncode == 0, f"step {title!r}: {checked.stderr}"


def test_every_command_runs_a_known_program():
    for line in _commands():
        for part in re.split(r"\s*(?:&&|\|\|)\s*", line):
            words = shlex.split(part.rstrip("&").strip())
            program = words[0]
            assert program in PROGRAMS, f"{program!r} in {line!r}"
            if program == "sudo":
                assert words[1] in ("snap", "usermod"), line


def test_the_addons_give_the_registry_and_the_default_storage_class_the_script_uses():
    enable = next(line for line in _commands() if line.startswith("microk8s enable"))
    assert {"dns", "hostpath-storage", "registry", "helm3"} <= set(enable.split()[2:])
    deploy = next(line for line in _commands() if line.startswith("./rebuild-and-deploy.sh"))
    args = shlex.split(deploy)
    assert args[args.index("--registry") + 1] == "localhost:32000"  # the registry addon's address
    assert args[args.index("--storage-class") + 1] == "microk8s-hostpath"  # hostpath-storage's class
    assert "--bootstrap" in args and "--microk8s" in args


def test_the_guide_creates_every_secret_key_the_deployment_reads():
    template = {s["metadata"]["name"]: {k for k in s["stringData"] if "WEBHOOK" not in k}
                for s in yaml.safe_load_all((REPO / "k8s" / "secret-lake.template.yaml").read_text()) if s}
    created = {}
    for line in _commands():
        if match := re.search(r"create secret generic (\S+)", line):
            created[match[1]] = set(re.findall(r"--from-literal=([A-Za-z0-9_-]+)=", line))
    assert created == template


def test_the_script_accepts_the_guides_invocation():
    deploy = next(line for line in _commands() if line.startswith("./rebuild-and-deploy.sh"))
    plan = subprocess.run(["bash", *shlex.split(deploy), "--dry-run"], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert plan.returncode == 0, plan.stderr
    assert "storage class microk8s-hostpath" in plan.stdout
    assert plan.stdout.splitlines()[-1].startswith("+ microk8s kubectl get job/accidents-bootstrap ")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) not installed")
def test_what_the_guide_names_is_deployed():
    deploy = shlex.split(next(line for line in _commands() if line.startswith("./rebuild-and-deploy.sh")))
    args = [a for a in deploy[1:] if a != "--microk8s"]
    rendered = subprocess.run(["bash", str(REPO / "rebuild-and-deploy.sh"), "--render", *args], cwd=REPO,
                              capture_output=True, text=True, timeout=60, check=True).stdout
    objects = {f"{d['kind']}/{d['metadata']['name']}".lower() for d in yaml.safe_load_all(rendered) if d}
    chart = {"service/dagster-dagster-webserver"}  # the chart's webserver Service for release `dagster`
    named = set(re.findall(r"\b(svc|job)/([a-z0-9-]+)", _section()))
    kinds = {"svc": "service", "job": "job"}
    for kind, name in named:
        assert f"{kinds[kind]}/{name}" in objects | chart, f"{kind}/{name} is not deployed"
    assert ("svc", "accidents-api") in named and ("job", "accidents-bootstrap") in named
