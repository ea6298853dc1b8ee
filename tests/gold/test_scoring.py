"""Grid scoring: each distinct feature row once, in bounded chunks, with the same result as scoring
every point-hour row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.core.features import FEATURE_COLUMNS, AccidentHistory, compute_features, point_hour_rows
from pipeline.core.weather import WeatherHistory
from pipeline.gold.scoring import score_point_hours


class RowHashModel:
    """A probability that changes with any feature of the row, recording the size of every batch."""

    def __init__(self):
        self.batches: list[int] = []

    def predict_probability(self, df):
        self.batches.append(len(df))
        assert list(df.columns) == FEATURE_COLUMNS
        return pd.util.hash_pandas_object(df, index=False).to_numpy() / 2.0**64


@pytest.fixture(scope="module")
def grid():
    rng = np.random.default_rng(4)
    n = 40
    points = pd.DataFrame({
        "point_id": np.arange(n), "lat": -22.3 + rng.uniform(-0.3, 0.3, n), "lon": 166.4 + rng.uniform(-0.4, 0.4, n),
        "road_type": rng.choice(["primary", "residential"], n), "speed_limit": rng.choice([50.0, 90.0], n),
        "intersections_100m": rng.integers(0, 3, n).astype(float), "road_sinuosity": 1.0,
        "dist_to_main_city_km": rng.uniform(0, 40, n), "dep": np.where(np.arange(n) < 30, "988", "974"),
    })
    times = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365 * 24, 300), "h")
    accidents = pd.DataFrame({"accident_id": [f"a{i}" for i in range(300)], "event_time": times,
                              "lat": -22.3 + rng.uniform(-0.3, 0.3, 300), "lon": 166.4 + rng.uniform(-0.4, 0.4, 300)})
    history = AccidentHistory.point_in_time(accidents, 2, data_start="2021-01-01", data_end="2025-01-01")
    # Christmas to mid-January across a year start: holidays, a new history window, 3 stations, one
    # of which misses hours (its points then take the next station's code)
    hours = pd.date_range("2023-12-20", "2024-01-15", freq="h", inclusive="left")
    codes = rng.choice([1, 1, 1, 1, 2, 3], size=(3, len(hours)))
    codes[0, ::7] = 0
    weather = WeatherHistory(np.array(["s0", "s1", "s2"], dtype=object), np.array([-22.1, -22.5, -22.3]),
                             np.array([166.2, 166.6, 166.8]), hours.to_numpy(dtype="datetime64[ns]"), codes)
    return points, hours, history, weather


def every_row(points, hours, history, atm) -> np.ndarray:
    rows = compute_features(point_hour_rows(points, hours, atm), history)[FEATURE_COLUMNS]
    return RowHashModel().predict_probability(rows).reshape(len(hours), len(points)).T


@pytest.mark.parametrize("weather", [False, True])
def test_same_probabilities_as_scoring_every_row_in_bounded_chunks(grid, weather):
    points, hours, history, weather_history = grid
    atm = weather_history if weather else 2
    model = RowHashModel()
    prob, stats = score_point_hours(model, points, hours, history, atm, chunk_rows=500, dtype=np.float64)
    np.testing.assert_array_equal(prob, every_row(points, hours, history, atm))
    assert max(model.batches) <= 500 and stats["largest_chunk_rows"] <= 500
    assert sum(model.batches) == stats["rows_scored"] < prob.size  # repeated rows were not scored again


def test_a_weekly_scenario_scores_each_calendar_slot_once(grid):
    points, _, history, _ = grid
    hours = pd.date_range("2024-03-04", periods=24 * 14, freq="h")  # two ordinary weeks of March
    model = RowHashModel()
    prob, stats = score_point_hours(model, points, hours, history, 1)
    assert stats["rows_scored"] == len(points) * 24 * 7
    np.testing.assert_array_equal(prob[:, : 24 * 7], prob[:, 24 * 7:])


def test_a_model_returning_the_wrong_shape_is_an_error(grid):
    points, hours, history, _ = grid

    class Broken:
        def predict_probability(self, df):
            return np.zeros(len(df) + 1)

    with pytest.raises(AccidentsError, match="model returned"):
        score_point_hours(Broken(), points, hours[:5], history, 1)
    with pytest.raises(AccidentsError, match="chunk_rows=0"):
        score_point_hours(Broken(), points, hours[:5], history, 1, chunk_rows=0)


def test_a_large_grid_is_scored_by_the_compiled_lightgbm_model_with_the_same_probabilities(grid, monkeypatch):
    """Old path (the booster) and new path (its compiled trees) on the same small grid, with weather."""
    from pipeline.gold import scoring
    from pipeline.gold.modeling.data import Rows
    from pipeline.gold.training import fit_final_model
    from tests.gold.conftest import model_template, synthetic_features

    points, hours, history, weather = grid
    train = Rows(synthetic_features(60, 5, seed=1, samplers=("exclusion",)))
    model = fit_final_model(model_template("lightgbm", train, negative_weight=500.0), train,
                            {"learning_rate": 0.1, "max_depth": 5}, rounds=30, objective="pr_auc", seed=1, threads=1)
    monkeypatch.setattr(scoring, "COMPILE_MIN_CELL_HOURS", 10**12)
    booster_prob, booster_stats = score_point_hours(model, points, hours, history, weather, dtype=np.float64)
    monkeypatch.setattr(scoring, "COMPILE_MIN_CELL_HOURS", 0)
    compiled_prob, compiled_stats = score_point_hours(model, points, hours, history, weather, dtype=np.float64)
    assert not booster_stats["compiled"] and compiled_stats["compiled"]
    np.testing.assert_array_equal(compiled_prob, booster_prob)
