"""Small synthetic worlds with a known intensity, for the risk model's own tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from pipeline.core.weather import WeatherHistory
from pipeline.gold.intensity.cells import year_hours
from pipeline.gold.intensity.competition import Inputs

ROAD_TYPES = np.array(["primary", "secondary", "residential", "unclassified"])
COMMUNES = np.array(["98818", "98817", "98805"])


@dataclass
class World:
    inputs: Inputs
    truth: np.ndarray  # (P, H) expected accidents of the generating intensity over `hours`
    hours: pd.DatetimeIndex
    weather: WeatherHistory


def make_points(n: int, rng: np.random.Generator) -> pd.DataFrame:
    road = rng.choice(ROAD_TYPES, n)
    speed = np.where(rng.random(n) < 0.25, 90.0, rng.choice([50.0, 70.0], n))
    road_km = rng.gamma(2.0, 2.0, n) + 0.2
    return pd.DataFrame({
        "point_id": np.arange(n, dtype=np.int64) + 100, "lat": -22.3 + rng.uniform(0, 0.3, n),
        "lon": 166.3 + rng.uniform(0, 0.3, n), "road_type": road, "speed_limit": speed,
        "dist_to_road_m": rng.uniform(0, 150, n), "dist_to_main_city_km": rng.uniform(0, 40, n),
        "intersections_100m": rng.poisson(0.7, n).astype(float), "road_sinuosity": 1 + rng.gamma(1.0, 0.1, n),
        "road_km": road_km, "road_km_major": road_km * (road == "primary"),
        "road_km_minor": road_km * (road == "secondary"), "road_km_residential": road_km * (road == "residential"),
        "road_km_fast": road_km * (speed >= 80), "com": rng.choice(COMMUNES, n),
        "dist_to_commune_seat_km": rng.uniform(0.1, 12, n), "dep": "988",
    })


def make_weather(hours: pd.DatetimeIndex, rng: np.random.Generator, codes=(1, 2, 3)) -> WeatherHistory:
    p = {1: 0.8, 2: 0.12, 3: 0.05, 8: 0.03}
    weights = np.array([p.get(c, 0.03) for c in codes])
    atm = rng.choice(np.asarray(codes), len(hours), p=weights / weights.sum())
    return WeatherHistory.from_frame(pd.DataFrame({"station_id": "S", "lat": -22.2, "lon": 166.4,
                                                   "hour": hours, "atm": atm}))


def simulate(points: pd.DataFrame, hours: pd.DatetimeIndex, weather: WeatherHistory, log_point: np.ndarray,
             rain_effect: tuple[float, float], rng: np.random.Generator, hour_shape: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """Accidents drawn from lambda = exp(log_point[p]) x hour profile x rain factor."""
    atm = weather.atm_grid(points["lat"].to_numpy(), points["lon"].to_numpy(), hours.to_numpy())[0][:, 0]
    hour_factor = 1 + 0.8 * np.exp(-0.5 * ((hours.hour.to_numpy() - 17) / 2.5) ** 2) if hour_shape else np.ones(len(hours))
    rain = np.where(atm == 2, rain_effect[0], np.where(atm == 3, rain_effect[1], 1.0))
    truth = np.exp(log_point)[:, None] * (hour_factor * rain)[None, :]
    counts = rng.poisson(truth)
    p, h = np.nonzero(counts)
    reps = counts[p, h]
    p, h = np.repeat(p, reps), np.repeat(h, reps)
    accidents = pd.DataFrame({"accident_id": [f"A{i}" for i in range(len(p))],
                              "point_id": points["point_id"].to_numpy()[p], "event_time": hours[h],
                              "lat": points["lat"].to_numpy()[p], "lon": points["lon"].to_numpy()[p]})
    accidents["year"] = accidents["event_time"].dt.year
    return accidents, truth


def feature_world(n_points: int = 80, years=(2021, 2022, 2023), *, level: float = 3e-4, seed: int = 0,
                  rain_effect=(1.4, 2.0)) -> World:
    """Intensity driven by road length and junctions (what the GLM's terms describe)."""
    rng = np.random.default_rng(seed)
    points = make_points(n_points, rng)
    hours = year_hours(years)
    weather = make_weather(hours, rng)
    log_point = np.log(level) + np.log(points["road_km"].to_numpy()) + 0.5 * np.log1p(points["intersections_100m"].to_numpy())
    accidents, truth = simulate(points, hours, weather, log_point, rain_effect, rng)
    return World(Inputs(points, accidents, weather, "988", "EPSG:3163"), truth, hours, weather)


@pytest.fixture(scope="module")
def world() -> World:
    return feature_world()
