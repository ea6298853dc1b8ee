"""gold.predictions-shaped rows for the map tests, which need no model (tests/support/intensity.py has the
world and the real model that the prediction tests score with)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pipeline.gold.predictions import prediction_rows


def synthetic_predictions(n_points: int = 60, day=dt.date(2026, 3, 2), seed: int = 3) -> pd.DataFrame:
    """One day of gold.predictions-like rows plus road attributes: expected accidents per point-hour
    (an evening peak at 17:00), the probability of at least one accident, risk index and rank."""
    rng = np.random.default_rng(seed)
    lat, lon = rng.uniform(-22.4, -20.3, n_points), rng.uniform(164.2, 167.0, n_points)
    hour = np.repeat(np.arange(24), n_points)
    expected = rng.uniform(1e-5, 4e-3, 24 * n_points) * (1 + (hour == 17))
    points = pd.DataFrame({"point_id": 5000 + np.arange(n_points), "lat": lat, "lon": lon})
    # probability, risk index and rank as the prediction stage computes them
    df = prediction_rows(points, [day], expected.reshape(1, 24, n_points)).to_pandas()
    idx = np.tile(np.arange(n_points), 24)
    return df.assign(date=day, atm=1, road_type=np.array(["primary", "secondary", "tertiary"])[idx % 3],
                     speed_limit=np.array([110.0, 90.0, 50.0])[idx % 3], com="98818")
