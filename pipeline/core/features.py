"""Risk features: one definition shared by training rows, evaluation scoring and daily predictions.

Contract (the silver stage implements the computations; gold and predictions only call them):
- `FEATURE_COLUMNS`: model input columns, in order. `CATEGORICAL` lists the categorical ones.
- `AccidentHistory.point_in_time(accidents, lookback_years=3, cap=None, data_start, data_end,
  lag_years=0)`: the product's history. A row at time t sees the accidents of [asof - lookback_years,
  asof), asof = min(1 January of (t's year - lag_years), cap, data_end): a day after the data sees the
  newest years the lake holds, and `lag_years` (the publication lag serving faces, see
  `publication_lag_years`) makes training rows see history as old as tomorrow's prediction will; `accident_density_5km` is accidents within 5 km per covered year
  of that window (NaN when no year of it lies in the data period [data_start, data_end)).
- `AccidentHistory.reference(accidents)`: the predecessor's protocol, every accident of the period
  except the row's own (leave-one-out by accident_id); density is a plain count.
- `POINT_ATTRIBUTES`: the road-point columns every feature row carries (from silver.road_points; the
  two geometry columns may be absent for road points built before them: NaN);
  `point_hour_rows(points, hours, atm)` is the one builder of scoring rows (evaluation, predictions).
- `compute_features(rows, history)`: rows is a DataFrame with the POINT_ATTRIBUTES plus event_time
  (local, hourly), atm, and optionally accident_id (a positive's own accident, used by the reference
  history only). Calendar flags follow each row's département (`dep`) profile.
  Returns `rows` plus every column of FEATURE_COLUMNS, computed vectorised (no Python row loops).

Why point-in-time: with one fixed history minus the own accident, positives see one accident fewer
than negatives at the same place, and a model learns that difference instead of risk. Windows ending
at the year start give positives and negatives of a place and year identical history by construction.
History is computed once per (window, unique road point) and broadcast to the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.core.calendar import is_public_holiday, is_school_holiday
from pipeline.core.errors import AccidentsError
from pipeline.core.spatial import count_within_km, haversine_km, haversine_tree, nearest_km
from pipeline.core.weather import atm_matrix

BASE = ["latitude", "longitude", "hour", "dayofweek", "month", "atm"]
INTERACTIONS = [
    "lat_hour", "lon_hour", "lat_dayofweek", "lon_dayofweek", "lat_month", "lon_month",
    "hour_dayofweek", "hour_month", "dayofweek_month", "lat_lon", "hour_dayofweek_month", "lat_lon_hour",
]
CYCLIC = ["hour_sin", "hour_cos", "dayofweek_sin", "dayofweek_cos"]
ROADS = ["road_type", "speed_limit", "intersections_100m", "road_sinuosity"]
HISTORY = ["accident_density_5km", "nearest_accident_km"]
CALENDAR = ["is_weekend", "is_rush_morning", "is_rush_evening", "is_night", "is_holiday", "school_holidays"]
GEOGRAPHY = ["dist_to_main_city_km"]
# Rain as an ordered number (0 none, 1 light, 2 heavy): one split pools the evidence of both rain codes,
# which the categorical `atm` spreads over rare categories (heavy rain is ~2 % of hours).
WEATHER = ["rain_level"]
RAIN_LEVEL = {2: 1, 3: 2}

FEATURE_COLUMNS = BASE + INTERACTIONS + CYCLIC + ROADS + HISTORY + CALENDAR + GEOGRAPHY + WEATHER
# silver.road_points columns every feature row carries (compute_features input besides event_time, atm)
# `dep` selects the calendar (public and school holidays) of the row's département.
POINT_ATTRIBUTES = ["point_id", "lat", "lon", "road_type", "speed_limit", "intersections_100m", "road_sinuosity",
                    "dist_to_main_city_km", "dep"]
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
DEFAULT_LOOKBACK_YEARS = 3
MODES = ("point_in_time", "reference")


def publication_lag_years(newest_data_year: int, serving_day) -> int:
    """Years between the newest year the lake holds and the year before `serving_day`: 0 when the
    previous year is published, 1 when a day of 2026 only has data up to 2024 (BAAC files of year N
    appear in the autumn of N+1)."""
    return max(0, int(serving_day.year) - int(newest_data_year) - 1)


def year_fraction(times) -> np.ndarray:
    """Timestamps as fractional calendar years (2023-01-01 -> 2023.0, 2023-07-02 12:00 -> 2023.5)."""
    t = np.asarray(times, dtype="datetime64[ns]")
    year = t.astype("datetime64[Y]")
    start, end = year.astype("datetime64[ns]"), (year + 1).astype("datetime64[ns]")
    return year.astype(np.int64) + 1970 + (t - start) / (end - start)


@dataclass(frozen=True, eq=False)
class AccidentHistory:
    """Accidents in a haversine index, and the rule deciding which of them a row may see.

    - point_in_time: a row at time t sees accidents in [asof - lookback_years, asof), asof = min(start
      of t's calendar year, cap); density is per covered year of that window (coverage = overlap with
      the data period [data_start, data_end)). The row's own accident is never before its asof.
    - reference (the predecessor's protocol): every accident of the period except the row's own.
    """

    accident_ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    event_time: np.ndarray  # datetime64[ns]
    mode: str
    lookback_years: int | None = None
    cap: np.datetime64 | None = None
    data_start: np.datetime64 | None = None
    data_end: np.datetime64 | None = None
    lag_years: int = 0
    _trees: dict = field(default_factory=dict, repr=False)  # asof (or 'all') -> HaversineIndex | None

    @classmethod
    def _located(cls, accidents: pd.DataFrame, mode: str, **window) -> AccidentHistory:
        located = accidents.dropna(subset=["lat", "lon", "event_time"])
        return cls(located["accident_id"].astype(str).to_numpy(), located["lat"].to_numpy(dtype=float),
                   located["lon"].to_numpy(dtype=float),
                   pd.to_datetime(located["event_time"]).to_numpy(dtype="datetime64[ns]"), mode, **window)

    @classmethod
    def reference(cls, accidents: pd.DataFrame) -> AccidentHistory:
        """Leave-one-out over every accident (accidents: accident_id, lat, lon, event_time)."""
        return cls._located(accidents, "reference")

    @classmethod
    def point_in_time(cls, accidents: pd.DataFrame, lookback_years: int = DEFAULT_LOOKBACK_YEARS, cap=None,
                      data_start=None, data_end=None, lag_years: int = 0) -> AccidentHistory:
        """Per-row windows (see the class docstring). data_start/data_end: the data period [start, end),
        whole calendar years of bronze.accidents; derived from `accidents` when not given."""
        if not (isinstance(lookback_years, int) and lookback_years >= 1):
            raise AccidentsError(f"history_lookback_years={lookback_years!r}: expected an integer >= 1")
        if not (isinstance(lag_years, int | np.integer) and lag_years >= 0):
            raise AccidentsError(f"history_lag_years={lag_years!r}: expected an integer >= 0")
        times = pd.to_datetime(accidents["event_time"]).dropna().to_numpy(dtype="datetime64[ns]")
        if data_start is None or data_end is None:
            if not len(times):
                raise AccidentsError("point-in-time history needs the data period: no accident has a date")
            years = times.astype("datetime64[Y]")
            data_start = years.min() if data_start is None else data_start
            data_end = years.max() + 1 if data_end is None else data_end

        def as_ns(value):
            return None if value is None else np.datetime64(pd.Timestamp(value).to_datetime64(), "ns")

        return cls._located(accidents, "point_in_time", lookback_years=lookback_years, cap=as_ns(cap),
                            data_start=as_ns(data_start), data_end=as_ns(data_end), lag_years=int(lag_years))

    def __len__(self) -> int:
        return len(self.accident_ids)

    # --- point-in-time windows --------------------------------------------------------------
    def asof(self, event_time) -> np.ndarray:
        """Each row's history end: start of its calendar year minus `lag_years`, capped at `cap` and at
        the data end (the newest year in the lake)."""
        t = np.asarray(event_time, dtype="datetime64[ns]")
        asof = (t.astype("datetime64[Y]") - np.timedelta64(self.lag_years, "Y")).astype("datetime64[ns]")
        for limit in (self.cap, self.data_end):
            if limit is not None:
                asof = np.minimum(asof, limit)
        return asof

    def window_start(self, asof: np.datetime64) -> np.datetime64:
        start = pd.Timestamp(asof) - pd.DateOffset(years=self.lookback_years)
        return np.datetime64(start.to_datetime64(), "ns")

    def covered_years(self, asof) -> np.ndarray:
        """Years of each window [asof - lookback, asof) that lie inside the data period."""
        asof = np.atleast_1d(np.asarray(asof, dtype="datetime64[ns]"))
        unique, inverse = np.unique(asof, return_inverse=True)
        starts = np.array([self.window_start(a) for a in unique], dtype="datetime64[ns]")
        end = np.minimum(year_fraction(unique), year_fraction([self.data_end])[0])
        begin = np.maximum(year_fraction(starts), year_fraction([self.data_start])[0])
        return np.maximum(end - begin, 0.0)[inverse.ravel()]

    def _window_tree(self, asof: np.datetime64):
        """Spatial index over the accidents of [asof - lookback, asof) (None when empty), cached per window."""
        key = np.datetime64(asof, "ns")
        if key not in self._trees:
            inside = (self.event_time >= self.window_start(key)) & (self.event_time < key)
            self._trees[key] = haversine_tree(self.lat[inside], self.lon[inside]) if inside.any() else None
        return self._trees[key]

    # --- reference (leave-one-out) ----------------------------------------------------------
    @property
    def tree(self):
        """Spatial index over every accident (reference mode)."""
        if "all" not in self._trees:
            self._trees["all"] = haversine_tree(self.lat, self.lon) if len(self) else None
        return self._trees["all"]

    def _own_index(self, exclude_ids) -> np.ndarray:
        """Index in the history of each row's own accident, -1 when absent (negatives)."""
        ids = pd.Series(exclude_ids, dtype="string").to_numpy(dtype=object, na_value=None)
        return pd.Index(self.accident_ids, dtype=object).get_indexer(ids).astype(np.int64)

    def density_5km(self, lat, lon, exclude_ids=None, radius_km: float = DENSITY_RADIUS_KM) -> np.ndarray:
        """Reference mode: accidents within `radius_km` of each point, not counting the row's own."""
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
        """Reference mode: distance to the nearest accident other than the row's own (NO_ACCIDENT_KM if none)."""
        lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        dist, idx = _k_nearest(self.tree, lat, lon, 2)
        own = self._own_index(exclude_ids) if exclude_ids is not None else np.full(len(lat), -1)
        return _skip_own(dist, idx, own)


def _k_nearest(tree, lat: np.ndarray, lon: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) distances/indices of the k nearest; missing neighbours are (inf, -1)."""
    dist = np.full((len(lat), k), np.inf)
    idx = np.full((len(lat), k), -1, dtype=np.int64)
    if tree is not None and len(lat):
        d, i = nearest_km(tree, lat, lon, k=k)
        dist[:, : d.shape[1]], idx[:, : i.shape[1]] = d, i
    return dist, idx


def _skip_own(dist: np.ndarray, idx: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Nearest distance, taking the second neighbour where the first is the row's own accident."""
    first_is_own = (idx[:, 0] == own) & (own >= 0)
    nearest = np.where(first_is_own, dist[:, 1], dist[:, 0])
    return np.where(np.isfinite(nearest), nearest, NO_ACCIDENT_KM)


def _unique_points(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lat, lon) of each distinct point_id and each row's index into them."""
    points = rows[["point_id", "lat", "lon"]].drop_duplicates("point_id")
    row_to_point = pd.Index(points["point_id"]).get_indexer(rows["point_id"])
    return points["lat"].to_numpy(float), points["lon"].to_numpy(float), row_to_point


def _reference_features(rows: pd.DataFrame, history: AccidentHistory) -> tuple[np.ndarray, np.ndarray]:
    """Counts over every accident, corrected for the row's own accident (leave-one-out)."""
    p_lat, p_lon, row_to_point = _unique_points(rows)
    tree = history.tree
    counts = count_within_km(tree, p_lat, p_lon, DENSITY_RADIUS_KM) if tree is not None \
        else np.zeros(len(p_lat), dtype=np.int64)
    density = counts[row_to_point].astype(float)
    dist, idx = _k_nearest(tree, p_lat, p_lon, 2)
    dist, idx = dist[row_to_point], idx[row_to_point]
    own = np.full(len(rows), -1, dtype=np.int64)
    if "accident_id" in rows.columns and len(history):
        own = history._own_index(rows["accident_id"])
        has_own = np.flatnonzero(own >= 0)
        lat, lon = rows["lat"].to_numpy(float), rows["lon"].to_numpy(float)
        own_dist = haversine_km(lat[has_own], lon[has_own], history.lat[own[has_own]], history.lon[own[has_own]])
        density[has_own[own_dist <= DENSITY_RADIUS_KM]] -= 1
    return density, _skip_own(dist, idx, own)


def _point_in_time_features(rows: pd.DataFrame, history: AccidentHistory) -> tuple[np.ndarray, np.ndarray]:
    """Per asof group (a handful of distinct values): one window tree, one query per unique point."""
    p_lat, p_lon, row_to_point = _unique_points(rows)
    asof = history.asof(rows["event_time"].to_numpy(dtype="datetime64[ns]"))
    group, asofs = pd.factorize(asof)
    asofs = np.asarray(asofs, dtype="datetime64[ns]")
    covered = history.covered_years(asofs) if len(asofs) else np.zeros(0)
    density = np.full(len(rows), np.nan)
    nearest = np.full(len(rows), NO_ACCIDENT_KM)
    per_point = np.empty(len(p_lat))
    for g, value in enumerate(asofs):
        in_group = np.flatnonzero(group == g)
        if covered[g] <= 0:
            continue  # no data before this asof: density undefined (NaN), callers drop or refuse
        tree = history._window_tree(value)
        points = np.unique(row_to_point[in_group])
        if tree is None:
            density[in_group] = 0.0
            continue
        per_point[points] = count_within_km(tree, p_lat[points], p_lon[points], DENSITY_RADIUS_KM) / covered[g]
        density[in_group] = per_point[row_to_point[in_group]]
        dist, _ = _k_nearest(tree, p_lat[points], p_lon[points], 1)
        per_point[points] = dist[:, 0]
        nearest[in_group] = per_point[row_to_point[in_group]]
    return density, nearest


def history_features(rows: pd.DataFrame, history: AccidentHistory) -> tuple[np.ndarray, np.ndarray]:
    """(accident_density_5km, nearest_accident_km) per row, computed once per unique point (and window).

    Point-in-time density is accidents per covered year (NaN where the window has no coverage);
    reference density is the leave-one-out count over every accident.
    """
    if history.mode == "reference":
        return _reference_features(rows, history)
    return _point_in_time_features(rows, history)


def point_hour_rows(points: pd.DataFrame, hours, atm, *, point_major: bool = False) -> pd.DataFrame:
    """Every road point x every hour, hour-major (all points of the first hour, then the next...) or,
    with `point_major`, all hours of the first point, then the next; ready for `compute_features`.
    `atm`: one scenario code, one per hour, or a WeatherHistory (each point-hour gets its own hour's
    code at its nearest station)."""
    hours = pd.DatetimeIndex(hours)
    n_hours, n_points = len(hours), len(points)
    per_point, per_hour = (np.repeat, np.tile) if point_major else (np.tile, np.repeat)
    rows = pd.DataFrame({c: per_point(points[c].to_numpy(), n_hours) for c in POINT_ATTRIBUTES if c in points})
    rows["event_time"] = per_hour(hours.to_numpy(), n_points)
    codes = atm_matrix(atm, points["lat"].to_numpy(), points["lon"].to_numpy(), hours)  # (hours, points)
    rows["atm"] = (codes.T if point_major else codes).ravel()
    return rows


def _calendar_flags(times: pd.Series, deps: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(public holiday, school holiday) per row, with each row's département calendar."""
    values = times.to_numpy()
    codes = deps.astype(str).to_numpy()
    unique = np.unique(codes)
    if len(unique) == 1:
        return is_public_holiday(values, unique[0]), is_school_holiday(values, unique[0])
    public, school = np.zeros(len(values), dtype=bool), np.zeros(len(values), dtype=bool)
    for code in unique:
        mask = codes == code
        public[mask], school[mask] = is_public_holiday(values[mask], code), is_school_holiday(values[mask], code)
    return public, school


def _optional(rows: pd.DataFrame, column: str) -> np.ndarray:
    return rows[column].to_numpy(dtype=float) if column in rows else np.full(len(rows), np.nan)


def place_time_terms(lat, lon, hour, dow, month) -> dict:
    """Position, calendar slot, their interaction products and cyclic encodings (arrays or Series)."""
    return {
        "latitude": lat, "longitude": lon, "hour": hour, "dayofweek": dow, "month": month,
        "lat_hour": lat * hour, "lon_hour": lon * hour, "lat_dayofweek": lat * dow, "lon_dayofweek": lon * dow,
        "lat_month": lat * month, "lon_month": lon * month, "hour_dayofweek": hour * dow,
        "hour_month": hour * month, "dayofweek_month": dow * month, "lat_lon": lat * lon,
        "hour_dayofweek_month": hour * dow * month, "lat_lon_hour": lat * lon * hour,
        "hour_sin": np.sin(2 * np.pi * hour / 24), "hour_cos": np.cos(2 * np.pi * hour / 24),
        "dayofweek_sin": np.sin(2 * np.pi * dow / 7), "dayofweek_cos": np.cos(2 * np.pi * dow / 7),
    }


def compute_features(rows: pd.DataFrame, history: AccidentHistory) -> pd.DataFrame:
    """`rows` plus every FEATURE_COLUMNS column (see the module docstring for the input columns)."""
    if "dep" not in rows.columns:
        raise AccidentsError("feature rows lack the 'dep' (département) column: rebuild silver.road_points "
                             "with `accidents features`")
    out = rows.copy()
    times = pd.to_datetime(out["event_time"])
    is_holiday, is_school = _calendar_flags(times, out["dep"])
    lat, lon = out["lat"].astype(float), out["lon"].astype(float)
    hour, dow, month = times.dt.hour.astype(int), times.dt.dayofweek.astype(int), times.dt.month.astype(int)
    new = {
        "atm": out["atm"].astype(int),
        "rain_level": out["atm"].astype(int).map(RAIN_LEVEL).fillna(0).astype(int),
        **place_time_terms(lat, lon, hour, dow, month),
        "road_type": out["road_type"].astype("string").fillna("unknown"),
        "speed_limit": out["speed_limit"].astype(float),
        "intersections_100m": _optional(out, "intersections_100m"),
        "road_sinuosity": _optional(out, "road_sinuosity"),
        "is_weekend": (dow >= 5).astype(int), "is_rush_morning": hour.between(7, 9).astype(int),
        "is_rush_evening": hour.between(17, 19).astype(int), "is_night": ((hour >= 22) | (hour < 6)).astype(int),
        "is_holiday": is_holiday.astype(int), "school_holidays": is_school.astype(int),
        "dist_to_main_city_km": out["dist_to_main_city_km"].astype(float),
    }
    density, nearest = history_features(out, history)
    new["accident_density_5km"] = density
    new["nearest_accident_km"] = nearest
    for name in FEATURE_COLUMNS:
        out[name] = new[name]
    return out
