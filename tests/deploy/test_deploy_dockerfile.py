"""Dockerfile.dagster and .dockerignore, checked statically (no Docker engine here), plus the
build-time DuckDB extension step run for real in a scratch HOME."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipeline.core.lake import required_extensions
from pipeline.core.settings import S3Settings, Settings

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile.dagster"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (KEYWORD, arguments)

    def args(self, keyword: str) -> list[str]:
        return [a for k, a in self.instructions if k == keyword]


def _instructions(text: str) -> list[tuple[str, str]]:
    """Dockerfile instructions with line continuations joined and comments dropped."""
    logical, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.partition(" ")
        logical.append((keyword.upper(), rest.strip()))
        current = ""
    return logical


def _stages() -> list[Stage]:
    stages: list[Stage] = []
    for keyword, rest in _instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, flags=re.IGNORECASE)
            assert match, f"cannot parse FROM {rest}"
            stages.append(Stage(base=match.group(1), name=match.group(2)))
        elif stages:
            stages[-1].instructions.append((keyword, rest))
    return stages


def _ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def _ignored(rel_path: str) -> bool:
    """Enough of .dockerignore matching for top-level names and ** globs."""
    for pattern in _ignore_patterns():
        candidates = [pattern, pattern.replace("**/", "")]
        if any(fnmatch.fnmatch(rel_path, c) or rel_path.startswith(c + "/") for c in candidates):
            return True
    return False


def test_multi_stage_with_builder_and_same_python_base():
    stages = _stages()
    assert len(stages) >= 2
    assert stages[0].name == "builder"
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, flags=re.MULTILINE)
    # Both stages share the base, so the venv's interpreter path exists in the final image.
    assert {s.base for s in stages} == {"${PYTHON_IMAGE}"}


def test_builder_installs_from_the_lock_without_dev_dependencies():
    builder = _stages()[0]
    runs = builder.args("RUN")
    assert any(re.fullmatch(r"pip install --no-cache-dir uv==\d+\.\d+\.\d+", r) for r in runs), runs
    syncs = [shlex.split(r) for r in runs if r.startswith("uv sync")]
    assert len(syncs) == 2, "deps first (cached layer), then the project"
    for sync in syncs:
        assert "--frozen" in sync and "--no-dev" in sync
    assert "--no-install-project" in syncs[0]
    assert "--no-editable" in syncs[1]
    copies = builder.args("COPY")
    assert copies[0] == "pyproject.toml uv.lock ./"
    # The lock is copied before the first sync, the code only after it.
    order = [k + " " + a for k, a in builder.instructions if k in ("COPY", "RUN")]
    assert order.index("COPY pyproject.toml uv.lock ./") < order.index(f"RUN {runs[1]}")
    assert order.index("COPY pipeline ./pipeline") > order.index(f"RUN {runs[1]}")


def test_no_tests_or_whole_context_are_copied():
    for stage in _stages():
        for copy in stage.args("COPY"):
            parts = [p for p in shlex.split(copy) if not p.startswith("--")]
            sources = parts[:-1]
            assert "." not in sources and "./" not in sources, f"COPY of the whole context: {copy}"
            assert not any("test" in s for s in sources), f"tests copied: {copy}"
            if "--from=builder" not in copy:
                for source in sources:
                    assert (REPO / source).exists(), f"COPY source {source} missing"
                    assert not _ignored(source), f"COPY source {source} excluded by .dockerignore"


def test_final_stage_runs_as_non_root_user_with_runtime_env():
    final = _stages()[-1]
    users = final.args("USER")
    assert users and users[-1] not in ("root", "0", "0:0")
    run_text = " ".join(final.args("RUN"))
    assert '--uid "${APP_UID}"' in run_text
    assert "APP_UID=10001" in final.args("ARG")
    assert "useradd" in run_text and users[-1] in run_text
    env = " ".join(final.args("ENV"))
    for setting in ("PATH=/opt/venv/bin:$PATH", "DAGSTER_HOME=", "ACCIDENTS_DATA_DIR=/data", "HOME="):
        assert setting in env, setting
    assert "/data" in run_text and "chown" in run_text, "/data must be writable by the user"
    assert final.args("COPY") == ["--from=builder /opt/venv /opt/venv"]


def test_final_stage_serves_the_code_location_on_3030_and_exposes_the_api_and_mlflow():
    final = _stages()[-1]
    # The chart and the run launcher pass full commands as container args: an ENTRYPOINT would
    # be prepended to them and break both.
    assert not any(k == "ENTRYPOINT" for stage in _stages() for k, _ in stage.instructions)
    assert final.args("EXPOSE") == ["3030 8000 5000"]  # gRPC, `accidents serve`, `mlflow server`
    (cmd,) = final.args("CMD")
    assert json.loads(cmd) == [
        "dagster", "api", "grpc", "--module-name", "dagster_accidents.definitions",
        "--host", "0.0.0.0", "--port", "3030",
    ]  # fmt: skip


def _extension_step() -> tuple[int, str]:
    final = _stages()[-1]
    for index, (keyword, rest) in enumerate(final.instructions):
        if keyword == "RUN" and "install_extensions" in rest:
            match = re.fullmatch(r'python -c "(.*)"', rest)
            assert match, rest
            return index, match.group(1)
    raise AssertionError("no RUN step installs the DuckDB extensions")


def test_extensions_are_installed_as_the_runtime_user():
    index, code = _extension_step()
    final = _stages()[-1]
    user_index = max(i for i, (k, _) in enumerate(final.instructions) if k == "USER")
    assert index > user_index, "extensions must land in the non-root user's ~/.duckdb"
    # Covers every extension the production lake (PostgreSQL catalog + S3) needs.
    production = Settings(catalog="postgres", postgres_dsn="host=x", data_path="s3://b/p/", s3=S3Settings())
    for extension in (*required_extensions(production), "spatial", "sqlite"):
        assert f"'{extension}'" in code, extension


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="extension wheels checked on linux only")
def test_extension_step_works_in_a_fresh_home(tmp_path):
    """Run the Dockerfile's own extension step: the extensions come from the wheels, offline."""
    _, code = _extension_step()
    env = {**os.environ, "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    installed = {p.name.split(".")[0] for p in (tmp_path / ".duckdb").rglob("*.duckdb_extension")}
    assert {"ducklake", "postgres_scanner", "httpfs", "spatial", "sqlite_scanner"} <= installed


def test_dockerignore_excludes_data_venv_git_and_tests():
    for path in ("data", ".venv", ".git", "tests", "dagster_home", ".pytest_cache"):
        assert _ignored(path), path
    for needed in ("pyproject.toml", "uv.lock", "README.md", "pipeline", "dagster_accidents"):
        assert not _ignored(needed), needed
    assert _ignored("pipeline/__pycache__/lake.cpython-311.pyc")
