"""Negative samplers: exclusion distance, temporal ratio, uniform coverage, determinism, weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.silver import sampling
from pipeline.core.spatial import haversine_km


@pytest.fixture
def points():
    lat, lon = np.meshgrid(np.arange(-22.40, -22.10, 0.01), np.arange(166.30, 166.60, 0.01), indexing="ij")
    return pd.DataFrame({"point_id": np.arange(lat.size), "lat": lat.ravel(), "lon": lon.ravel()})


@pytest.fixture
def accidents():
    rng = np.random.default_rng(5)
    n = 400
    return pd.DataFrame({
        "accident_id": [f"a{i}" for i in range(n)],
        "lat": rng.uniform(-22.35, -22.15, n), "lon": rng.uniform(166.35, 166.55, n),
        "event_time": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 2 * 8760 * 60, n), "min"),
        "atm": rng.choice([1, 2, 5], n, p=[0.7, 0.2, 0.1]),
    })


def test_exclusion_negatives_stay_300m_from_every_accident(points, accidents):
    period = sampling.Period.covering_years(accidents["event_time"])
    neg = sampling.sample_exclusion(points, accidents, period, n_negatives=4000, exclusion_km=0.3,
                                    temporal_ratio=0.85, seed=1)
    assert len(neg) == 4000
    coords = points.set_index("point_id").loc[neg["point_id"].to_numpy()[:500]]
    d = haversine_km(coords["lat"].to_numpy()[:, None], coords["lon"].to_numpy()[:, None],
                     accidents["lat"].to_numpy()[None, :], accidents["lon"].to_numpy()[None, :])
    assert d.min() >= 0.3
    # the exclusion really removed something: some points are within 300 m of an accident
    assert not sampling.exclusion_candidates(points, accidents, 0.3).all()


def test_exclusion_temporal_ratio(points, accidents):
    period = sampling.Period.covering_years(accidents["event_time"])
    neg = sampling.sample_exclusion(points, accidents, period, n_negatives=20000, exclusion_km=0.3,
                                    temporal_ratio=0.85, seed=2)
    accident_hours = set(accidents["event_time"].dt.floor("h"))
    share = neg["event_time"].isin(accident_hours).mean()
    # uniform draws hit an accident hour with probability ~400/17544, so the share is 0.85 + ~0.003
    assert share == pytest.approx(0.85 + 0.15 * len(accident_hours) / period.n_hours, abs=0.01)
    assert (neg["event_time"] >= pd.Timestamp(period.start)).all() and (neg["event_time"] < pd.Timestamp(period.end)).all()
    assert (neg["event_time"] == neg["event_time"].dt.floor("h")).all()


def test_uniform_covers_all_hours_and_weekdays_and_draws_weather(points, accidents):
    period = sampling.Period.covering_years(accidents["event_time"])
    neg = sampling.sample_uniform(points, accidents, period, n_negatives=5000, seed=3)
    assert set(neg["event_time"].dt.hour) == set(range(24))
    assert set(neg["event_time"].dt.dayofweek) == set(range(7))
    assert set(neg["atm"]) <= {1, 2, 5}
    assert neg["atm"].eq(1).mean() == pytest.approx(0.7, abs=0.03)
    assert neg["point_id"].nunique() > 0.9 * len(points)


def test_samplers_are_deterministic_for_a_seed(points, accidents):
    period = sampling.Period.covering_years(accidents["event_time"])
    kwargs = dict(n_negatives=1000, exclusion_km=0.3, temporal_ratio=0.85)
    a = sampling.sample_exclusion(points, accidents, period, seed=9, **kwargs)
    b = sampling.sample_exclusion(points, accidents, period, seed=9, **kwargs)
    c = sampling.sample_exclusion(points, accidents, period, seed=10, **kwargs)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    pd.testing.assert_frame_equal(sampling.sample_uniform(points, accidents, period, n_negatives=500, seed=9),
                                  sampling.sample_uniform(points, accidents, period, n_negatives=500, seed=9))


def test_period_and_weight(accidents):
    period = sampling.Period.covering_years(accidents["event_time"])
    assert pd.Timestamp(period.start) == pd.Timestamp("2020-01-01")
    assert pd.Timestamp(period.end) == pd.Timestamp("2022-01-01")
    assert period.n_hours == (366 + 365) * 24
    assert sampling.negative_weight(100, period, 2000) == pytest.approx(100 * period.n_hours / 2000)
