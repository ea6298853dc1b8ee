"""On a small synthetic world whose true intensity doubles in the rain, and whose rain is strongly
seasonal, a model trained on silver.features learns a rain ratio above 1 in every month.

With the old sampler (negatives drawing the accidents' weather distribution, independent of their
hour) the same world teaches the season instead: rain looks protective in the dry months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.silver.conftest import LAT_RANGE, LON_RANGE, ROAD_LATS, ROAD_LONS, write_accidents, write_grid_osm

RAIN_EFFECT = 2.0
RAIN_SHARE = np.array([0.45, 0.45, 0.4, 0.3, 0.15, 0.08, 0.05, 0.05, 0.05, 0.08, 0.15, 0.35])  # by month


def synthetic_world(seed: int = 0, years=(2019, 2020, 2021), per_year: int = 600):
    """(territory-wide hourly weather, accidents) with lambda(hour) proportional to 2 in rain, 1 otherwise."""
    rng = np.random.default_rng(seed)
    hours = pd.date_range(f"{years[0]}-01-01", f"{years[-1] + 1}-01-01", freq="h", inclusive="left")
    days = hours.normalize().unique()
    wet_day = rng.random(len(days)) < RAIN_SHARE[days.month - 1] * 1.6
    rain = wet_day[days.get_indexer(hours.normalize())] & (rng.random(len(hours)) < 0.62)
    atm = np.where(rain, 2, 1)
    rate = np.where(rain, RAIN_EFFECT, 1.0)
    counts = rng.poisson(rate * per_year * len(years) / rate.sum())
    hour_idx = np.repeat(np.arange(len(hours)), counts)
    n = len(hour_idx)
    horizontal = rng.random(n) < 0.5
    lat = np.where(horizontal, rng.choice(ROAD_LATS, n), rng.uniform(*LAT_RANGE, n)) + rng.normal(0, 5e-4, n)
    lon = np.where(horizontal, rng.uniform(*LON_RANGE, n), rng.choice(ROAD_LONS, n)) + rng.normal(0, 5e-4, n)
    event_time = hours[hour_idx] + pd.to_timedelta(rng.integers(0, 60, n), "min")
    accidents = pd.DataFrame({"accident_id": [f"s{i:06d}" for i in range(n)], "event_time": event_time,
                              "lat": lat, "lon": lon, "atm": pd.array(atm[hour_idx], dtype="Int64"),
                              "dep": "988", "year": event_time.year})
    weather = pd.DataFrame({"station_id": "all", "lat": -22.25, "lon": 166.47, "hour": hours, "atm": atm})
    return weather, accidents


def learned_rain_ratio_by_month(con) -> np.ndarray:
    """Fit LightGBM on silver.features (uniform sampler) and return, per month, the mean over road
    points x hours of p(light rain) / p(normal)."""
    from pipeline.core.features import CATEGORICAL, FEATURE_COLUMNS, AccidentHistory, compute_features
    from pipeline.gold.model_bundle import RiskModel, fit_category_codes
    from pipeline.core.features import point_hour_rows
    from pipeline.silver.tables import load_road_points

    rows = con.execute("SELECT * FROM silver.features WHERE sampler = 'uniform' ORDER BY row_id").df()
    template = RiskModel(algorithm="lightgbm", booster=None, feature_columns=list(FEATURE_COLUMNS),
                         categorical_codes=fit_category_codes(rows, [c for c in FEATURE_COLUMNS if c in CATEGORICAL]),
                         negative_weight=float(rows.loc[rows["target"] == 0, "sampling_weight"].mean()),
                         sampler="uniform")
    params = {"learning_rate": 0.08, "num_leaves": 15, "max_depth": 5, "min_child_samples": 40,
              "feature_fraction": 0.9, "bagging_fraction": 0.9, "lambda_l2": 1.0}
    booster, _ = template.spec.train(template, params, template.encode(rows), rows["target"].to_numpy(), rounds=150,
                                     seed=1, threads=1)
    model = RiskModel(**{**template.__dict__, "booster": booster})
    points = load_road_points(con)
    accidents = con.execute("SELECT accident_id, lat, lon, event_time FROM bronze.accidents").df()
    history = AccidentHistory.point_in_time(accidents, 3)
    hours = pd.date_range("2021-01-01", "2022-01-01", freq="3h", inclusive="left")  # every hour of day in each month
    ratios = []
    for month in range(1, 13):
        month_hours = hours[hours.month == month]
        probs = [model.predict_probability(compute_features(point_hour_rows(points, month_hours, code), history)
                                           [FEATURE_COLUMNS]).mean() for code in (1, 2)]
        ratios.append(probs[1] / probs[0])
    return np.array(ratios)


@pytest.fixture
def rainy_world(lake, tmp_path):
    from pipeline.bronze.roads import build_roads

    weather, accidents = synthetic_world()
    write_accidents(lake, accidents)
    build_roads(lake, roads_file=write_grid_osm(tmp_path / "grid.osm"), department="988")
    return lake, weather


def test_learned_rain_ratio_exceeds_one_in_every_month(rainy_world):
    from pipeline.silver.features import build_features
    from pipeline.silver.params import FeatureParams
    from pipeline.silver.weather import build_weather_hourly
    from pipeline.core.weather import complete_weather_frame

    con, weather = rainy_world

    class World:
        label = "synthetic"

        def hourly(self, years):
            return complete_weather_frame(weather, "synthetic")

    build_weather_hourly(con, World(), [2019, 2020, 2021])
    build_features(con, FeatureParams(samplers=("uniform",), neg_ratio=20, seed=3), department="988")
    ratios = learned_rain_ratio_by_month(con)
    assert (ratios > 1.0).all(), ratios.round(2)
