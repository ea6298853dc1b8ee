"""Hourly weather history: the BAAC `atm` code derived from station observations, and the lookup
that gives any (place, hour) the weather of that hour at its nearest station.

Mapping from observations to BAAC `atm` (first rule that matches wins; thresholds follow the usual
meteorological classes of hourly rain: light < 4 mm/h, heavy >= 4 mm/h, fog = visibility < 1 km):

    snowfall > 0 cm                      -> 4 neige / grêle
    precipitation >= 4.0 mm/h            -> 3 pluie forte
    precipitation >= 0.1 mm/h            -> 2 pluie légère
    visibility < 1000 m                  -> 5 brouillard / fumée
    wind gusts >= 75 km/h                -> 6 vent fort / tempête
    cloud cover >= 88 % (7/8 octas)      -> 8 temps couvert
    otherwise                            -> 1 normale

A missing observation never triggers its rule (NaN compares false); a source that reports `atm`
directly (the demo, a user's CSV with an atm column) keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import DEP, table_exists
from pipeline.core.spatial import haversine_tree, nearest_km

if TYPE_CHECKING:
    import duckdb

ATM_NORMAL, ATM_LIGHT_RAIN, ATM_HEAVY_RAIN, ATM_SNOW, ATM_FOG, ATM_WIND, ATM_OVERCAST = 1, 2, 3, 4, 5, 6, 8
HEAVY_RAIN_MM = 4.0
LIGHT_RAIN_MM = 0.1
FOG_VISIBILITY_M = 1000.0
STORM_GUST_KMH = 75.0
OVERCAST_CLOUD_PCT = 88.0

# silver.weather_hourly: one row per station and local hour start.
WEATHER_COLUMNS = {
    "station_id": "VARCHAR", "station_name": "VARCHAR", "lat": "DOUBLE", "lon": "DOUBLE",
    "hour": "TIMESTAMP", "precipitation_mm": "DOUBLE", "visibility_m": "DOUBLE", "snowfall_cm": "DOUBLE",
    "wind_gust_kmh": "DOUBLE", "cloud_cover_pct": "DOUBLE", "atm": "INTEGER", "source": "VARCHAR",
}
OBSERVATIONS = ("precipitation_mm", "visibility_m", "snowfall_cm", "wind_gust_kmh", "cloud_cover_pct")


def atm_from_observations(obs: pd.DataFrame) -> np.ndarray:
    """BAAC atm per row of `obs` (columns of OBSERVATIONS, any may be missing or NaN); see the module
    docstring for the rules."""
    n = len(obs)

    def column(name: str) -> np.ndarray:
        return obs[name].to_numpy(dtype=float) if name in obs else np.full(n, np.nan)

    precip = column("precipitation_mm")
    rules = [
        (column("snowfall_cm") > 0, ATM_SNOW),
        (precip >= HEAVY_RAIN_MM, ATM_HEAVY_RAIN),
        (precip >= LIGHT_RAIN_MM, ATM_LIGHT_RAIN),
        (column("visibility_m") < FOG_VISIBILITY_M, ATM_FOG),
        (column("wind_gust_kmh") >= STORM_GUST_KMH, ATM_WIND),
        (column("cloud_cover_pct") >= OVERCAST_CLOUD_PCT, ATM_OVERCAST),
    ]
    return np.select([mask for mask, _ in rules], [code for _, code in rules], default=ATM_NORMAL).astype(np.int64)


def complete_weather_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """`frame` with every WEATHER_COLUMNS column in order: missing observations NaN, atm derived
    from the observations where the source gave none, hours floored to the hour."""
    out = frame.copy()
    for name in OBSERVATIONS:
        if name not in out:
            out[name] = np.nan
    derived = atm_from_observations(out)
    given = pd.to_numeric(out["atm"], errors="coerce") if "atm" in out else pd.Series(np.nan, index=out.index)
    out["atm"] = np.where(given.notna(), given.fillna(0).to_numpy(), derived).astype(np.int64)
    out["hour"] = pd.to_datetime(out["hour"]).dt.floor("h")
    if "station_name" not in out:
        out["station_name"] = out["station_id"]
    out["source"] = source
    return out[list(WEATHER_COLUMNS)].astype({"station_id": str, "station_name": str})


@dataclass(frozen=True, eq=False)
class WeatherHistory:
    """Hourly atm per station, and the nearest station of any place.

    `atm_at(lat, lon, times)` gives each (place, hour) the code its nearest station recorded that
    hour; when that station has no record of the hour the next nearest one that has is used, and
    an hour no station covers gets `fill` (counted in `last_missing`)."""

    station_ids: np.ndarray  # (s,)
    station_lat: np.ndarray
    station_lon: np.ndarray
    hours: np.ndarray  # sorted distinct datetime64[ns] hour starts (h,)
    atm: np.ndarray  # (s, h) int64 codes, 0 = no record

    fill: int = ATM_NORMAL

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> WeatherHistory:
        """From rows of silver.weather_hourly (station_id, lat, lon, hour, atm)."""
        if frame.empty:
            raise AccidentsError("silver.weather_hourly is empty: rebuild it with `accidents features --weather ...`")
        stations = frame.groupby("station_id", sort=True)[["lat", "lon"]].first()
        hours = np.unique(pd.to_datetime(frame["hour"]).to_numpy(dtype="datetime64[ns]"))
        grid = np.zeros((len(stations), len(hours)), dtype=np.int64)
        s = pd.Index(stations.index).get_indexer(frame["station_id"])
        h = np.searchsorted(hours, pd.to_datetime(frame["hour"]).to_numpy(dtype="datetime64[ns]"))
        grid[s, h] = frame["atm"].to_numpy(dtype=np.int64)
        return cls(stations.index.to_numpy(dtype=object), stations["lat"].to_numpy(float),
                   stations["lon"].to_numpy(float), hours, grid)

    @property
    def start(self) -> np.datetime64:
        return self.hours[0]

    @property
    def end(self) -> np.datetime64:
        return self.hours[-1] + np.timedelta64(1, "h")

    def station_order(self, lat, lon) -> np.ndarray:
        """(n, s): station indices of each place, nearest first (haversine)."""
        tree = haversine_tree(self.station_lat, self.station_lon)
        _, order = nearest_km(tree, np.asarray(lat, float), np.asarray(lon, float), k=len(self.station_ids))
        return order

    def atm_at(self, lat, lon, times) -> tuple[np.ndarray, int]:
        """(atm per row, rows no station covers). lat/lon/times are aligned arrays (times: hourly or
        finer, naive local). Stations are ranked once per distinct place."""
        # (lat, lon) as one exact complex key: a 1-D unique is ~7x faster than np.unique(axis=0), which
        # took 31-51 s (loaded machine) for the 6.8 M negatives of one sampler at demo scale 200
        places = np.empty(len(lat), dtype=np.complex128)
        places.real, places.imag = np.asarray(lat, float), np.asarray(lon, float)
        unique, inverse = np.unique(places, return_inverse=True)
        return self.atm_at_places(unique.real, unique.imag, inverse.ravel(), times)

    def atm_at_places(self, lat, lon, place_of_row, times) -> tuple[np.ndarray, int]:
        """`atm_at` for rows that index known places (e.g. road points): (lat, lon) per place,
        `place_of_row` the place of each row. Skips finding the distinct places of millions of rows."""
        order = self.station_order(lat, lon)[np.asarray(place_of_row)]
        return self._lookup(order, times)

    def atm_grid(self, lat, lon, hours) -> tuple[np.ndarray, int]:
        """(n_hours, n_points) atm of every point at every hour (hour-major), and uncovered cells."""
        order = self.station_order(lat, lon)
        hours = np.asarray(hours, dtype="datetime64[ns]")
        atm, missing = self._lookup(np.tile(order, (len(hours), 1)), np.repeat(hours, len(order)))
        return atm.reshape(len(hours), len(order)), missing

    def series_groups(self, lat, lon, hours) -> tuple[np.ndarray, np.ndarray]:
        """(group of each point, (n_groups, n_hours) atm of each group): points whose codes are equal at
        every hour share a group. A point's code comes from its nearest station that recorded the hour,
        so its series is fixed by its station ranking up to the first station recording every hour."""
        order = self.station_order(lat, lon)
        hours = np.asarray(hours, dtype="datetime64[ns]")
        complete = np.array([np.isin(hours, self.hours[self.atm[s] > 0]).all() for s in range(len(self.station_ids))])
        covered = complete[order]
        stop = np.where(covered.any(axis=1), covered.argmax(axis=1), order.shape[1] - 1)
        key = np.where(np.arange(order.shape[1])[None, :] <= stop[:, None], order, -1)
        _, first, group = np.unique(key, axis=0, return_index=True, return_inverse=True)
        series, _ = self.atm_grid(np.asarray(lat, float)[first], np.asarray(lon, float)[first], hours)
        return group.reshape(-1), series.T

    def _lookup(self, order: np.ndarray, times) -> tuple[np.ndarray, int]:
        times = np.asarray(times, dtype="datetime64[ns]").astype("datetime64[h]").astype("datetime64[ns]")
        pos = np.searchsorted(self.hours, times)
        last = len(self.hours) - 1
        known = (pos <= last) & (self.hours[np.minimum(pos, last)] == times)
        pos = np.minimum(pos, last)
        out = np.zeros(len(times), dtype=np.int64)
        for rank in range(order.shape[1]):  # a handful of stations: fall back station by station
            todo = np.flatnonzero((out == 0) & known)
            if not todo.size:
                break
            out[todo] = self.atm[order[todo, rank], pos[todo]]
        missing = int((out == 0).sum())
        out[out == 0] = self.fill
        return out, missing


def load_weather_history(con: duckdb.DuckDBPyConnection) -> WeatherHistory | None:
    """silver.weather_hourly of the connection's département as a WeatherHistory, None when the lake
    has no weather history for it."""
    if not table_exists(con, "silver.weather_hourly"):
        return None
    frame = con.execute(f"SELECT station_id, lat, lon, hour, atm FROM silver.weather_hourly WHERE dep = {DEP}").df()
    return WeatherHistory.from_frame(frame) if len(frame) else None


def atm_matrix(atm, lat, lon, hours) -> np.ndarray:
    """(n_hours, n_points) weather codes for scoring: a WeatherHistory gives each point-hour its own
    hour's weather at its nearest station; an int or one code per hour is broadcast (a scenario)."""
    hours = np.asarray(hours, dtype="datetime64[ns]")
    if isinstance(atm, WeatherHistory):
        return atm.atm_grid(lat, lon, hours)[0]
    per_hour = np.broadcast_to(np.asarray(atm, dtype=np.int64), (len(hours),))
    return np.repeat(per_hour[:, None], len(np.atleast_1d(lat)), axis=1)
