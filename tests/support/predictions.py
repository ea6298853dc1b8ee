"""gold.predictions-shaped rows for the map tests, which need no model (tests/support/intensity.py has the
world and the real model that the prediction tests score with)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


def synthetic_predictions(n_points: int = 60, day=dt.date(2026, 3, 2), seed: int = 3) -> pd.DataFrame:
    """One day of gold.predictions-like rows plus road attributes: expected accidents per point-hour
    (an evening peak at 17:00), the probability of at least one accident, risk index and rank."""
    rng = np.random.default_rng(seed)
    lat, lon = rng.uniform(-22.4, -20.3, n_points), rng.uniform(164.2, 167.0, n_points)
    hour = np.repeat(np.arange(24), n_points)
    idx = np.tile(np.arange(n_points), 24)
    expected = rng.uniform(1e-5, 4e-3, 24 * n_points) * (1 + (hour == 17))
    df = pd.DataFrame(
        {
            "date": day, "hour": hour, "point_id": 5000 + idx, "lat": lat[idx], "lon": lon[idx], "atm": 1,
            "expected_accidents": expected, "probability": -np.expm1(-expected),
            "risk_index": expected / expected.mean(),
            "road_type": np.array(["primary", "secondary", "tertiary"])[idx % 3],
            "speed_limit": np.array([110.0, 90.0, 50.0])[idx % 3], "com": "98818",
        }
    )
    df["rank_in_hour"] = df.groupby("hour")["expected_accidents"].rank(method="first", ascending=False).astype(int)
    return df
