"""0.005 deg through the whole chain, on a window of Nouméa's roads: features, train (the intensity
candidates), evaluate (the backtest over every road point x hour of a year), predict a day, draw its map."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

ROADS = Path(__file__).parents[1] / "fixtures" / "osm" / "small_network.osm"
DAY = "2026-03-03"


@pytest.mark.slow  # the demo chain at a fine grid (~60 s CPU)
def test_a_fine_grid_runs_from_features_to_the_map(tmp_path, monkeypatch, capsys):
    from pipeline.cli import main
    from pipeline.core.lake import lake_connection
    from pipeline.core.settings import Settings

    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["ingest"]) == 0
    assert main(["features", "--grid-step", "0.005", "--buffer-meters", "300", "--roads-file", str(ROADS),
                 "--samplers", "uniform"]) == 0
    assert main(["train", "--trials", "1", "--candidates", "hotspot,glm"]) == 0
    assert main(["evaluate", "--candidates", "hotspot,glm", "--trials", "1", "--no-log-mlflow"]) == 0
    assert main(["predict", "--date", DAY]) == 0
    assert main(["map", "--date", DAY, "--threshold", "90"]) == 0
    out = capsys.readouterr().out

    with lake_connection(Settings.from_env(), read_only=True) as con:
        n_points = con.execute("SELECT count(*) FROM silver.road_points").fetchone()[0]
        steps = con.execute("SELECT DISTINCT round(abs(a.lat - b.lat), 4) FROM silver.road_points a, "
                            "silver.road_points b WHERE a.lon = b.lon AND a.lat > b.lat").fetchall()
        champion = con.execute("SELECT candidate, kind FROM gold.model_runs WHERE is_champion").fetchall()
        evaluated = con.execute("SELECT count(DISTINCT method), min(value) FROM gold.evaluation "
                                "WHERE metric = 'observed_accidents'").fetchone()
        predicted = con.execute("SELECT count(*), count(DISTINCT model_kind), min(expected_accidents) FROM "
                                "gold.predictions WHERE date = ?", [dt.date.fromisoformat(DAY)]).fetchone()
        totals = con.execute("SELECT count(*) FROM gold.prediction_totals WHERE scope = 'day'").fetchone()[0]
    assert min(step for (step,) in steps) == pytest.approx(0.005)
    assert len(champion) == 1 and champion[0][0] in ("hotspot", "glm")
    # the backtest scored every road point x hour of its test year for each method
    assert evaluated[0] >= 5 and evaluated[1] > 0  # model, two candidates, three baselines (and the oracles)
    assert predicted[0] == 24 * n_points and predicted[1] == 1 and predicted[2] >= 0 and totals == 1
    assert f"({champion[0][1]})" in out
    page = tmp_path / "data" / "maps" / f"{DAY}.html"
    assert page.is_file() and page.stat().st_size < 8_000_000
    assert "map of" in out
