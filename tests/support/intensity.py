"""A small synthetic world for the intensity models, in a real lake, and a real model fitted on it.

The world: N road points carrying every silver.road_points column, one weather station whose hourly
codes (normal, light and heavy rain) fill silver.weather_hourly, and accidents drawn from a known
intensity

    lambda(p, h) = DAILY_ACCIDENTS / 24 * share(p) * hour_shape(h) * WEEKEND ** weekend(h) * RAIN[atm(h)]

(share: more road and major roads draw more; hour_shape: an evening peak at 17:00 averaging 1). The
model: a real `PoissonGLM` fitted through `pipeline.gold.intensity.competition.Inputs`, with the
validation record the training stage would give it (fitted on the years before the last, expected /
observed measured on every point-hour of the last, then refitted on every year). `register_model`
stores any intensity model as `accidents train` does: `save_model` into `risk_model/` of an MLflow run,
then `registry.register_run_model`.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.weather import ATM_HEAVY_RAIN, ATM_LIGHT_RAIN, ATM_NORMAL, WeatherHistory, complete_weather_frame
from pipeline.silver.road_points import ROAD_POINT_COLUMNS

N_POINTS = 40
YEARS = (2022, 2023, 2024)
DAILY_ACCIDENTS = 2.5  # expected accidents a day over every point, normal weather, on weekdays
WEEKEND = 1.25
RAIN = {ATM_NORMAL: 1.0, ATM_LIGHT_RAIN: 1.5, ATM_HEAVY_RAIN: 2.2}
WEATHER_SHARES = {ATM_NORMAL: 0.82, ATM_LIGHT_RAIN: 0.12, ATM_HEAVY_RAIN: 0.06}
STATION = ("S1", -22.0, 166.0)
COMMUNES = ("98818", "98817", "98805")
ROAD_TYPES = ("primary", "secondary", "tertiary", "residential")
SPEEDS = {"primary": 90.0, "secondary": 70.0, "tertiary": 50.0, "residential": 50.0}
REGISTERED = "accidents-risk-988"


def hour_shape(hours: np.ndarray) -> np.ndarray:
    """Relative intensity by hour of day: an evening peak at 17:00, averaging 1 over the day."""
    curve = 1.0 + 1.5 * np.exp(-0.5 * ((np.arange(24) - 17) / 2.0) ** 2)
    return (curve / curve.mean())[np.asarray(hours)]


@dataclass
class World:
    points: pd.DataFrame  # silver.road_points rows
    share: np.ndarray  # (P,) share of the accidents of each point
    weather: pd.DataFrame  # silver.weather_hourly rows
    accidents: pd.DataFrame  # accident_id, event_time, lat, lon, year, point_id, dep
    years: tuple[int, ...]
    daily: float = DAILY_ACCIDENTS
    department: str = "988"

    def history(self) -> WeatherHistory:
        return WeatherHistory.from_frame(self.weather)

    def inputs(self):
        """What the competition (and the training stage) reads, as `pipeline.gold.training.load_inputs`
        would give it from the lake."""
        from pipeline.core.departments import department
        from pipeline.gold.intensity.competition import Inputs

        return Inputs(self.points, self.accidents, self.history(), self.department,
                      department(self.department).metric_crs)

    def expected(self, hours: pd.DatetimeIndex, atm=ATM_NORMAL) -> np.ndarray:
        """(P, H) true expected accidents of `hours` under `atm`: one code for every hour (a scenario)
        or one code per hour."""
        hours = pd.DatetimeIndex(hours)
        rain = np.vectorize(RAIN.get, otypes=[float])(np.broadcast_to(np.asarray(atm), (len(hours),)))
        time = self.daily / 24.0 * hour_shape(hours.hour) * np.where(hours.dayofweek >= 5, WEEKEND, 1.0) * rain
        return np.outer(self.share, time)

    def recorded_weather(self, hours: pd.DatetimeIndex) -> np.ndarray:
        """The station's code at each of `hours`."""
        codes = self.weather.set_index("hour")["atm"]
        return codes.reindex(pd.DatetimeIndex(hours)).fillna(ATM_NORMAL).to_numpy(dtype=np.int64)


class WorldTruth:
    """The world's true intensity in the shape of the demo's truth (pipeline.evaluation.evaluation.Truth):
    under the recorded weather by default, or a scenario; `weather` gives the oracles its climatology."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.weather = pd.DataFrame({"date": world.weather["hour"], "atm": world.weather["atm"]})

    def expected_counts(self, point_lat, point_lon, hours, atm=None) -> np.ndarray:
        assert np.allclose(np.asarray(point_lat, float), self.world.points["lat"].to_numpy())  # the world's points
        hours = pd.DatetimeIndex(hours)
        return self.world.expected(hours, self.world.recorded_weather(hours) if atm is None else atm)


def synthetic_points(n: int = N_POINTS, seed: int = 7, dep: str = "988") -> pd.DataFrame:
    """Road points with every silver.road_points column (ROAD_POINT_COLUMNS), ordered by point_id."""
    rng = np.random.default_rng(seed)
    road_type = rng.choice(ROAD_TYPES, n)
    speed = np.array([SPEEDS[r] for r in road_type])
    road_km = rng.uniform(0.3, 4.0, n)
    major = road_type == "primary"
    minor = np.isin(road_type, ("secondary", "tertiary"))
    lat, lon = rng.uniform(-22.4, -21.6, n), rng.uniform(165.6, 166.6, n)
    points = pd.DataFrame({
        "point_id": np.arange(1000, 1000 + n, dtype=np.int64), "lat": lat, "lon": lon,
        "road_type": road_type, "speed_limit": speed, "dist_to_road_m": rng.uniform(0, 50, n),
        "dist_to_main_city_km": np.hypot(lat + 22.27, lon - 166.45) * 111.0,
        "intersections_100m": rng.poisson(1.5, n).astype(np.int64), "road_sinuosity": 1.0 + rng.gamma(1.0, 0.1, n),
        "road_km": road_km, "road_km_major": np.where(major, road_km, 0.0), "road_km_minor": np.where(minor, road_km, 0.0),
        "road_km_residential": np.where(road_type == "residential", road_km, 0.0),
        "road_km_fast": np.where(speed >= 80, road_km, 0.0), "com": rng.choice(COMMUNES, n),
        "dist_to_commune_seat_km": rng.uniform(0.2, 15.0, n), "dep": dep,
    })
    return points[ROAD_POINT_COLUMNS]


def weather_frame(years, seed: int = 11) -> pd.DataFrame:
    """silver.weather_hourly rows of one station over every hour of `years`: rain comes in spells of
    three hours (codes drawn with WEATHER_SHARES)."""
    from pipeline.gold.intensity.cells import year_hours

    rng = np.random.default_rng(seed)
    hours = year_hours(years)
    codes = np.array(list(WEATHER_SHARES))
    spells = rng.choice(codes, -(-len(hours) // 3), p=np.array(list(WEATHER_SHARES.values())))
    station_id, lat, lon = STATION
    frame = pd.DataFrame({"station_id": station_id, "lat": lat, "lon": lon, "hour": hours,
                          "atm": np.repeat(spells, 3)[:len(hours)]})
    return complete_weather_frame(frame, "synthetic")


def synthetic_world(n_points: int = N_POINTS, years=YEARS, *, daily: float = DAILY_ACCIDENTS, seed: int = 7,
                    dep: str = "988") -> World:
    """Points, weather and accidents drawn from the known intensity (module docstring)."""
    from pipeline.gold.intensity.cells import year_hours

    rng = np.random.default_rng(seed)
    points = synthetic_points(n_points, seed, dep)
    weight = points["road_km"].to_numpy() * np.where(points["road_type"] == "primary", 2.0, 1.0)
    share = weight / weight.sum()
    weather = weather_frame(years, seed + 4)
    world = World(points, share, weather, pd.DataFrame(), tuple(sorted(years)), daily, dep)
    hours = year_hours(years)
    counts = rng.poisson(world.expected(hours, weather["atm"].to_numpy()))
    point, hour = np.nonzero(counts)
    point, hour = np.repeat(point, counts[point, hour]), np.repeat(hour, counts[point, hour])
    minutes = pd.to_timedelta(rng.integers(0, 60, len(point)), unit="min")
    event_time = hours[hour] + minutes
    world.accidents = pd.DataFrame({
        "accident_id": [f"A{i:06d}" for i in range(len(point))], "event_time": event_time,
        "lat": points["lat"].to_numpy()[point] + rng.normal(0, 0.0005, len(point)),
        "lon": points["lon"].to_numpy()[point] + rng.normal(0, 0.0005, len(point)),
        "year": event_time.year.to_numpy(), "point_id": points["point_id"].to_numpy()[point], "dep": dep,
    })
    return world


def _replace(con, table: str, frame: pd.DataFrame) -> None:
    con.register("_world_rows", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _world_rows")
    finally:
        con.unregister("_world_rows")


def write_world(con, world: World, *, weather: bool = True) -> None:
    """The world's silver.road_points, bronze.accidents, silver.accident_points and (unless `weather`
    is False) silver.weather_hourly."""
    accidents = world.accidents
    _replace(con, "silver.road_points", world.points)
    _replace(con, "bronze.accidents", accidents[["accident_id", "event_time", "lat", "lon", "year", "dep"]])
    _replace(con, "silver.accident_points",
             accidents[["accident_id", "point_id"]].assign(dist_m=10.0, dep=world.department))
    if weather:
        _replace(con, "silver.weather_hourly", world.weather.assign(dep=world.department))


def fit_glm(world: World, years=None, *, space: float = 1.0, time: float = 1.0):
    """A real PoissonGLM fitted on the world's `years` (default: all)."""
    from pipeline.gold.intensity.glm import PoissonGLM

    inputs = world.inputs()
    years = sorted(years or world.years)
    return PoissonGLM.fit(inputs.counts(years), world.points, space=space, time=time,
                          year_counts=inputs.year_counts(years))


def validation_record(world: World, model, *, synthetic: bool = True) -> dict[str, Any]:
    """The record `accidents train` stores with a champion, measured the same way, for a PoissonGLM
    `model`: a GLM with its penalties fitted on the years before the last, its expected count on every
    point-hour of the last year against the accidents observed there."""
    from pipeline.gold.intensity.cells import observed_counts, year_hours
    from pipeline.gold.intensity.competition import loglik_per_accident

    inputs = world.inputs()
    last = world.years[-1]
    before = fit_glm(world, world.years[:-1], **model.penalties)
    grid = inputs.grid([last])
    expected = before.expected_counts(grid)
    counts = observed_counts(world.points, world.accidents[world.accidents["year"] == last], year_hours([last]))
    observed = int(counts.sum())
    return {"candidate": model.name, "kind": model.kind, "validation_year": last, "fit_years": list(world.years[:-1]),
            "train_years": list(world.years), "validation_loglik_per_accident": loglik_per_accident(expected, counts),
            "validation_expected": float(expected.sum()), "validation_observed": observed,
            "validation_expected_observed": float(expected.sum()) / observed, "rivals": {},
            "synthetic": synthetic, "department": world.department}


@functools.cache
def fitted_world() -> tuple[World, Any, dict[str, Any]]:
    """The default world, a GLM fitted on all its years and its validation record, made once per
    process (several test files score with them; nothing may change them)."""
    world = synthetic_world()
    model = fit_glm(world)
    return world, model, validation_record(world, model)


def register_model(tracking_uri: str, model, record: dict[str, Any], *, registered: str = REGISTERED,
                   champion: bool = True, experiment: str = "tests") -> str:
    """Store `model` with `record` under `risk_model/` of a new MLflow run and register it as a new
    version of `registered` (alias `champion` when asked); returns the version number."""
    import mlflow

    from pipeline.gold import registry
    from pipeline.gold.intensity.bundle import save_model

    registry.ensure_experiment(tracking_uri, experiment)
    with mlflow.start_run(run_name=model.name) as run, tempfile.TemporaryDirectory() as tmp:
        folder = save_model(model, Path(tmp) / registry.BUNDLE_ARTIFACT, record)
        mlflow.log_artifacts(str(folder), artifact_path=registry.BUNDLE_ARTIFACT)
    return registry.register_run_model(tracking_uri, registered, run.info.run_id,
                                       {"candidate": model.name, "kind": model.kind}, champion=champion)
