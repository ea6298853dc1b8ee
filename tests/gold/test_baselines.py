"""Hotspot baselines: history counts x weekly profile, and the KDE with a validated bandwidth."""

import numpy as np
import pandas as pd
import pytest

from pipeline.gold.baselines import (
    choose_kde_bandwidth,
    fit_history_baseline,
    fit_kde_baseline,
    hour_of_week,
    hour_of_week_profile,
    project,
)
from pipeline.core.errors import AccidentsError

HOURS_2023 = pd.date_range("2023-01-01", "2024-01-01", freq="h", inclusive="left")


def _points_on_a_line(n=41, spacing_deg=0.005):
    # Road points every ~500 m eastwards from Nouméa.
    return pd.DataFrame({
        "point_id": np.arange(100, 100 + n),
        "lat": np.full(n, -22.27),
        "lon": 166.40 + spacing_deg * np.arange(n),
    })


def test_hour_of_week_and_profile():
    times = pd.to_datetime(["2024-01-01 00:00", "2024-01-07 23:00", "2024-01-08 08:30"])  # Mon, Sun, Mon
    assert list(hour_of_week(times)) == [0, 167, 8]
    profile = hour_of_week_profile(times, pseudocount=0)
    assert profile.sum() == pytest.approx(1)
    assert profile[0] == pytest.approx(1 / 3) and profile[8] == pytest.approx(1 / 3)
    smoothed = hour_of_week_profile(times, pseudocount=0.5)
    assert smoothed.min() > 0


def test_history_baseline_reproduces_counts_times_profile():
    points = _points_on_a_line(3)
    # Two fit years; point 100 has 4 accidents, point 101 has 2, point 102 none; all on Mondays 08h.
    mondays = pd.to_datetime(["2021-03-01 08:10", "2021-03-08 08:20", "2022-05-02 08:00", "2022-05-09 08:59",
                              "2021-06-07 08:05", "2022-06-06 08:40"])
    accidents = pd.DataFrame({"point_id": [100, 100, 100, 100, 101, 101], "event_time": mondays})
    baseline = fit_history_baseline(points, accidents, fit_years=[2021, 2022], pseudocount=0)
    expected = baseline.expected_counts(HOURS_2023)
    assert expected.shape == (3, len(HOURS_2023))
    assert expected.dtype == np.float32
    # yearly totals = counts / 2 years
    np.testing.assert_allclose(expected.sum(axis=1), [2.0, 1.0, 0.0], rtol=1e-5)
    monday_8 = (HOURS_2023.dayofweek == 0) & (HOURS_2023.hour == 8)
    n_mondays = int(monday_8.sum())
    assert n_mondays == 52
    np.testing.assert_allclose(expected[0, monday_8], 2.0 / n_mondays, rtol=1e-5)
    assert expected[:, ~monday_8].max() == 0


def test_kde_bandwidth_is_chosen_on_validation_data():
    points = _points_on_a_line()
    xy = project(points["lat"], points["lon"])
    cluster = xy[[20, 20, 21, 20, 19]]  # fit accidents: a tight cluster in the middle
    # Validation accidents on the cluster -> the narrowest bandwidth wins.
    best, scores = choose_kde_bandwidth(xy, cluster, np.array([20, 21, 20]))
    assert best == 250.0
    assert scores[250.0] > scores[5000.0]
    # Validation accidents spread along the whole road -> the widest bandwidth wins.
    best, _ = choose_kde_bandwidth(xy, cluster, np.array([0, 5, 10, 30, 35, 40]))
    assert best == 5000.0


def test_kde_baseline_ranks_dense_cluster_above_empty_area():
    points = _points_on_a_line()
    rng = np.random.default_rng(1)
    rows = []
    for year in (2020, 2021, 2022):
        for _ in range(20):  # dense cluster around points 5..7
            p = int(rng.integers(5, 8))
            rows.append((year, p))
        rows.append((year, 30))  # one isolated accident a year
    frame = pd.DataFrame(rows, columns=["year", "index"])
    accidents = pd.DataFrame({
        "year": frame["year"],
        "point_id": points["point_id"].to_numpy()[frame["index"]],
        "lat": points["lat"].to_numpy()[frame["index"]],
        "lon": points["lon"].to_numpy()[frame["index"]],
        "event_time": pd.to_datetime(frame["year"].astype(str) + "-04-01 17:00"),
    })
    baseline = fit_kde_baseline(points, accidents, fit_years=[2020, 2021, 2022], valid_year=2022)
    yearly = baseline.point_yearly
    assert yearly[6] > yearly[30] > yearly[20]
    assert yearly[6] > 10 * yearly[40]
    assert yearly.sum() == pytest.approx(21.0)  # the fit years' mean yearly total
    assert baseline.params["bandwidth_m"] in (250.0, 500.0, 1000.0, 2000.0, 5000.0)
    assert baseline.expected_counts(HOURS_2023).sum() == pytest.approx(21.0, rel=1e-4)


def test_baselines_reject_unknown_points_and_empty_validation():
    points = _points_on_a_line(3)
    accidents = pd.DataFrame({"point_id": [999], "event_time": pd.to_datetime(["2022-01-01"])})
    with pytest.raises(AccidentsError, match="999"):
        fit_history_baseline(points, accidents, [2022])
    xy = project(points["lat"], points["lon"])
    with pytest.raises(AccidentsError, match="validation year"):
        choose_kde_bandwidth(xy, xy, np.array([], dtype=int))
