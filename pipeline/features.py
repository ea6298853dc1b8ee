"""Risk features: one definition shared by training rows, evaluation scoring and daily predictions.

Contract (the silver stage implements the computations; gold and predictions only call them):
- `FEATURE_COLUMNS`: model input columns, in order. `CATEGORICAL` lists the categorical ones.
- `AccidentHistory.from_accidents(accidents, cutoff)`: a spatial index over accidents strictly
  before `cutoff` (accidents: DataFrame with accident_id, lat, lon, event_time).
- `compute_features(rows, history)`: rows is a DataFrame with columns
  point_id, lat, lon, road_type, speed_limit, dist_to_noumea_km, event_time (local, hourly), atm,
  and optionally accident_id (a positive's own accident, excluded from its history features).
  Returns `rows` plus every column of FEATURE_COLUMNS, computed vectorised (no Python row loops).
"""

from __future__ import annotations

BASE = ["latitude", "longitude", "hour", "dayofweek", "month", "atm"]
INTERACTIONS = [
    "lat_hour", "lon_hour", "lat_dayofweek", "lon_dayofweek", "lat_month", "lon_month",
    "hour_dayofweek", "hour_month", "dayofweek_month", "lat_lon", "hour_dayofweek_month", "lat_lon_hour",
]
CYCLIC = ["hour_sin", "hour_cos", "dayofweek_sin", "dayofweek_cos"]
ROADS = ["road_type", "speed_limit"]
HISTORY = ["accident_density_5km", "nearest_accident_km"]
CALENDAR = ["is_weekend", "is_rush_morning", "is_rush_evening", "is_night", "is_holiday", "school_holidays"]
GEOGRAPHY = ["dist_to_noumea_km"]

FEATURE_COLUMNS = BASE + INTERACTIONS + CYCLIC + ROADS + HISTORY + CALENDAR + GEOGRAPHY
CATEGORICAL = ["atm", "road_type"]


def feature_kind(name: str) -> str:
    """'categorical', 'interaction' or 'numeric' (for gold.feature_metadata)."""
    if name in CATEGORICAL:
        return "categorical"
    if name in INTERACTIONS:
        return "interaction"
    return "numeric"
