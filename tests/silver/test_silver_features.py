"""Feature computation: a hand-computed row, calendar flags, leakage-free history features."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipeline.features import FEATURE_COLUMNS, NO_ACCIDENT_KM, AccidentHistory, compute_features
from pipeline.nc_calendar import is_public_holiday, is_school_holiday
from pipeline.spatial import haversine_km

P_LAT, P_LON = -22.27, 166.45


def _rows(times, accident_ids=None, lat=P_LAT, lon=P_LON, point_id=7):
    n = len(times)
    rows = pd.DataFrame({
        "point_id": point_id, "lat": lat, "lon": lon, "road_type": "primary", "speed_limit": 90.0,
        "dist_to_noumea_km": 1.5, "event_time": pd.to_datetime(times), "atm": 2,
    }, index=range(n))
    if accident_ids is not None:
        rows["accident_id"] = pd.Series(accident_ids, dtype=object)
    return rows


def _empty_history():
    return AccidentHistory.from_accidents(
        pd.DataFrame({"accident_id": [], "lat": [], "lon": [], "event_time": pd.to_datetime([])}), None)


def test_hand_computed_row():
    out = compute_features(_rows(["2024-09-24 08:00"]), _empty_history()).iloc[0]
    assert list(out[FEATURE_COLUMNS].index) == FEATURE_COLUMNS
    assert (out["latitude"], out["longitude"], out["hour"], out["dayofweek"], out["month"]) == (P_LAT, P_LON, 8, 1, 9)
    assert out["lat_hour"] == pytest.approx(P_LAT * 8)
    assert out["lon_month"] == pytest.approx(P_LON * 9)
    assert out["hour_dayofweek_month"] == 8 * 1 * 9
    assert out["lat_lon_hour"] == pytest.approx(P_LAT * P_LON * 8)
    assert out["lat_lon"] == pytest.approx(P_LAT * P_LON)
    assert out["hour_sin"] == pytest.approx(math.sqrt(3) / 2)
    assert out["hour_cos"] == pytest.approx(-0.5)
    assert out["dayofweek_sin"] == pytest.approx(math.sin(2 * math.pi / 7))
    assert out["dayofweek_cos"] == pytest.approx(math.cos(2 * math.pi / 7))
    flags = out[["is_weekend", "is_rush_morning", "is_rush_evening", "is_night", "is_holiday", "school_holidays"]]
    assert flags.tolist() == [0, 1, 0, 0, 1, 0]  # 24 Sept: Fête de la citoyenneté, between school breaks
    assert out["accident_density_5km"] == 0 and out["nearest_accident_km"] == NO_ACCIDENT_KM
    assert out["road_type"] == "primary" and out["speed_limit"] == 90.0 and out["atm"] == 2


def test_calendar_flags():
    out = compute_features(
        _rows(["2024-07-14 23:00", "2024-10-10 18:00", "2024-05-15 05:00", "2024-12-20 12:00"]), _empty_history())
    assert out["is_holiday"].tolist() == [1, 0, 0, 0]
    assert out["school_holidays"].tolist() == [0, 1, 0, 1]  # October break and summer holidays
    assert out["is_weekend"].tolist() == [1, 0, 0, 0]
    assert out["is_night"].tolist() == [1, 0, 1, 0]
    assert out["is_rush_evening"].tolist() == [0, 1, 0, 0]


def test_calendar_covers_every_school_year():
    for year in range(2019, 2028):
        days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
        share = is_school_holiday(days).mean()
        assert 0.25 < share < 0.40, (year, share)  # ~16 weeks of holidays a year
        assert is_public_holiday(pd.to_datetime([f"{year}-09-24", f"{year}-07-14"])).all()


def _history_accidents():
    # A at the road point (100 m away), B 1 km away, C 2 km away but after the cutoff, D 10 km away.
    return pd.DataFrame({
        "accident_id": ["A", "B", "C", "D", "E"],
        "lat": [P_LAT + 0.0009, P_LAT + 0.009, P_LAT - 0.018, P_LAT + 0.09, P_LAT],
        "lon": [P_LON, P_LON, P_LON, P_LON, P_LON + 0.03],
        "event_time": pd.to_datetime(["2020-01-01", "2021-06-01", "2023-01-01", "2019-03-01", "2022-01-01"]),
    })


def test_history_excludes_own_accident_and_after_cutoff():
    acc = _history_accidents()
    dist = {k: float(haversine_km(P_LAT, P_LON, r.lat, r.lon)) for k, r in acc.set_index("accident_id").iterrows()}
    history = AccidentHistory.from_accidents(acc, pd.Timestamp("2022-01-01"))
    assert set(history.accident_ids) == {"A", "B", "D"}  # C later, E exactly at the cutoff
    rows = _rows(["2021-01-01 10:00"] * 3, accident_ids=["A", None, "C"])
    out = compute_features(rows, history)
    assert out["accident_density_5km"].tolist() == [1, 2, 2]
    assert out["nearest_accident_km"].tolist() == pytest.approx([dist["B"], dist["A"], dist["A"]])


def test_reference_protocol_uses_all_accidents_but_own():
    acc = _history_accidents()
    history = AccidentHistory.from_accidents(acc, None)
    out = compute_features(_rows(["2021-01-01 10:00"] * 2, accident_ids=["A", "B"]), history)
    # within 5 km of the point: A, B, C, E (3.1 km); D is 10 km away
    assert out["accident_density_5km"].tolist() == [3, 3]
    b_dist = float(haversine_km(P_LAT, P_LON, acc.lat[1], acc.lon[1]))
    a_dist = float(haversine_km(P_LAT, P_LON, acc.lat[0], acc.lon[0]))
    assert out["nearest_accident_km"].tolist() == pytest.approx([b_dist, a_dist])


def test_history_is_broadcast_per_point_and_matches_direct_queries():
    rng = np.random.default_rng(3)
    acc = pd.DataFrame({"accident_id": [f"x{i}" for i in range(400)], "lat": rng.uniform(-22.4, -22.1, 400),
                        "lon": rng.uniform(166.3, 166.6, 400),
                        "event_time": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 9000, 400), "h")})
    history = AccidentHistory.from_accidents(acc, None)
    pick = rng.integers(0, 400, 300)
    rows = pd.DataFrame({"point_id": pick % 25, "lat": -22.4 + (pick % 25) * 0.012, "lon": 166.45,
                         "road_type": "primary", "speed_limit": 50.0, "dist_to_noumea_km": 1.0,
                         "event_time": pd.Timestamp("2021-03-01 10:00"), "atm": 1,
                         "accident_id": np.where(pick % 2 == 0, acc["accident_id"].to_numpy()[pick], None)})
    out = compute_features(rows, history)
    direct_density = history.density_5km(rows["lat"], rows["lon"], rows["accident_id"])
    direct_nearest = history.nearest_km(rows["lat"], rows["lon"], rows["accident_id"])
    np.testing.assert_array_equal(out["accident_density_5km"].to_numpy(), direct_density)
    np.testing.assert_allclose(out["nearest_accident_km"].to_numpy(), direct_nearest)
    # brute force for one positive
    i = int(np.flatnonzero(rows["accident_id"].notna())[0])
    others = acc[acc["accident_id"] != rows["accident_id"][i]]
    d = haversine_km(rows["lat"][i], rows["lon"][i], others["lat"], others["lon"])
    assert out["accident_density_5km"][i] == int((d <= 5.0).sum())
    assert out["nearest_accident_km"][i] == pytest.approx(d.min())
