"""The bootstrap of a fresh deployment, for real: an empty lake and instance, the code location served
by `dagster api grpc` (as the Helm chart's code server), `python -m dagster_accidents.bootstrap`; then
the runs are in the instance, the lake holds tomorrow's predictions and the schedules are on for the
served location."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_bootstrap_fills_an_empty_lake_and_switches_the_schedules_on(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "ACCIDENTS_DATA_DIR": str(tmp_path / "data"),
           "ACCIDENTS_CATALOG": "sqlite", "ACCIDENTS_DEPS": "988"}
    env.pop("MLFLOW_TRACKING_URI", None)
    port = free_port()
    server_log = (tmp_path / "code-server.log").open("w")
    server = subprocess.Popen([str(BIN / "dagster"), "api", "grpc", "-m", "dagster_accidents.definitions",
                               "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=REPO,
                              stdout=server_log, stderr=subprocess.STDOUT)
    try:
        done = subprocess.run([sys.executable, "-m", "dagster_accidents.bootstrap", "--trials", "1",
                               "--candidates", "hotspot,glm,lightgbm", "--grpc-host", "127.0.0.1",
                               "--grpc-port", str(port), "--location", "accidents"], env=env, cwd=REPO, capture_output=True, text=True,
                              timeout=1200)
        alive = server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=30)
        server_log.close()
    assert done.returncode == 0, (done.stdout[-1000:] + done.stderr[-2000:] + f"\ncode server alive: {alive}\n"
                                  + (tmp_path / "code-server.log").read_text()[-2000:])
    assert "Started all schedules" in done.stdout and done.stdout.rstrip().endswith("bootstrap: done")

    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the instance the bootstrap wrote
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        jobs = sorted(r.job_name for r in runs)
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert jobs == ["all_assets_job", "daily_predictions_job", *["ingest_job"] * 6]
        model_run = next(r for r in runs if r.job_name == "all_assets_job")
        chosen = {"trials": 1, "candidates": ["hotspot", "glm", "lightgbm"]}
        # the training and its backtest both get the bootstrap's candidates and trials
        assert {op: model_run.run_config["ops"][op]["config"] for op in ("gold__trained_models", "gold__evaluation")} \
            == {"gold__trained_models": chosen, "gold__evaluation": chosen}
        states = instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE)
        running = {s.name: s.origin.repository_origin.code_location_origin.location_name
                   for s in states if s.status == InstigatorStatus.RUNNING}
    assert running == {"daily_predictions_schedule": "accidents", "weekly_lake_maintenance_schedule": "accidents"}

    from pipeline.core.lake import lake_connection
    from pipeline.core.settings import Settings

    with lake_connection(Settings(data_dir=tmp_path / "data"), read_only=True) as con:
        days = con.execute("SELECT count(DISTINCT date), count(*) FROM gold.predictions").fetchone()
        points = con.execute("SELECT count(*) FROM silver.road_points").fetchone()[0]
    assert days == (1, 24 * points)


def test_bootstrap_waits_for_the_code_server_and_names_it_when_it_never_answers():
    # before writing anything: the code server and the bootstrap must not create a fresh instance at once
    from dagster_accidents.bootstrap import wait_for_code_server

    port = free_port()  # nothing listens there
    with pytest.raises(SystemExit, match=f"code server at 127.0.0.1:{port} did not answer"):
        wait_for_code_server("127.0.0.1", port, timeout=0)
