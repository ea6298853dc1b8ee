"""0.005 deg through the whole chain, on a window of Nouméa's roads: features, train, evaluate (every
road point x hour of a year, scored in bounded chunks), predict a day, draw its map."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

ROADS = Path(__file__).parents[1] / "fixtures" / "osm" / "small_network.osm"
DAY = "2026-03-03"


@pytest.mark.slow  # the demo chain at a fine grid (~30 s CPU)
def test_a_fine_grid_runs_from_features_to_the_map(tmp_path, monkeypatch, capsys):
    from pipeline.cli import main
    from pipeline.core.lake import lake_connection
    from pipeline.core.settings import Settings
    from pipeline.gold import scoring

    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    chunks = []
    score = scoring.score_point_hours

    def recording(*args, **kwargs):
        prob, stats = score(*args, **kwargs)
        chunks.append((prob.shape, stats))
        return prob, stats

    monkeypatch.setattr(scoring, "score_point_hours", recording)
    monkeypatch.setattr(scoring, "CHUNK_ROWS", 5_000)
    assert main(["ingest"]) == 0
    assert main(["features", "--grid-step", "0.005", "--buffer-meters", "300", "--roads-file", str(ROADS)]) == 0
    assert main(["train", "--trials", "1", "--algorithms", "lightgbm", "--protocol", "temporal",
                 "--sampler", "uniform"]) == 0
    assert main(["evaluate", "--sampler", "uniform", "--no-log-mlflow"]) == 0
    assert main(["predict", "--date", DAY]) == 0
    assert main(["map", "--date", DAY, "--threshold", "90"]) == 0
    out = capsys.readouterr().out

    with lake_connection(Settings.from_env(), read_only=True) as con:
        n_points = con.execute("SELECT count(*) FROM silver.road_points").fetchone()[0]
        steps = con.execute("SELECT DISTINCT round(abs(a.lat - b.lat), 4) FROM silver.road_points a, "
                            "silver.road_points b WHERE a.lon = b.lon AND a.lat > b.lat").fetchall()
        evaluated = con.execute("SELECT count(DISTINCT method) FROM gold.evaluation").fetchone()[0]
        predicted = con.execute("SELECT count(*) FROM gold.predictions WHERE date = ?",
                                [dt.date.fromisoformat(DAY)]).fetchone()[0]
    assert min(step for (step,) in steps) == pytest.approx(0.005)
    assert evaluated >= 4 and predicted == 24 * n_points
    (year_shape, year_stats), (day_shape, _) = chunks[0], chunks[-1]
    assert year_shape == (n_points, 8784) and day_shape == (n_points, 24)
    # the year was scored in chunks of at most 5,000 rows, each distinct row once
    assert year_stats["largest_chunk_rows"] <= 5_000 < n_points * 8784
    assert year_stats["rows_scored"] < 0.6 * n_points * 8784
    page = tmp_path / "data" / "maps" / f"{DAY}.html"
    assert page.is_file() and page.stat().st_size < 8_000_000
    assert "map of" in out
