"""Two départements fanned out by Dagster on the production lake (PostgreSQL catalog + SeaweedFS S3,
MLflow's store and Dagster's storage on PostgreSQL): each département alone in its own lake (both at
once, the lakes being separate), then both at once in one shared lake, each as independent runs with the multiprocess
executor. The shared lake must hold, per département, exactly the rows it holds alone, and no row of
one département may be lost to the other's writes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.core.settings import Settings
from tests.departments.reunion_fixture import REUNION, TAHITI, write_departements_source
from tests.live.conftest import lake_env, process_env

pytestmark = pytest.mark.slow

DAY = "first"  # the first predicted-day partition: 1 January after the last year a folder covers
DEPS = (REUNION.dep, TAHITI.dep)
REPO = Path(__file__).resolve().parents[2]
TIME = Path("/usr/bin/time")


def start(dep: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """One département's runs in a process of its own (peak memory via GNU time when present), in
    the log's folder: MLflow keeps the artifacts of a database store under ./mlruns."""
    command = [sys.executable, "-m", "tests.live.dagster_departement", dep, DAY]
    if TIME.exists():
        command = [str(TIME), "-v", *command]
    return subprocess.Popen(command, cwd=log.parent, env={**env, "PYTHONPATH": str(REPO)}, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen, log: Path) -> int:
    """Waits for the process; returns its peak resident memory in MiB (0 without GNU time)."""
    assert proc.wait(timeout=1800) == 0, log.read_text()[-4000:]
    text = log.read_text()
    assert text.count("success") == 3, text[-4000:]
    peak = [line for line in text.splitlines() if "Maximum resident set size" in line]
    return int(peak[0].split(":")[1]) // 1024 if peak else 0


def counts(settings: Settings) -> dict[str, dict[str, int]]:
    """Rows per département of every lake table."""
    from pipeline.core.lake import lake_connection

    out: dict[str, dict[str, int]] = {}
    with lake_connection(settings, read_only=True) as con:
        tables = con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables "
                             "WHERE table_catalog = 'lake' AND table_schema IN ('bronze', 'silver', 'gold')").fetchall()
        for (table,) in tables:
            key = "upper(trim(dep))" if table == "bronze.raw_caracteristiques" else "dep"
            for dep, n in con.execute(f"SELECT {key}, count(*) FROM {table} GROUP BY 1").fetchall():
                out.setdefault(dep, {})[table] = n
    return out


def mlflow_store(postgres_server) -> str:
    """An MLflow tracking store in PostgreSQL, its schema created before two processes share it."""
    import mlflow

    uri = postgres_server.url(postgres_server.new_database("mlflow"))
    mlflow.MlflowClient(uri).search_experiments()
    return uri


def test_two_departements_in_parallel_do_not_interfere(postgres_server, s3_server, tmp_path, capsys):
    source = write_departements_source(tmp_path / "baac", (REUNION, TAHITI))
    tracking = mlflow_store(postgres_server)
    home = tmp_path / "dagster_home"
    home.mkdir()
    storage = postgres_server.url(postgres_server.new_database("dagster"))
    (home / "dagster.yaml").write_text(f'storage:\n  postgres:\n    postgres_url: "{storage}"\n'
                                       "telemetry:\n  enabled: false\n")

    def environment(lake: str, deps: tuple[str, ...]) -> dict[str, str]:
        return process_env({**lake_env(tmp_path / lake, postgres_server.new_database(lake), s3_server.endpoint,
                                       f"{tmp_path.name}-{lake}"),
                            "ACCIDENTS_DEPS": ",".join(deps), "ACCIDENTS_SOURCE": str(source),
                            "MLFLOW_TRACKING_URI": tracking, "DAGSTER_HOME": str(home)})

    started = time.perf_counter()
    # each département alone in its own lake: the reference tables, whatever runs the steps (in one
    # process here, which spares the step processes' start-ups; the shared lake below is the test)
    envs = {dep: {**environment(f"alone{dep}", (dep,)), "ACCIDENTS_DAGSTER_EXECUTOR": "in_process"} for dep in DEPS}
    procs = {dep: start(dep, envs[dep], tmp_path / f"alone-{dep}.log") for dep in DEPS}
    peaks = {dep: finish(proc, tmp_path / f"alone-{dep}.log") for dep, proc in procs.items()}
    alone = {dep: counts(Settings.from_env(envs[dep]))[dep] for dep in DEPS}
    separate = time.perf_counter() - started

    env = environment("shared", DEPS)
    started = time.perf_counter()
    procs = {dep: start(dep, env, tmp_path / f"shared-{dep}.log") for dep in DEPS}  # both at once
    shared_peaks = {dep: finish(proc, tmp_path / f"shared-{dep}.log") for dep, proc in procs.items()}
    parallel = time.perf_counter() - started

    shared = counts(Settings.from_env(env))
    assert set(shared) == set(DEPS)
    for dep in DEPS:
        assert shared[dep] == alone[dep], dep  # every table, row for row in number
        assert shared[dep]["bronze.accidents"] == 6 * 60 and shared[dep]["gold.predictions"] > 0
    with capsys.disabled():
        print(f"\nfan-out of {', '.join(DEPS)} at once: in separate lakes {separate:.0f} s, in one lake "
              f"{parallel:.0f} s; peak RSS per département's process alone {peaks} MiB, sharing {shared_peaks} MiB")
