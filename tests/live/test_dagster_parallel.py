"""Two Dagster runs at once (multiprocess executor) on the production lake (PostgreSQL catalog + Parquet on
S3), MLflow on its server and Dagster's own storage on PostgreSQL: the hold-out evaluation (partition 988)
and a day's predictions (partition day|988), which both depend on the trained model and not on each
other, run at the same time and commit to the same catalog. No error, no lost write, exact row counts.
(Within one département the asset graph is a chain; its parallelism is across partitions.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipeline.core.lake import connect, list_tables
from pipeline.core.settings import Settings
from tests.live.conftest import BIN, lake_env, process_env

pytestmark = pytest.mark.slow
DAY = "2025-03-11"
DEP = "988"
YEARS = "2020-2024"  # the first years feed history only: train, valid 2023, test 2024 need five


def _accidents(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([str(BIN / "accidents"), *args], env=process_env(env), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-3000:]


def _tables(env: dict[str, str]) -> dict[str, int]:
    con = connect(Settings.from_env(env), read_only=True)
    try:
        return dict(list_tables(con))
    finally:
        con.close()


def test_two_runs_materialize_independent_assets_at_the_same_time(
        postgres_server, s3_server, mlflow_server, tmp_path, monkeypatch):
    from pipeline.sources.select import demo_files_dir

    env = {**lake_env(tmp_path / "data", postgres_server.new_database(), s3_server.endpoint, f"par-{tmp_path.name}"),
           "MLFLOW_TRACKING_URI": mlflow_server.uri, "ACCIDENTS_SOURCE": "demo"}
    settings = Settings.from_env(env)
    roads = demo_files_dir(settings, settings.seed, 1.0) / "roads.osm"
    started = time.perf_counter()
    _accidents(env, "ingest", "--years", YEARS)
    # a coarser grid (the evaluation scores every point-hour of the test year), fewer negatives, a year of history
    _accidents(env, "features", "--roads-file", str(roads), "--grid-step", "0.04", "--neg-ratio", "5",
               "--history-lookback-years", "1")
    _accidents(env, "train", "--trials", "1", "--candidates", "hotspot,glm", "--threads", "1")
    setup_seconds = time.perf_counter() - started
    before = _tables(env)

    for key, value in env.items():  # the code location and its step processes read the environment
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        f"storage:\n  postgres:\n    postgres_url: \"{postgres_server.url(postgres_server.new_database('dagster'))}\"\n"
        "telemetry:\n  enabled: false\n")
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # step processes import tests.live.parallel_job

    runs = {"gold__evaluation": ["evaluation", DEP, json.dumps({"ops": {"gold__evaluation": {"config": {"trials": 1, "candidates": ["hotspot", "glm"]}}}})],
            "gold__predictions": ["predictions", f"{DAY}|{DEP}"]}
    run_env = {**os.environ, "DAGSTER_HOME": str(home)}
    started = time.perf_counter()
    launched = [subprocess.Popen([sys.executable, "-m", "tests.live.parallel_job", *args], env=run_env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for args in runs.values()]
    outputs = [p.communicate(timeout=900) for p in launched]
    run_seconds = time.perf_counter() - started
    for p, (out, err) in zip(launched, outputs):
        assert p.returncode == 0, out[-1500:] + err[-3000:]
    run_ids = [out.strip().splitlines()[-1] for out, _ in outputs]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        events = [r.event_log_entry for run_id in run_ids
                  for r in instance.get_records_for_run(run_id).records if r.event_log_entry.is_dagster_event]
        failures = [e.dagster_event.event_type_value for e in events
                    if e.dagster_event.is_failure or e.dagster_event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE")]
        assert not failures, failures
        spans = {}
        for e in events:
            kind = e.dagster_event.event_type_value
            if kind in ("STEP_START", "STEP_SUCCESS"):
                spans.setdefault(e.step_key, {})[kind] = e.timestamp
        materialized = {e.dagster_event.asset_key.to_user_string(): e.dagster_event.materialization.metadata
                        for e in events if e.dagster_event.event_type_value == "ASSET_MATERIALIZATION"}

    assert set(spans) == {"gold__evaluation", "gold__predictions"}, spans
    (a, b) = (spans["gold__evaluation"], spans["gold__predictions"])
    overlap = min(a["STEP_SUCCESS"], b["STEP_SUCCESS"]) - max(a["STEP_START"], b["STEP_START"])
    print(f"\nsetup (ingest {YEARS}, features, train): {setup_seconds:.0f} s; two Dagster runs: {run_seconds:.0f} s; "
          f"evaluation step {a['STEP_SUCCESS'] - a['STEP_START']:.1f} s, predictions step "
          f"{b['STEP_SUCCESS'] - b['STEP_START']:.1f} s, running together {overlap:.1f} s")
    assert overlap > 0, "the two steps did not run at the same time"

    after = _tables(env)
    con = connect(Settings.from_env(env), read_only=True)
    try:
        points = con.execute("SELECT count(*) FROM silver.road_points").fetchone()[0]
        day_rows = con.execute("SELECT count(*) FROM gold.predictions WHERE date = ?", [DAY]).fetchone()[0]
    finally:
        con.close()
    assert day_rows == points * 24 == after["gold.predictions"]  # every point-hour of the day, once
    assert materialized["gold/predictions"]["dagster/row_count"].value == day_rows
    assert after["gold.evaluation"] == materialized["gold/evaluation"]["dagster/row_count"].value > 0
    written = {"gold.predictions", "gold.prediction_totals", "gold.evaluation", "gold.calibration"}
    assert {t: n for t, n in after.items() if t not in written} == {t: n for t, n in before.items() if t not in written}
