"""Sources of hourly weather history, one class each; `hourly(years)` returns rows shaped like
silver.weather_hourly (see pipeline.core.weather.WEATHER_COLUMNS), hours local to New Caledonia.

- `DemoWeather`: the demo generator's realised hourly weather (demo_truth/weather.parquet): one
  territory-wide SYNTHETIC series, already as BAAC atm codes.
- `OpenMeteoArchive`: hourly reanalysis at the main stations of the territory from the Open-Meteo
  archive API, one JSON file per station and year cached under the cache folder (a finished year is
  never fetched again; the current year is refreshed).
- `WeatherCsvFolder`: a folder of CSV files for users with their own station data.
- `OpenMeteoForecast`: the hourly forecast of a day at the same stations (for `predict --atm forecast`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from pipeline.core.errors import AccidentsError
from pipeline.core.weather import OBSERVATIONS, complete_weather_frame
from pipeline.sources import http
from pipeline.sources.demo.model import load_truth, weather_times

ARCHIVE_VARIABLES = {"precipitation": "precipitation_mm", "snowfall": "snowfall_cm",
                     "wind_gusts_10m": "wind_gust_kmh", "cloud_cover": "cloud_cover_pct"}
FORECAST_VARIABLES = {**ARCHIVE_VARIABLES, "visibility": "visibility_m"}
SETTLED_DAYS = 7  # the archive trails real time by a few days: a year is final this long after it ends


@dataclass(frozen=True)
class Station:
    station_id: str
    name: str
    lat: float
    lon: float


# Météo-France New Caledonia synoptic stations (approximate coordinates), spread over the territory
# so that every road point has one within ~60 km.
NEW_CALEDONIA_STATIONS = (
    Station("noumea", "Nouméa", -22.276, 166.453),
    Station("tontouta", "La Tontouta", -22.016, 166.216),
    Station("bourail", "Bourail", -21.566, 165.496),
    Station("kone", "Koné", -21.054, 164.837),
    Station("koumac", "Koumac", -20.560, 164.287),
    Station("poindimie", "Poindimié", -20.936, 165.328),
    Station("thio", "Thio", -21.611, 166.214),
    Station("yate", "Yaté", -22.157, 166.942),
    Station("lifou", "Lifou Wanaham", -20.775, 167.240),
    Station("mare", "Maré La Roche", -21.482, 168.038),
    Station("ouvea", "Ouvéa Ouloup", -20.640, 166.573),
    Station("iledespins", "Île des Pins Moué", -22.588, 167.456),
)


class DemoWeather:
    """The demo generator's hourly weather (SYNTHETIC, one series for the whole territory)."""

    STATION = Station("demo", "SYNTHETIC demo weather (territory-wide)", -21.5, 165.8)
    label = "demo"

    def __init__(self, truth_folder: Path) -> None:
        self.truth_folder = Path(truth_folder)

    def hourly(self, years) -> pd.DataFrame:
        weather = load_truth(self.truth_folder).weather
        hours = weather_times(weather)
        keep = np.isin(hours.year, list(years))
        if not keep.any():
            raise AccidentsError(f"{self.truth_folder}: the demo weather covers no year of {sorted(years)}")
        s = self.STATION
        frame = pd.DataFrame({"station_id": s.station_id, "station_name": s.name, "lat": s.lat, "lon": s.lon,
                              "hour": hours[keep], "atm": weather["atm"].to_numpy()[keep].astype(np.int64)})
        return complete_weather_frame(frame, self.label)


def _parse_open_meteo(payload: dict, station: Station, variables: dict[str, str], source: str) -> pd.DataFrame:
    """One station's Open-Meteo JSON (hourly arrays) as weather rows."""
    hourly = payload.get("hourly")
    if not isinstance(hourly, dict) or "time" not in hourly:
        raise AccidentsError(f"Open-Meteo answer for {station.name}: no hourly data")
    frame = pd.DataFrame({"hour": pd.to_datetime(hourly["time"])})
    for api_name, column in variables.items():
        values = hourly.get(api_name)
        frame[column] = np.nan if values is None else pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    frame = frame.assign(station_id=station.station_id, station_name=station.name, lat=station.lat, lon=station.lon)
    # An hour with no observation at all is not a record (the archive pads its last days with nulls).
    frame = frame[frame[list(variables.values())].notna().any(axis=1)]
    return complete_weather_frame(frame, source)


STATIONS = {"988": NEW_CALEDONIA_STATIONS}


def stations_for(department) -> tuple[Station, ...]:
    """The département's listed stations, else a 3 x 3 grid of points over its bounds: the Open-Meteo
    archive is a gridded reanalysis, so any point is a valid 'station'."""
    if department.code in STATIONS:
        return STATIONS[department.code]
    lats = [department.lat_min + (department.lat_max - department.lat_min) * f for f in (1 / 6, 1 / 2, 5 / 6)]
    lons = [department.lon_min + (department.lon_max - department.lon_min) * f for f in (1 / 6, 1 / 2, 5 / 6)]
    return tuple(Station(f"{department.code}-{i}{j}", f"{department.name} grid {i}{j}", round(lat, 3), round(lon, 3))
                 for i, lat in enumerate(lats) for j, lon in enumerate(lons))


class _OpenMeteoClient:
    def __init__(self, base_url: str, *, department, stations: tuple[Station, ...] | None = None,
                 timeout: float = 30.0, retries: int = 2, backoff: float = 1.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.stations, self.time_zone = stations or stations_for(department), department.timezone

    def _get_json(self, endpoint: str, params: dict) -> dict:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        url = f"{self.base_url}/{endpoint}?{query}"
        with requests.Session() as session:
            response = http.get(session, url, timeout=self.timeout, retries=self.retries, backoff=self.backoff)
        try:
            payload = response.json()
        except ValueError:
            raise AccidentsError(f"{url}: HTTP {response.status_code}, not a JSON answer") from None
        if response.status_code >= 400 or (isinstance(payload, dict) and payload.get("error")):
            reason = payload.get("reason", response.reason) if isinstance(payload, dict) else response.reason
            raise AccidentsError(f"{url}: HTTP {response.status_code} {reason}")
        return payload


class OpenMeteoArchive(_OpenMeteoClient):
    """Hourly history at the département's stations from the Open-Meteo archive API, cached per station and year."""

    label = "open-meteo-archive"

    def __init__(self, base_url: str, cache_dir: Path, *, today: dt.date | None = None, **kwargs) -> None:
        super().__init__(base_url, **kwargs)
        self.cache_dir = Path(cache_dir)
        self.today = today or dt.date.today()

    def _cache_path(self, station: Station, year: int) -> Path:
        return self.cache_dir / f"{station.station_id}-{year}.json"

    def _year_payload(self, station: Station, year: int) -> dict:
        path = self._cache_path(station, year)
        if path.is_file():
            cached = json.loads(path.read_text(encoding="utf-8"))
            if cached.get("settled"):
                return cached["payload"]
        end = min(dt.date(year, 12, 31), self.today)
        if end < dt.date(year, 1, 1):
            raise AccidentsError(f"weather history for {year}: the year has not started ({self.today})")
        payload = self._get_json("archive", {
            "latitude": station.lat, "longitude": station.lon, "start_date": f"{year}-01-01",
            "end_date": end.isoformat(), "hourly": ",".join(ARCHIVE_VARIABLES), "timezone": self.time_zone})
        settled = self.today >= dt.date(year, 12, 31) + dt.timedelta(days=SETTLED_DAYS)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_text(json.dumps({"settled": settled, "fetched": self.today.isoformat(), "payload": payload}),
                       encoding="utf-8")
        tmp.replace(path)
        return payload

    def hourly(self, years, progress=None) -> pd.DataFrame:
        frames = []
        for year in sorted(set(years)):
            for station in self.stations:
                frames.append(_parse_open_meteo(self._year_payload(station, year), station, ARCHIVE_VARIABLES,
                                                self.label))
                if progress:
                    progress(f"weather {station.name} {year}")
        return pd.concat(frames, ignore_index=True)


class OpenMeteoForecast(_OpenMeteoClient):
    """The hourly forecast of one day at the département's stations (not cached: a forecast changes by the hour)."""

    label = "open-meteo-forecast"

    def day(self, day: dt.date) -> pd.DataFrame:
        frames = []
        for station in self.stations:
            payload = self._get_json("forecast", {
                "latitude": station.lat, "longitude": station.lon, "start_date": day.isoformat(),
                "end_date": day.isoformat(), "hourly": ",".join(FORECAST_VARIABLES), "timezone": self.time_zone})
            frames.append(_parse_open_meteo(payload, station, FORECAST_VARIABLES, self.label))
        frame = pd.concat(frames, ignore_index=True)
        if frame.empty:
            raise AccidentsError(f"Open-Meteo has no forecast for {day} (forecasts cover about 16 days ahead)")
        return frame


class WeatherCsvFolder:
    """A folder of station CSV files (any names ending in .csv, searched recursively).

    Columns: station_id, lat, lon, time (local, e.g. 2024-03-01 14:00), then precipitation_mm and/or
    atm, optionally station_name, visibility_m, snowfall_cm, wind_gust_kmh, cloud_cover_pct. A row
    with an atm code keeps it; otherwise the code is derived from the observations."""

    REQUIRED = ("station_id", "lat", "lon", "time")
    label = "folder"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _read(self, path: Path) -> pd.DataFrame:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        missing = [c for c in self.REQUIRED if c not in frame]
        if missing or not ({"precipitation_mm", "atm"} & set(frame)):
            need = missing or ["precipitation_mm or atm"]
            raise AccidentsError(f"{path}: missing column {', '.join(need)} (expected {', '.join(self.REQUIRED)}, "
                                 "precipitation_mm and/or atm)")
        out = frame.rename(columns={"time": "hour"})
        out["hour"] = pd.to_datetime(frame["time"].str.strip(), errors="coerce", format="mixed")
        bad = {"time": out["hour"].isna()}
        for name in ("lat", "lon", *OBSERVATIONS, "atm"):
            if name not in frame:
                continue
            text = frame[name].str.strip()
            out[name] = pd.to_numeric(text.mask(text == ""), errors="coerce")
            given = text != ""  # a blank observation means "not measured"
            bad[name] = given & out[name].isna()
        bad["lat"] |= ~out["lat"].between(-90, 90)
        bad["lon"] |= ~out["lon"].between(-180, 180)
        if "atm" in out:
            bad["atm"] |= out["atm"].notna() & ~out["atm"].isin(range(1, 10))
        for column, rows in bad.items():
            if rows.any():
                index = int(np.flatnonzero(rows.to_numpy())[0])
                raise AccidentsError(f"{path}:{index + 2}: bad {column} value {frame[column].iloc[index]!r}")
        return out

    def hourly(self, years) -> pd.DataFrame:
        if not self.folder.is_dir():
            raise AccidentsError(f"--weather {self.folder}: not a folder of weather CSV files")
        files = sorted(p for p in self.folder.rglob("*.csv") if p.is_file())
        if not files:
            raise AccidentsError(f"--weather {self.folder}: no .csv file in this folder")
        frame = pd.concat([self._read(p) for p in files], ignore_index=True)
        frame = frame[frame["hour"].dt.year.isin(list(years))]
        if frame.empty:
            raise AccidentsError(f"--weather {self.folder}: no row in the years {sorted(years)}")
        frame = complete_weather_frame(frame, f"folder {self.folder.resolve()}")
        return frame.drop_duplicates(["station_id", "hour"], keep="last")
