"""A synthetic world of any number of road points, for the grid benchmarks (bench_scoring.py,
bench_predictions.py): road points with every attribute the risk model reads, the hourly weather of
New Caledonia's twelve stations, accidents drawn from a known intensity, and a real intensity model
fitted on them.

What these stages cost depends on the number of road points, hours and weather series, not on where
the points are, so a world with as many points as the demo network has at a grid step stands for it.
The weather is the production kind (twelve stations, each point the series of its nearest one), not
the demo's single territory-wide series: more blocks of points to score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DEPARTMENT = "988"
CRS = "EPSG:3163"
YEARS = (2021, 2022, 2023, 2024)
ACCIDENTS_PER_YEAR = 290  # the demo's level at scale 1, whatever the grid step
ROAD_TYPES = ("trunk", "primary", "secondary", "tertiary", "residential", "unclassified")
COMMUNES = ("98818", "98817", "98805", "98821", "98809", "98811")
WEATHER_SHARES = {1: 0.80, 2: 0.11, 3: 0.05, 8: 0.04}  # normal, light rain, heavy rain, overcast
RAIN_FACTOR = {2: 1.4, 3: 1.9}


@dataclass(frozen=True)
class World:
    points: pd.DataFrame  # silver.road_points-shaped rows
    accidents: pd.DataFrame  # accident_id, point_id, event_time, lat, lon, year
    weather_rows: pd.DataFrame  # silver.weather_hourly-shaped rows (station_id, lat, lon, hour, atm)
    weather: object  # the same as a pipeline.core.weather.WeatherHistory

    def inputs(self):
        """The competition's inputs (pipeline.gold.intensity.competition.Inputs) of this world."""
        from pipeline.gold.intensity.competition import Inputs

        return Inputs(self.points, self.accidents, self.weather, DEPARTMENT, CRS)


def road_points(n: int, rng: np.random.Generator) -> pd.DataFrame:
    road = rng.choice(np.array(ROAD_TYPES), n, p=[0.06, 0.14, 0.2, 0.2, 0.3, 0.1])
    speed = np.where(np.isin(road, ("trunk", "primary")), rng.choice([80.0, 90.0, 110.0], n), rng.choice([30.0, 50.0, 70.0], n))
    road_km = rng.gamma(2.0, 1.0, n) + 0.1
    share = rng.dirichlet(np.ones(4), n) * road_km[:, None]
    lat = rng.uniform(-22.7, -20.1, n)
    lon = rng.uniform(164.0, 167.1, n)
    return pd.DataFrame({
        "point_id": np.arange(n, dtype=np.int64) + 1, "lat": lat, "lon": lon, "road_type": road,
        "speed_limit": speed, "dist_to_road_m": rng.uniform(0, 200, n),
        "dist_to_main_city_km": np.hypot(lat + 22.27, lon - 166.45) * 111.0,
        "intersections_100m": rng.poisson(0.8, n).astype(float), "road_sinuosity": 1 + rng.gamma(1.0, 0.1, n),
        "road_km": road_km, "road_km_major": share[:, 0], "road_km_minor": share[:, 1],
        "road_km_residential": share[:, 2], "road_km_fast": road_km * (speed >= 80),
        "com": rng.choice(np.array(COMMUNES), n), "dist_to_commune_seat_km": rng.gamma(1.5, 4.0, n),
        "dep": DEPARTMENT,
    })


def station_weather(hours: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    """Hourly codes at the département's stations (pipeline.sources.weather), drawn in spells of
    hours so that rain lasts as it does."""
    from pipeline.sources.weather import NEW_CALEDONIA_STATIONS

    codes, shares = np.array(list(WEATHER_SHARES)), np.array(list(WEATHER_SHARES.values()))
    frames = []
    for station in NEW_CALEDONIA_STATIONS:
        spells = rng.choice(codes, len(hours) // 6 + 1, p=shares)
        frames.append(pd.DataFrame({"station_id": station.station_id, "lat": station.lat, "lon": station.lon,
                                    "hour": hours, "atm": np.repeat(spells, 6)[:len(hours)]}))
    return pd.concat(frames, ignore_index=True)


def draw_accidents(points: pd.DataFrame, weather, hours: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    """About ACCIDENTS_PER_YEAR accidents a year: a point with probability rising with its road length,
    junctions and speed, then an hour of its station's series weighted by an evening peak and rain."""
    weight = points["road_km"].to_numpy() * np.sqrt(1 + points["intersections_100m"].to_numpy()) \
        * np.where(points["speed_limit"].to_numpy() >= 80, 1.6, 1.0)
    n = rng.poisson(ACCIDENTS_PER_YEAR * len(YEARS))
    point = rng.choice(len(points), n, p=weight / weight.sum())
    series, atm = weather.series_groups(points["lat"].to_numpy(float), points["lon"].to_numpy(float),
                                        hours.to_numpy(dtype="datetime64[ns]"))
    profile = 1 + 0.8 * np.exp(-0.5 * ((hours.hour.to_numpy() - 17) / 2.5) ** 2)
    hour = np.empty(n, dtype=np.int64)
    for s in np.unique(series[point]):
        mine = np.flatnonzero(series[point] == s)
        w = profile * np.select([atm[s] == code for code in RAIN_FACTOR], list(RAIN_FACTOR.values()), 1.0)
        hour[mine] = rng.choice(len(hours), len(mine), p=w / w.sum())
    times = hours[hour] + pd.to_timedelta(rng.integers(0, 60, n), unit="min")
    return pd.DataFrame({"accident_id": [f"S{i:07d}" for i in range(n)],
                         "point_id": points["point_id"].to_numpy()[point], "event_time": times,
                         "lat": points["lat"].to_numpy()[point], "lon": points["lon"].to_numpy()[point],
                         "year": times.year.to_numpy()})


def make_world(n_points: int, seed: int = 0) -> World:
    from pipeline.core.weather import WeatherHistory
    from pipeline.gold.intensity.cells import year_hours

    rng = np.random.default_rng(seed)
    points = road_points(n_points, rng)
    hours = year_hours(YEARS)
    rows = station_weather(hours, rng)
    weather = WeatherHistory.from_frame(rows)
    return World(points, draw_accidents(points, weather, hours, rng), rows, weather)


def write_lake(con, world: World, *, with_accidents: bool = True) -> None:
    """The world's silver.road_points and, with accidents, what training reads besides them:
    bronze.accidents, silver.accident_points and silver.weather_hourly."""
    from pipeline.core.lake import replace_department_table

    tables = {"silver.road_points": world.points}
    if with_accidents:
        accidents = world.accidents.assign(dep=DEPARTMENT)
        tables.update({"bronze.accidents": accidents[["accident_id", "event_time", "lat", "lon", "dep"]],
                       "silver.accident_points": accidents[["accident_id", "point_id", "dep"]],
                       "silver.weather_hourly": world.weather_rows.assign(dep=DEPARTMENT)})
    for table, frame in tables.items():
        con.register("_synthetic_rows", frame)
        try:
            replace_department_table(con, table, "SELECT * FROM _synthetic_rows")
        finally:
            con.unregister("_synthetic_rows")


def fit_model(world: World, fit_years, kind: str = "glm", *, seed: int = 0, threads: int = 1):
    """A real intensity model on `fit_years`: the penalised Poisson GLM (the champion's core), or
    LightGBM on its offset ("lightgbm", fixed mid-range parameters: no tuning)."""
    from pipeline.gold.intensity.boosted import BoostedGLM
    from pipeline.gold.intensity.glm import PoissonGLM

    inputs = world.inputs()
    data = inputs.counts(list(fit_years))
    glm = PoissonGLM.fit(data, world.points, space=1.0, time=1.0, year_counts=inputs.year_counts(fit_years))
    if kind == "glm":
        return glm
    if kind == "lightgbm":
        params = {"learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 50, "lambda_l2": 3.0,
                  "feature_fraction": 0.8}
        return BoostedGLM.fit("lightgbm", glm, world.points, data, params, 200, seed=seed, threads=threads)
    raise ValueError(f"kind={kind!r}: expected glm or lightgbm")
