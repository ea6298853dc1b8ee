"""Risk features: one definition shared by training rows, evaluation scoring and daily predictions.

Contract (the silver stage implements the computations; gold and predictions only call them):
- `FEATURE_COLUMNS`: model input columns, in order. `CATEGORICAL` lists the categorical ones.
- `AccidentHistory.from_accidents(accidents, cutoff)`: a spatial index over accidents strictly
  before `cutoff` (accidents: DataFrame with accident_id, lat, lon, event_time).
- `compute_features(rows, history)`: rows is a DataFrame with columns
  point_id, lat, lon, road_type, speed_limit, dist_to_noumea_km, event_time (local, hourly), atm,
  and optionally accident_id (a positive's own accident, excluded from its history features).
  Returns `rows` plus every column of FEATURE_COLUMNS, computed vectorised (no Python row loops).

History features are computed once per unique road point and broadcast to its rows; a positive row
then only corrects for its own accident (which is never counted in its own history).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.neighbors import BallTree

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


DENSITY_RADIUS_KM = 5.0
NO_ACCIDENT_KM = 100.0  # nearest_accident_km when the history holds no other accident


@dataclass(frozen=True)
class AccidentHistory:
    """Past accidents (strictly before `cutoff`; all of them when cutoff is None) in a haversine index."""

    accident_ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    cutoff: object  # pandas Timestamp or None
    tree: BallTree | None

    @classmethod
    def from_accidents(cls, accidents: pd.DataFrame, cutoff=None) -> AccidentHistory:
        import pandas as pd

        from pipeline.spatial import haversine_tree

        past = accidents.dropna(subset=["lat", "lon"])
        if cutoff is not None:
            cutoff = pd.Timestamp(cutoff)
            past = past[pd.to_datetime(past["event_time"]) < cutoff]
        lat = past["lat"].to_numpy(dtype=float)
        lon = past["lon"].to_numpy(dtype=float)
        tree = haversine_tree(lat, lon) if len(past) else None
        return cls(past["accident_id"].astype(str).to_numpy(), lat, lon, cutoff, tree)

    def __len__(self) -> int:
        return len(self.accident_ids)

    def _own_index(self, exclude_ids) -> np.ndarray:
        """Index in the history of each row's own accident, -1 when absent (negatives, later accidents)."""
        import pandas as pd

        ids = pd.Series(exclude_ids, dtype="string").to_numpy(dtype=object, na_value=None)
        return pd.Index(self.accident_ids, dtype=object).get_indexer(ids).astype(np.int64)

    def density_5km(self, lat, lon, exclude_ids=None, radius_km: float = DENSITY_RADIUS_KM) -> np.ndarray:
        """Past accidents within `radius_km` of each point, not counting the row's own accident."""
        from pipeline.spatial import count_within_km, haversine_km

        lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        if self.tree is None:
            return np.zeros(len(lat), dtype=np.int64)
        counts = count_within_km(self.tree, lat, lon, radius_km)
        if exclude_ids is not None:
            own = self._own_index(exclude_ids)
            has_own = own >= 0
            own_dist = haversine_km(lat[has_own], lon[has_own], self.lat[own[has_own]], self.lon[own[has_own]])
            counts[np.flatnonzero(has_own)[own_dist <= radius_km]] -= 1
        return counts

    def nearest_km(self, lat, lon, exclude_ids=None) -> np.ndarray:
        """Distance to the nearest past accident other than the row's own (NO_ACCIDENT_KM if none)."""
        lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        dist, idx = self._two_nearest(lat, lon)
        own = self._own_index(exclude_ids) if exclude_ids is not None else np.full(len(lat), -1)
        return _skip_own(dist, idx, own)

    def _two_nearest(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 2) distances/indices of the two nearest; missing neighbours are (inf, -1)."""
        from pipeline.spatial import nearest_km

        dist = np.full((len(lat), 2), np.inf)
        idx = np.full((len(lat), 2), -1, dtype=np.int64)
        if self.tree is not None and len(lat):
            d, i = nearest_km(self.tree, lat, lon, k=2)
            dist[:, : d.shape[1]], idx[:, : i.shape[1]] = d, i
        return dist, idx


def _skip_own(dist: np.ndarray, idx: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Nearest distance, taking the second neighbour where the first is the row's own accident."""
    first_is_own = (idx[:, 0] == own) & (own >= 0)
    nearest = np.where(first_is_own, dist[:, 1], dist[:, 0])
    return np.where(np.isfinite(nearest), nearest, NO_ACCIDENT_KM)


def history_features(rows: pd.DataFrame, history: AccidentHistory) -> tuple[np.ndarray, np.ndarray]:
    """(accident_density_5km, nearest_accident_km) per row, computed once per unique point_id."""
    import pandas as pd

    from pipeline.spatial import haversine_km

    points = rows[["point_id", "lat", "lon"]].drop_duplicates("point_id")
    row_to_point = pd.Index(points["point_id"]).get_indexer(rows["point_id"])
    p_lat, p_lon = points["lat"].to_numpy(float), points["lon"].to_numpy(float)
    density = history.density_5km(p_lat, p_lon)[row_to_point]
    dist, idx = history._two_nearest(p_lat, p_lon)
    dist, idx = dist[row_to_point], idx[row_to_point]

    own = np.full(len(rows), -1, dtype=np.int64)
    if "accident_id" in rows.columns and len(history):
        own = history._own_index(rows["accident_id"])
        has_own = np.flatnonzero(own >= 0)
        lat, lon = rows["lat"].to_numpy(float), rows["lon"].to_numpy(float)
        own_dist = haversine_km(lat[has_own], lon[has_own], history.lat[own[has_own]], history.lon[own[has_own]])
        density = density.copy()
        density[has_own[own_dist <= DENSITY_RADIUS_KM]] -= 1
    return density, _skip_own(dist, idx, own)


def compute_features(rows: pd.DataFrame, history: AccidentHistory) -> pd.DataFrame:
    """`rows` plus every FEATURE_COLUMNS column (see the module docstring for the input columns)."""
    import pandas as pd

    from pipeline.nc_calendar import is_public_holiday, is_school_holiday

    out = rows.copy()
    times = pd.to_datetime(out["event_time"])
    lat, lon = out["lat"].astype(float), out["lon"].astype(float)
    hour, dow, month = times.dt.hour.astype(int), times.dt.dayofweek.astype(int), times.dt.month.astype(int)
    new = {
        "latitude": lat, "longitude": lon, "hour": hour, "dayofweek": dow, "month": month,
        "atm": out["atm"].astype(int),
        "lat_hour": lat * hour, "lon_hour": lon * hour, "lat_dayofweek": lat * dow, "lon_dayofweek": lon * dow,
        "lat_month": lat * month, "lon_month": lon * month, "hour_dayofweek": hour * dow,
        "hour_month": hour * month, "dayofweek_month": dow * month, "lat_lon": lat * lon,
        "hour_dayofweek_month": hour * dow * month, "lat_lon_hour": lat * lon * hour,
        "hour_sin": np.sin(2 * np.pi * hour / 24), "hour_cos": np.cos(2 * np.pi * hour / 24),
        "dayofweek_sin": np.sin(2 * np.pi * dow / 7), "dayofweek_cos": np.cos(2 * np.pi * dow / 7),
        "road_type": out["road_type"].astype("string").fillna("unknown"),
        "speed_limit": out["speed_limit"].astype(float),
        "is_weekend": (dow >= 5).astype(int), "is_rush_morning": hour.between(7, 9).astype(int),
        "is_rush_evening": hour.between(17, 19).astype(int), "is_night": ((hour >= 22) | (hour < 6)).astype(int),
        "is_holiday": is_public_holiday(times).astype(int), "school_holidays": is_school_holiday(times).astype(int),
        "dist_to_noumea_km": out["dist_to_noumea_km"].astype(float),
    }
    density, nearest = history_features(out, history)
    new["accident_density_5km"] = density.astype(np.int64)
    new["nearest_accident_km"] = nearest
    for name in FEATURE_COLUMNS:
        out[name] = new[name]
    return out
