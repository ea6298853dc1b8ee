"""A real LightGBM RiskModel trained on synthetic rows built with the real feature code.

Used by the integration test and by bench/bench_predictions.py when no registered model exists.
Targets follow a known pattern (evening and fast roads riskier); `negative_weight` is set so that the
prior-corrected probabilities sum to `daily_accidents` per day over the given points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core import features
from pipeline.gold.model_bundle import RiskModel, fit_category_codes

ROAD_TYPES = ["motorway", "trunk", "primary", "secondary", "tertiary", "residential"]
SPEEDS = {"motorway": 110.0, "trunk": 90.0, "primary": 90.0, "secondary": 70.0, "tertiary": 50.0,
          "residential": 50.0}


def synthetic_points(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    road = rng.choice(ROAD_TYPES, n)
    lat = rng.uniform(-22.6, -20.2, n)
    lon = rng.uniform(164.0, 167.2, n)
    return pd.DataFrame({
        "point_id": np.arange(n, dtype=np.int64) + 10_000,
        "lat": lat, "lon": lon, "road_type": road,
        "speed_limit": np.array([SPEEDS[r] for r in road]),
        "dist_to_road_m": rng.uniform(0, 60, n),
        "dist_to_main_city_km": np.hypot(lat + 22.27, lon - 166.45) * 111.0, "dep": "988",
        "com": rng.choice(["98818", "98817", "98805", "98821"], n),
    })


def synthetic_accidents(points: pd.DataFrame, n: int = 400, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(points), n)
    times = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 5 * 365 * 24, n), unit="h")
    return pd.DataFrame({
        "accident_id": [f"A{i}" for i in range(n)],
        "event_time": times,
        "lat": points["lat"].to_numpy()[pick] + rng.normal(0, 0.002, n),
        "lon": points["lon"].to_numpy()[pick] + rng.normal(0, 0.002, n),
        "dep": "988",
    })


def train_synthetic_model(points: pd.DataFrame, accidents: pd.DataFrame, *, cutoff: str = "2024-01-01",
                          n_rows: int = 20_000, daily_accidents: float = 0.8, seed: int = 3) -> RiskModel:
    import lightgbm as lgb

    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(points), n_rows)
    rows = points.iloc[pick].reset_index(drop=True)[
        ["point_id", "lat", "lon", "road_type", "speed_limit", "dist_to_main_city_km", "dep"]]
    rows["event_time"] = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 2 * 365 * 24, n_rows), unit="h")
    rows["atm"] = rng.choice([1, 1, 1, 2, 3, 5], n_rows)
    history = features.AccidentHistory.point_in_time(accidents, 3, cap=pd.Timestamp(cutoff))
    feats = features.compute_features(rows, history)
    logit = (-2.5 + 1.2 * feats["is_rush_evening"] + 0.02 * (feats["speed_limit"] - 70)
             + 0.6 * (feats["atm"] >= 2) + 0.1 * feats["accident_density_5km"].clip(0, 5))
    target = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    codes = fit_category_codes(feats, features.CATEGORICAL)
    model = RiskModel(algorithm="lightgbm", booster=None, feature_columns=list(features.FEATURE_COLUMNS),
                      categorical_codes=codes, negative_weight=1.0, sampler="uniform", history_cutoff=cutoff)
    matrix = model.native_input(model.encode(feats))
    cat_idx = [i for i, c in enumerate(model.feature_columns) if c in codes]
    data = lgb.Dataset(matrix, label=target, categorical_feature=cat_idx, free_raw_data=False)
    params = {"objective": "binary", "learning_rate": 0.1, "num_leaves": 15, "verbose": -1,
              "num_threads": 2, "seed": seed}
    model.booster = lgb.train(params, data, num_boost_round=40)
    # Calibrate the case-control scale: mean odds / w = target rate per point-hour.
    score = np.clip(model.predict_score(feats), 1e-9, 1 - 1e-9)
    target_rate = daily_accidents / (24 * len(points))
    model.negative_weight = float(np.mean(score / (1 - score)) / target_rate)
    return model
