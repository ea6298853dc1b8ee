"""The marimo app runs headless against a temporary lake (app.run executes every cell)."""

import datetime as dt
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.core.lake import connect
from pipeline.gold.predictions import predict_days
from pipeline.gold.scenarios import WEATHER_SCENARIOS
from tests.support.intensity import N_POINTS, fitted_world, write_world
from tests.support.registry import fake_registry

NOTEBOOK = Path(__file__).resolve().parents[1] / "predict_map.py"
DAY = dt.date(2026, 3, 2)


def load_app():
    spec = importlib.util.spec_from_file_location("predict_map_under_test", NOTEBOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def test_notebook_shows_stored_predictions_of_the_latest_day(settings_env):
    world, model, _ = fitted_world()
    con = connect(settings_env)
    write_world(con, world)
    predict_days(con, model=model, model_name="accidents-risk-988", model_version="5", dates=[DAY])
    con.close()
    _, defs = load_app().run()
    assert defs["default_day"] == DAY
    assert len(defs["predictions"]) == 24 * N_POINTS
    assert defs["map_html"].count("L.circleMarker(") == 24 * 3  # default: top 3 per hour
    assert len(defs["shown"]) == 72 and len(defs["hourly"]) == 24
    # the hourly table sums expected counts (not probabilities)
    expected = defs["predictions"]["expected_accidents"].sum()
    assert defs["hourly"]["expected_accidents"].sum() == pytest.approx(expected)
    assert defs["scenarios"] == {"Normal": 1}  # no champion to ask: normal weather only


def test_notebook_computes_missing_predictions_with_the_champion(settings_env, monkeypatch):
    world, model, _ = fitted_world()
    con = connect(settings_env)
    write_world(con, world)
    con.close()
    calls = fake_registry(monkeypatch, champion=model)
    _, defs = load_app().run()
    assert calls and calls[0][1] == "accidents-risk-988"
    assert len(defs["predictions"]) == 24 * N_POINTS
    assert "L.circleMarker(" in defs["map_html"]
    # the weather menu offers only what the champion saw in training, never an unseen weather
    seen = {label: code for label, code in WEATHER_SCENARIOS.items() if code in model.weather_codes}
    assert defs["scenarios"] == seen
    assert "Normal" in defs["scenarios"]


@pytest.mark.slow
def test_marimo_export_html_contains_the_map(settings_env, tmp_path):
    """`marimo export html` in a fresh process, as a user would render the notebook."""
    from tests.support.predictions import synthetic_predictions

    con = connect(settings_env)
    write_world(con, fitted_world()[0])
    preds = synthetic_predictions(n_points=30, day=DAY).drop(columns=["road_type", "speed_limit", "com"])
    preds["model_name"], preds["model_version"], preds["created_at"] = "accidents-risk-988", "1", dt.datetime(2026, 3, 1)
    preds["model_kind"] = "Poisson GLM"
    con.register("_p", preds)
    con.execute("CREATE TABLE gold.predictions AS SELECT date::DATE AS date, hour::INTEGER AS hour, "
                "point_id::BIGINT AS point_id, lat, lon, atm::INTEGER AS atm, expected_accidents, probability, risk_index, "
                "rank_in_hour::INTEGER AS rank_in_hour, model_name, model_version, model_kind, created_at, '988' AS dep "
                "FROM _p")
    con.close()
    out = tmp_path / "notebook.html"
    marimo = Path(sys.executable).with_name("marimo")
    proc = subprocess.run(
        [str(marimo), "export", "html", str(NOTEBOOK), "-o", str(out)],
        capture_output=True, text=True, timeout=170, env={**os.environ}, cwd=NOTEBOOK.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    assert "circleMarker" in text and "2026-03-02" in text
