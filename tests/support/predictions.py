"""Fakes for the feature code and the model so prediction tests need neither silver nor MLflow, and a
small seeded lake. The fixtures built on them (`fake_features`, `settings_env`) are in tests/conftest.py."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pipeline.core import features
from pipeline.core.features import AccidentHistory as RealHistory
from pipeline.core.lake import connect
from pipeline.core.settings import Settings

N_POINTS = 40
TRAINING_DAILY_MEAN = 2.5  # accidents per day the fake model is calibrated to


class FakeHistory:
    """Records what predictions asked for (lookback, cap, data period, how many times history was
    built) and answers the window questions with the real point-in-time rules."""

    built: list = []

    def __init__(self, accidents: pd.DataFrame, real, lookback_years, cap):
        self.accidents, self.real, self.lookback_years, self.cap = accidents, real, lookback_years, cap

    @classmethod
    def point_in_time(cls, accidents, lookback_years=3, cap=None, data_start=None, data_end=None, lag_years=0):
        real = RealHistory.point_in_time(accidents, lookback_years, cap=cap, data_start=data_start,
                                         data_end=data_end, lag_years=lag_years)
        history = cls(accidents, real, lookback_years, cap)
        cls.built.append(history)
        return history

    def asof(self, event_time):
        return self.real.asof(event_time)

    def covered_years(self, asof):
        return self.real.covered_years(asof)

    def window_start(self, asof):
        return self.real.window_start(asof)

    @property
    def data_start(self):
        return self.real.data_start

    @property
    def data_end(self):
        return self.real.data_end


def fake_compute_features(rows: pd.DataFrame, history) -> pd.DataFrame:
    out = rows.copy()
    t = pd.to_datetime(out["event_time"])
    for col in features.FEATURE_COLUMNS:
        out[col] = 0.0
    out["latitude"], out["longitude"] = out["lat"], out["lon"]
    out["hour"], out["dayofweek"], out["month"] = t.dt.hour, t.dt.dayofweek, t.dt.month
    out["atm"] = rows["atm"].astype(int)
    out["accident_density_5km"] = float(len(history.accidents))
    return out


class CalibratedFakeModel:
    """Probabilities whose daily sum over N points is TRAINING_DAILY_MEAN on weekdays, 25 % more on
    weekends, shaped by hour (evening peak), point and weather like a calibrated per point-hour model."""

    algorithm = "fake"

    def __init__(self, n_points: int = N_POINTS, history_cutoff="2025-01-01 00:00:00"):
        self.history_cutoff = history_cutoff
        self.n_points = n_points

    def predict_probability(self, df: pd.DataFrame) -> np.ndarray:
        assert list(df.columns) == features.FEATURE_COLUMNS
        hour = df["hour"].to_numpy()
        hour_shape = 1.0 + 0.8 * np.exp(-0.5 * ((hour - 17) / 2.5) ** 2)
        hour_shape /= np.mean(1.0 + 0.8 * np.exp(-0.5 * ((np.arange(24) - 17) / 2.5) ** 2))
        point_shape = 1.0 + 0.5 * np.sin(df["latitude"].to_numpy() * 37.0)
        weekend = np.where(df["dayofweek"].to_numpy() >= 5, 1.25, 1.0)
        weather = np.where(df["atm"].to_numpy() >= 2, 1.4, 1.0)
        base = TRAINING_DAILY_MEAN / (24 * self.n_points)
        return np.clip(base * hour_shape * point_shape * weekend * weather, 0, 1)


def install_fake_features(monkeypatch) -> type[FakeHistory]:
    """Replace the feature code by the fakes for one test; returns FakeHistory (its `built` list)."""
    FakeHistory.built = []
    monkeypatch.setattr(features, "compute_features", fake_compute_features, raising=False)
    monkeypatch.setattr(features, "AccidentHistory", FakeHistory, raising=False)
    return FakeHistory


def seed_road_points(con, n: int = N_POINTS, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    points = pd.DataFrame(
        {
            "point_id": np.arange(1000, 1000 + n, dtype=np.int64),
            "lat": rng.uniform(-22.4, -20.3, n),
            "lon": rng.uniform(164.2, 167.0, n),
            "road_type": rng.choice(["primary", "secondary", "residential"], n),
            "speed_limit": rng.choice([50.0, 70.0, 90.0, 110.0], n),
            "dist_to_road_m": rng.uniform(0, 50, n),
            "dist_to_main_city_km": rng.uniform(0, 300, n), "dep": "988",
            "com": rng.choice(["98818", "98817", "98805"], n),
        }
    )
    con.register("_points", points)
    con.execute("CREATE OR REPLACE TABLE silver.road_points AS SELECT * FROM _points")
    con.unregister("_points")
    return points


def seed_accidents(con) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE bronze.accidents AS SELECT * FROM (VALUES "
        "('a1', TIMESTAMP '2023-05-01 08:00', -22.27, 166.44), "
        "('a2', TIMESTAMP '2024-12-31 23:00', -22.20, 166.40), "
        "('a3', TIMESTAMP '2025-06-01 10:00', -22.10, 166.30)) t(accident_id, event_time, lat, lon), "
        "(SELECT '988' AS dep)"
    )


def seeded_lake(data_dir):
    """A lake in `data_dir` holding the fake road points and accidents."""
    con = connect(Settings(data_dir=data_dir))
    seed_road_points(con)
    seed_accidents(con)
    return con


def synthetic_predictions(n_points: int = 60, day=dt.date(2026, 3, 2), seed: int = 3) -> pd.DataFrame:
    """One day of gold.predictions-like rows plus road attributes, for map tests."""
    rng = np.random.default_rng(seed)
    lat, lon = rng.uniform(-22.4, -20.3, n_points), rng.uniform(164.2, 167.0, n_points)
    hour = np.repeat(np.arange(24), n_points)
    idx = np.tile(np.arange(n_points), 24)
    p = rng.uniform(1e-5, 4e-3, 24 * n_points) * (1 + (hour == 17))
    df = pd.DataFrame(
        {
            "date": day, "hour": hour, "point_id": 5000 + idx, "lat": lat[idx], "lon": lon[idx], "atm": 1,
            "probability": p, "risk_index": p / p.mean(),
            "road_type": np.array(["primary", "secondary", "tertiary"])[idx % 3],
            "speed_limit": np.array([110.0, 90.0, 50.0])[idx % 3], "com": "98818",
        }
    )
    df["rank_in_hour"] = df.groupby("hour")["probability"].rank(method="first", ascending=False).astype(int)
    return df
