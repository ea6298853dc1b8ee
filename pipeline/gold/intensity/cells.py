"""The point x hour grid of a period, aggregated to cells of identical covariates.

A risk model here is an intensity: expected accidents lambda(road point, hour). Its covariates split in
two: what belongs to the road point (road length, class, geometry, commune...) and what belongs to
the hour at that point (calendar and the weather of the point's station). Hours whose covariates are
equal form one *time key*; a point's weather comes from its station series, so the grid of a period
collapses to
- `exposure[s, k]`: hours of time key k in station series s,
- `n_point[p]`: accidents at point p, and `n_group_key[g, k]`: accidents at points of group g in hours
  of key k,
which is all a Poisson model with a point part and a time part needs (its likelihood depends on the
grid only through these sums). Six years of 1,274 points are 67 M point-hours and ~6,000 time keys.

Weather: a scenario code (`int`) gives every hour that code; a WeatherHistory gives every point the
series of its nearest station; None (no weather history in the lake) is normal weather throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.core.calendar import is_public_holiday, is_school_holiday
from pipeline.core.errors import AccidentsError
from pipeline.core.weather import ATM_NORMAL, WeatherHistory

TIME_KEY = ("hour", "dow", "month", "holiday", "holiday_night", "school", "atm")
NIGHT_HOURS = (22, 23, 0, 1, 2, 3, 4, 5)


def year_hours(years) -> pd.DatetimeIndex:
    """Every local hour start of the given calendar years, in order."""
    years = sorted({int(y) for y in years})
    if not years:
        raise AccidentsError("no year given")
    return pd.DatetimeIndex(np.concatenate([
        pd.date_range(f"{y}-01-01", f"{y + 1}-01-01", freq="h", inclusive="left").to_numpy() for y in years]))


def hour_calendar(hours, department: str) -> pd.DataFrame:
    """Calendar covariates of each hour: hour, dow (Monday 0), month, public holiday, holiday night
    (the night hours of a public holiday and of its eve's evening) and school holiday, as small ints."""
    hours = pd.DatetimeIndex(hours)
    values = hours.to_numpy()
    hour = hours.hour.to_numpy()
    holiday = np.asarray(is_public_holiday(values, department), dtype=bool)
    eve = np.asarray(is_public_holiday(values + np.timedelta64(1, "D"), department), dtype=bool)
    night = np.isin(hour, NIGHT_HOURS)
    return pd.DataFrame({
        "hour": hour.astype(np.int8), "dow": hours.dayofweek.to_numpy().astype(np.int8),
        "month": hours.month.to_numpy().astype(np.int8), "holiday": holiday.astype(np.int8),
        "holiday_night": (night & ((holiday & (hour < 12)) | (eve & (hour >= 12)))).astype(np.int8),
        "school": np.asarray(is_school_holiday(values, department), dtype=bool).astype(np.int8),
    })


@dataclass(frozen=True)
class WeatherSeries:
    """The weather code of every point at every hour, stored once per distinct series."""

    series_of_point: np.ndarray  # (P,) index into atm
    atm: np.ndarray  # (S, H) BAAC codes

    @classmethod
    def of(cls, points: pd.DataFrame, hours, weather: int | WeatherHistory | None) -> WeatherSeries:
        n_points, n_hours = len(points), len(hours)
        if isinstance(weather, WeatherHistory):
            group, series = weather.series_groups(points["lat"].to_numpy(float), points["lon"].to_numpy(float),
                                                  np.asarray(hours, dtype="datetime64[ns]"))
            return cls(np.asarray(group, dtype=np.int64), np.asarray(series, dtype=np.int64))
        code = ATM_NORMAL if weather is None else int(weather)
        return cls(np.zeros(n_points, dtype=np.int64), np.full((1, n_hours), code, dtype=np.int64))

    def mapped(self, known_codes) -> tuple[WeatherSeries, int]:
        """The series with codes outside `known_codes` read as normal weather (ATM_NORMAL), and how
        many point-hours were remapped."""
        unknown = ~np.isin(self.atm, np.asarray(sorted(known_codes)))
        if not unknown.any():
            return self, 0
        points_per_series = np.bincount(self.series_of_point, minlength=len(self.atm))
        remapped = int(unknown.sum(axis=1) @ points_per_series)
        return WeatherSeries(self.series_of_point, np.where(unknown, ATM_NORMAL, self.atm)), remapped


@dataclass(frozen=True)
class TimeCells:
    """Distinct time keys of a period and how many hours of each every weather series holds."""

    keys: pd.DataFrame  # (K, TIME_KEY)
    key_of: np.ndarray  # (S, H) key index of each series-hour
    exposure: np.ndarray  # (S, K) hours

    @classmethod
    def of(cls, hours, weather: WeatherSeries, department: str) -> TimeCells:
        calendar = hour_calendar(hours, department)
        n_series, n_hours = weather.atm.shape
        if n_hours != len(calendar):
            raise AccidentsError(f"weather series cover {n_hours} hours, the period {len(calendar)}")
        stacked = pd.concat([calendar.assign(atm=weather.atm[s].astype(np.int8)) for s in range(n_series)],
                            ignore_index=True)
        key = stacked.groupby(list(TIME_KEY), sort=False).ngroup().to_numpy()
        keys = stacked.loc[~pd.Series(key).duplicated().to_numpy(), list(TIME_KEY)].reset_index(drop=True)
        key_of = key.reshape(n_series, n_hours)
        exposure = np.stack([np.bincount(row, minlength=len(keys)) for row in key_of]).astype(float)
        return cls(keys, key_of, exposure)


@dataclass(frozen=True)
class CountData:
    """Everything a Poisson fit of a period needs (module docstring)."""

    cells: TimeCells
    weather: WeatherSeries
    group_of_point: np.ndarray  # (P,)
    n_groups: int
    n_point: np.ndarray  # (P,)
    n_group_key: np.ndarray  # (G, K)
    years: tuple[int, ...]
    accident_point: np.ndarray  # (N,) point index of each accident
    accident_key: np.ndarray  # (N,) time key of each accident

    @property
    def accidents(self) -> int:
        return int(self.n_point.sum())


def count_data(points: pd.DataFrame, accidents: pd.DataFrame, years, weather, department: str,
               group_of_point: np.ndarray, n_groups: int) -> CountData:
    """Aggregate the accidents (point_id, event_time) of `years` on the grid of `points` x every hour
    of those years. Accidents outside the years or on unknown points are ignored."""
    hours = year_hours(years)
    series = WeatherSeries.of(points, hours, weather)
    cells = TimeCells.of(hours, series, department)
    point = pd.Index(points["point_id"]).get_indexer(accidents["point_id"])
    hour = hours.get_indexer(pd.DatetimeIndex(pd.to_datetime(accidents["event_time"])).floor("h"))
    keep = (point >= 0) & (hour >= 0)
    point, hour = point[keep], hour[keep]
    key = cells.key_of[series.series_of_point[point], hour]
    n_group_key = np.zeros((n_groups, len(cells.keys)))
    np.add.at(n_group_key, (group_of_point[point], key), 1.0)
    return CountData(cells, series, np.asarray(group_of_point), n_groups,
                     np.bincount(point, minlength=len(points)).astype(float), n_group_key,
                     tuple(sorted({int(y) for y in years})), point, key)


def observed_counts(points: pd.DataFrame, accidents: pd.DataFrame, hours) -> np.ndarray:
    """(n_points, n_hours) float32 accident counts on the grid; accidents outside it are ignored."""
    hours = pd.DatetimeIndex(hours)
    counts = np.zeros((len(points), len(hours)), dtype=np.float32)
    point = pd.Index(points["point_id"]).get_indexer(accidents["point_id"])
    hour = hours.get_indexer(pd.DatetimeIndex(pd.to_datetime(accidents["event_time"])).floor("h"))
    keep = (point >= 0) & (hour >= 0)
    np.add.at(counts, (point[keep], hour[keep]), 1.0)
    return counts
