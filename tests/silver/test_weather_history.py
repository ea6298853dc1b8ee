"""Weather history: the observation -> atm mapping, nearest-station lookup, and the core rule that
sampled rows (both samplers, positives too) carry the weather of their own hour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.silver import sampling
from pipeline.core.weather import WeatherHistory, atm_from_observations, atm_matrix

WEST, EAST = (-22.25, 166.30), (-22.25, 166.65)


def crafted_weather(start="2019-01-01", end="2022-01-01") -> pd.DataFrame:
    """Two stations whose codes are a known function of the hour: west rains on even hours of odd
    days, east has heavy rain on every third day and is overcast otherwise."""
    hours = pd.date_range(start, end, freq="h", inclusive="left")
    day = (hours - pd.Timestamp(start)).days.to_numpy()
    west = np.where((hours.hour.to_numpy() % 2 == 0) & (day % 2 == 1), 2, 1)
    east = np.where(day % 3 == 0, 3, 8)
    return pd.concat([
        pd.DataFrame({"station_id": "west", "lat": WEST[0], "lon": WEST[1], "hour": hours, "atm": west}),
        pd.DataFrame({"station_id": "east", "lat": EAST[0], "lon": EAST[1], "hour": hours, "atm": east}),
    ], ignore_index=True)


def expected_code(lat, lon, times) -> np.ndarray:
    times = pd.DatetimeIndex(times)
    day = (times.floor("D") - pd.Timestamp("2019-01-01")).days.to_numpy()
    west = np.where((times.hour.to_numpy() % 2 == 0) & (day % 2 == 1), 2, 1)
    east = np.where(day % 3 == 0, 3, 8)
    nearer_west = np.abs(np.asarray(lon) - WEST[1]) < np.abs(np.asarray(lon) - EAST[1])
    return np.where(nearer_west, west, east)


def test_mapping_follows_the_documented_thresholds():
    obs = pd.DataFrame({
        "precipitation_mm": [0.0, 0.05, 0.1, 3.9, 4.0, np.nan, 0.0, 0.0, 0.0, 2.0],
        "visibility_m": [10_000, 10_000, 500, 10_000, 10_000, 800, np.nan, 10_000, 10_000, np.nan],
        "snowfall_cm": [0, 0, 0, 0, 0, 0, 0, 0, 0, 1.0],
        "wind_gust_kmh": [10, 10, 10, 10, 10, 10, 80, 10, 10, 10],
        "cloud_cover_pct": [10, 10, 10, 10, 10, 10, 100, 90, 87, 10],
    })
    assert atm_from_observations(obs).tolist() == [1, 1, 2, 2, 3, 5, 6, 8, 1, 4]
    assert atm_from_observations(pd.DataFrame({"precipitation_mm": [np.nan]})).tolist() == [1]


def test_lookup_takes_the_nearest_station_and_falls_back_when_it_has_no_record():
    frame = crafted_weather("2020-01-01", "2020-01-03")
    frame = frame[~((frame["station_id"] == "west") & (frame["hour"] == pd.Timestamp("2020-01-01 05:00")))]
    weather = WeatherHistory.from_frame(frame)
    lat, lon = [-22.25, -22.25, -22.25, -22.25], [166.35, 166.60, 166.35, 166.35]
    times = pd.to_datetime(["2020-01-02 02:30", "2020-01-01 10:00", "2020-01-01 05:00", "2021-06-01 00:00"])
    atm, missing = weather.atm_at(lat, lon, times)
    assert atm.tolist() == [2, 3, 3, 1]  # 3rd: west lacks 05:00 -> east; 4th: no station covers 2021 -> 1
    assert missing == 1
    grid = atm_matrix(weather, np.array([-22.25, -22.25]), np.array([166.35, 166.60]),
                      pd.date_range("2020-01-02 00:00", periods=3, freq="h"))
    assert grid.tolist() == [[2, 8], [1, 8], [2, 8]]  # (hours, points): 2 January is day 1 of the table
    assert atm_matrix(2, np.array([-22.25, -22.25]), np.array([166.35, 166.60]),
                      pd.date_range("2020-01-02", periods=2, freq="h")).tolist() == [[2, 2], [2, 2]]


@pytest.fixture
def points():
    lat, lon = np.meshgrid(np.arange(-22.40, -22.10, 0.02), np.arange(166.30, 166.66, 0.02), indexing="ij")
    return pd.DataFrame({"point_id": np.arange(lat.size) + 100, "lat": lat.ravel(), "lon": lon.ravel()})


@pytest.fixture
def accidents():
    rng = np.random.default_rng(3)
    n = 300
    # every accident in normal weather: a climatology draw would give negatives only code 1
    return pd.DataFrame({
        "accident_id": [f"a{i}" for i in range(n)],
        "lat": rng.uniform(-22.35, -22.15, n), "lon": rng.uniform(166.35, 166.6, n),
        "event_time": pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 3 * 8760 * 60, n), "min"),
        "atm": 1,
    })


@pytest.mark.parametrize("sampler", ["exclusion", "uniform"])
def test_negatives_carry_the_weather_of_their_own_hour(points, accidents, sampler):
    weather = WeatherHistory.from_frame(crafted_weather())
    period = sampling.Period.covering_years(accidents["event_time"])
    if sampler == "exclusion":
        neg = sampling.sample_exclusion(points, accidents, period, n_negatives=5000, exclusion_km=0.3,
                                        temporal_ratio=0.85, seed=1, weather=weather)
    else:
        neg = sampling.sample_uniform(points, accidents, period, n_negatives=5000, seed=1, weather=weather)
    where = points.set_index("point_id").loc[neg["point_id"]]
    expected = expected_code(where["lat"].to_numpy(), where["lon"].to_numpy(), neg["event_time"])
    np.testing.assert_array_equal(neg["atm"].to_numpy(), expected)
    assert set(neg["atm"]) == {1, 2, 3, 8}


def test_without_history_negatives_draw_the_accidents_weather(points, accidents):
    period = sampling.Period.covering_years(accidents["event_time"])
    neg = sampling.sample_uniform(points, accidents, period, n_negatives=500, seed=1)
    assert set(neg["atm"]) == {1}


def test_build_features_gives_every_row_its_own_hour_weather(silver_lake, accidents_frame):
    from pipeline.silver.features import build_features
    from pipeline.silver.params import FeatureParams
    from pipeline.silver.weather import build_weather_hourly

    class Crafted:
        label = "crafted"

        def hourly(self, years):
            from pipeline.core.weather import complete_weather_frame

            return complete_weather_frame(crafted_weather(), "crafted")

    build_weather_hourly(silver_lake, Crafted(), [2019, 2020, 2021])
    summary = build_features(silver_lake, FeatureParams(neg_ratio=3, seed=5), department="988")
    assert summary.weather == "crafted" and summary.rows_without_weather == 0
    rows = silver_lake.execute(
        "SELECT f.target, f.atm, f.event_time, p.lat, p.lon FROM silver.features_reference f "
        "JOIN silver.road_points p USING (point_id)").df()
    np.testing.assert_array_equal(rows["atm"].to_numpy(),
                                  expected_code(rows["lat"].to_numpy(), rows["lon"].to_numpy(), rows["event_time"]))
    assert rows.loc[rows["target"] == 1, "atm"].nunique() > 1 and rows.loc[rows["target"] == 0, "atm"].nunique() == 4


def test_the_scoring_grid_gives_every_cell_hour_its_own_hours_weather():
    """What the evaluation and the predictions score: each road point x hour under the code its nearest
    station recorded that hour; a code the model never saw (overcast, 8) is read as normal weather."""
    from pipeline.gold.intensity.grid import ScoringGrid

    points = pd.DataFrame({"point_id": [1, 2, 3], "lat": -22.25, "lon": [166.32, 166.40, 166.62]})
    hours = pd.date_range("2020-03-01", periods=72, freq="h")
    grid = ScoringGrid(points, hours, WeatherHistory.from_frame(crafted_weather()), "988")
    expected = np.stack([expected_code(np.full(len(hours), -22.25), np.full(len(hours), lon), hours)
                         for lon in points["lon"]])
    series = grid.raw_weather
    np.testing.assert_array_equal(series.atm[series.series_of_point], expected)
    assert len(np.unique(expected)) == 4
    cells, mapped = grid.cells_for((1, 2, 3))
    keyed = cells.keys["atm"].to_numpy()[cells.key_of[mapped.series_of_point]]
    np.testing.assert_array_equal(keyed, np.where(expected == 8, 1, expected))
    assert grid.weather_for((1, 2, 3))[1] == int((expected == 8).sum())  # remapped point-hours, counted
