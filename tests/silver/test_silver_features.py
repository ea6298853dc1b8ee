"""Feature computation: a hand-computed row, calendar flags, point-in-time and reference history."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipeline.core.features import FEATURE_COLUMNS, NO_ACCIDENT_KM, AccidentHistory, compute_features
from pipeline.core.calendar import is_public_holiday, is_school_holiday
from pipeline.core.spatial import haversine_km

P_LAT, P_LON = -22.27, 166.45


def _rows(times, accident_ids=None, lat=P_LAT, lon=P_LON, point_id=7):
    n = len(times)
    rows = pd.DataFrame({
        "point_id": point_id, "lat": lat, "lon": lon, "road_type": "primary", "speed_limit": 90.0,
        "dist_to_noumea_km": 1.5, "dep": "988", "event_time": pd.to_datetime(times), "atm": 2,
    }, index=range(n))
    if accident_ids is not None:
        rows["accident_id"] = pd.Series(accident_ids, dtype=object)
    return rows


def _empty_history():
    return AccidentHistory.reference(
        pd.DataFrame({"accident_id": [], "lat": [], "lon": [], "event_time": pd.to_datetime([])}))


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
        share = is_school_holiday(days, "988").mean()
        assert 0.25 < share < 0.40, (year, share)  # ~16 weeks of holidays a year
        assert is_public_holiday(pd.to_datetime([f"{year}-09-24", f"{year}-07-14"]), "988").all()


def _km(lat, lon):
    return float(haversine_km(P_LAT, P_LON, lat, lon))


# Accidents around the road point P, data period 2019-2022 (bronze years).
HAND = pd.DataFrame({
    "accident_id": ["A", "F", "B", "J", "G", "C", "D", "E"],
    "lat": [P_LAT + 0.0009, P_LAT + 0.0045, P_LAT + 0.009, P_LAT - 0.0045, P_LAT, P_LAT - 0.018,
            P_LAT + 0.09, P_LAT],
    "lon": [P_LON, P_LON, P_LON, P_LON, P_LON, P_LON, P_LON, P_LON + 0.03],
    "event_time": pd.to_datetime(["2019-03-01 00:00", "2020-09-01 00:00", "2020-06-01 00:00",
                                  "2021-01-15 00:00", "2021-03-01 10:20", "2021-02-01 00:00",
                                  "2021-08-01 00:00", "2022-01-01 00:00"]),
})  # A 100 m, F 500 m, B 1 km, J 500 m, G at P, C 2 km, E 3.1 km, D 10 km (outside 5 km)


def _pit(**kw):
    return AccidentHistory.point_in_time(HAND, data_start="2019-01-01", data_end="2023-01-01", **kw)


def test_point_in_time_window_and_coverage_on_a_hand_made_example():
    rows = _rows(["2019-05-01 10:00", "2020-05-01 10:00", "2021-05-01 10:00", "2022-05-01 10:00",
                  "2023-05-01 10:00", "2025-05-01 10:00", "2026-05-01 10:00"])
    out = compute_features(rows, _pit(lookback_years=3))
    density = out["accident_density_5km"].to_numpy()
    assert np.isnan(density[0])  # first data year: no covered year before it
    # 2020: [2017, 2020) covers 2019 only -> A / 1 year
    # 2021: [2018, 2021) covers 2019-2020 -> A, F, B / 2 years (2 of 3 years covered)
    # 2022: [2019, 2022) -> A, F, B, J, G, C (D is 10 km away) / 3
    # 2023: [2020, 2023) -> F, B, J, G, C, E / 3;  2025: [2022, 2025) covers 2022 -> E / 1
    np.testing.assert_allclose(density[1:6], [1.0, 1.5, 2.0, 2.0, 1.0])
    assert np.isnan(density[6])  # 2026: [2023, 2026) lies after the data period
    nearest = out["nearest_accident_km"].to_numpy()  # A until G (at P, 2021) enters the window
    assert nearest[0] == NO_ACCIDENT_KM and nearest[6] == NO_ACCIDENT_KM
    np.testing.assert_allclose(nearest[1:6], [_km(P_LAT + 0.0009, P_LON)] * 2 + [0.0, 0.0, _km(P_LAT, P_LON + 0.03)],
                               atol=1e-9)


def test_positive_and_negative_at_the_same_place_and_year_get_identical_history():
    # G (2021-03-01 10:20) is the positive's own accident, J happened earlier in the same year:
    # neither counts for any 2021 row, and no accident_id special case is needed.
    rows = _rows(["2021-03-01 10:00", "2021-11-20 03:00", "2021-01-01 00:00"], accident_ids=["G", None, None])
    out = compute_features(rows, _pit(lookback_years=3))
    assert out["accident_density_5km"].nunique() == 1 and out["nearest_accident_km"].nunique() == 1
    assert out["accident_density_5km"].iloc[0] == 1.5  # A, F, B over 2019-2020
    # the own accident (0 km away) would be the nearest if it counted
    assert out["nearest_accident_km"].iloc[0] == pytest.approx(_km(P_LAT + 0.0009, P_LON))


def test_lookback_and_cap():
    one_year = compute_features(_rows(["2022-05-01 10:00"]), _pit(lookback_years=1))
    assert one_year["accident_density_5km"].iloc[0] == 3.0  # J, G, C of 2021
    capped = compute_features(_rows(["2020-05-01 10:00", "2022-05-01 10:00"]),
                              _pit(lookback_years=3, cap="2021-02-01"))
    # 2020 row: its year start is earlier than the cap -> unchanged; 2022 row: window
    # [2018-02-01, 2021-02-01) covers 2019-01-01 .. 2021-02-01 = 2 + 31/365 years: A, F, B, J
    covered = 2 + 31 / 365
    np.testing.assert_allclose(capped["accident_density_5km"], [1.0, 4 / covered])
    history = _pit(lookback_years=3, cap="2021-02-01")
    assert history.asof(np.array(["2024-06-01"], dtype="datetime64[ns]"))[0] == np.datetime64("2021-02-01")
    with pytest.raises(Exception, match="history_lookback_years"):
        _pit(lookback_years=0)


def test_point_in_time_matches_brute_force_per_row():
    rng = np.random.default_rng(5)
    n = 600
    acc = pd.DataFrame({"accident_id": [f"x{i}" for i in range(n)], "lat": rng.uniform(-22.4, -22.1, n),
                        "lon": rng.uniform(166.3, 166.6, n),
                        "event_time": pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 5 * 8760, n), "h")})
    history = AccidentHistory.point_in_time(acc, lookback_years=2)
    assert (history.data_start, history.data_end) == (np.datetime64("2019-01-01"), np.datetime64("2024-01-01"))
    pid = rng.integers(0, 30, 400)
    rows = pd.DataFrame({"point_id": pid, "lat": -22.4 + pid * 0.01, "lon": 166.45, "road_type": "primary",
                         "speed_limit": 50.0, "dist_to_noumea_km": 1.0, "dep": "988", "atm": 1,
                         "event_time": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 4 * 8760, 400), "h")})
    out = compute_features(rows, history)
    for i in rng.choice(len(rows), 25, replace=False):
        year = rows["event_time"][i].year
        window = acc[(acc["event_time"] >= f"{year - 2}-01-01") & (acc["event_time"] < f"{year}-01-01")]
        d = haversine_km(rows["lat"][i], rows["lon"][i], window["lat"], window["lon"])
        covered = min(year, 2024) - max(year - 2, 2019)
        assert out["accident_density_5km"][i] == pytest.approx((d <= 5.0).sum() / covered)
        assert out["nearest_accident_km"][i] == pytest.approx(d.min())


def test_reference_protocol_excludes_only_the_rows_own_accident():
    history = AccidentHistory.reference(HAND)
    out = compute_features(_rows(["2019-01-01 10:00"] * 3, accident_ids=["A", "G", None]), history)
    # within 5 km of P: A, F, B, J, G, C, E (7); D is 10 km away. Own accident left out, later ones kept.
    assert out["accident_density_5km"].tolist() == [6, 6, 7]
    assert out["nearest_accident_km"].tolist() == pytest.approx([0.0, _km(P_LAT + 0.0009, P_LON), 0.0], abs=1e-9)


def test_history_is_broadcast_per_point_and_matches_direct_queries():
    rng = np.random.default_rng(3)
    acc = pd.DataFrame({"accident_id": [f"x{i}" for i in range(400)], "lat": rng.uniform(-22.4, -22.1, 400),
                        "lon": rng.uniform(166.3, 166.6, 400),
                        "event_time": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 9000, 400), "h")})
    history = AccidentHistory.reference(acc)
    pick = rng.integers(0, 400, 300)
    rows = pd.DataFrame({"point_id": pick % 25, "lat": -22.4 + (pick % 25) * 0.012, "lon": 166.45,
                         "road_type": "primary", "speed_limit": 50.0, "dist_to_noumea_km": 1.0, "dep": "988",
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


def test_calendar_flags_follow_each_rows_departement():
    """La Réunion's 20 December (abolition of slavery) is a holiday there, not in New Caledonia; New
    Caledonia's 24 September is one there only; no school-holiday table is shipped for 974."""
    times = pd.to_datetime(["2024-12-20 10:00", "2024-09-24 10:00"] * 2)
    rows = pd.DataFrame({"point_id": [1, 1, 2, 2], "lat": -21.0, "lon": 55.5, "road_type": "primary",
                         "speed_limit": 50.0, "dist_to_noumea_km": 1.0, "dep": ["974", "974", "988", "988"],
                         "event_time": times, "atm": 1})
    out = compute_features(rows, AccidentHistory.reference(pd.DataFrame(
        {"accident_id": ["a"], "lat": [-21.0], "lon": [55.5], "event_time": pd.to_datetime(["2023-01-01"])})))
    assert out["is_holiday"].tolist() == [1, 0, 0, 1]
    assert out["school_holidays"].tolist()[:2] == [0, 0]
