"""A running API picks up a moved champion alias and newly written predictions without a restart."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import (
    PREDICTED_DAY,
    REGISTERED,
    UNPREDICTED_DAY,
    build_demo_lake,
    free_port,
    register_champion,
    serve,
)


def wait_for(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_champion_and_predictions_are_reloaded_while_serving(tmp_path):
    from pipeline.core.lake import lake_connection
    from pipeline.gold.predictions import predict_days
    from tests.support.intensity import DAILY_ACCIDENTS, fit_glm, synthetic_world, validation_record

    lake = build_demo_lake(tmp_path / "data")
    point = lake.points.iloc[5]
    query = {"lat": point.lat, "lon": point.lon, "time": f"{UNPREDICTED_DAY}T18:00"}
    with serve(lake.settings, refresh_seconds=0.2) as server, httpx.Client(base_url=server.url, timeout=60) as api:
        before = api.get("/v1/risk", params=query).json()
        assert before["source"] == "on_the_fly" and before["model"]["version"] == "1"

        # A champion retrained on a world of 3x the daily accidents (the same road points) takes the alias.
        busier = synthetic_world(len(lake.points), daily=3 * DAILY_ACCIDENTS)
        stronger = fit_glm(busier)
        assert register_champion(lake.settings, stronger, validation_record(busier, stronger)) == "2"
        assert wait_for(lambda: api.get("/v1/model").json()["version"] == "2")
        after = api.get("/v1/risk", params=query).json()
        assert after["model"]["version"] == "2" and after["source"] == "on_the_fly"
        assert after["probability"] > 2 * before["probability"]

        # The daily job writes the day: the API now answers it from gold.predictions.
        with lake_connection(lake.settings) as con:
            predict_days(con, model=stronger, model_name=REGISTERED, model_version="2", dates=[UNPREDICTED_DAY],
                         atm=1)
        assert wait_for(lambda: api.get("/v1/risk", params=query).json()["source"] == "gold.predictions")
        served = api.get("/v1/risk", params=query).json()
        assert served["probability"] == pytest.approx(after["probability"])
        metrics = api.get("/metrics").text
        assert f'accidents_api_model_version{{model="{REGISTERED}"}} 2.0' in metrics


def test_accidents_serve_starts_ready_and_stops(demo_lake):
    """The CLI entry point: a real uvicorn process with the embedded lake from ACCIDENTS_DATA_DIR."""
    import os

    port = free_port()
    env = {**os.environ, "ACCIDENTS_DATA_DIR": str(demo_lake.settings.data_dir), "ACCIDENTS_CATALOG": "sqlite"}
    env.pop("MLFLOW_TRACKING_URI", None)
    started = time.monotonic()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "accidents"), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def ready():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_for(ready, timeout=60), proc.stdout.read() if proc.poll() is not None else "not ready"
        print(f"start-up to ready: {time.monotonic() - started:.2f}s")
        r = httpx.get(f"http://127.0.0.1:{port}/v1/hotspots", params={"date": PREDICTED_DAY.isoformat()})
        assert r.status_code == 200 and len(r.json()["features"]) == 10
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_serve_rejects_bad_options(capsys):
    from pipeline.cli import main

    assert main(["serve", "--port", "70000"]) == 2
    assert "--port 70000" in capsys.readouterr().err
    assert main(["serve", "--radius-km", "0"]) == 2
    assert "--radius-km" in capsys.readouterr().err
    assert main(["serve", "--dep", "9999"]) == 2
    assert "9999" in capsys.readouterr().err
