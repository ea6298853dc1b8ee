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


def test_weekly_profile_smoothing_keeps_mass_and_separable_drops_interaction():
    from pipeline.gold.baselines import separable_weekly_counts, smooth_weekly_counts, smoothed_profile

    counts = np.zeros(168)
    counts[0] = 8.0  # Monday 00h only
    smoothed = smooth_weekly_counts(counts, 1)
    assert smoothed.sum() == pytest.approx(8.0)
    assert smoothed[167] == pytest.approx(2.0) and smoothed[1] == pytest.approx(2.0)  # wraps Sunday 23h
    grid = np.zeros((7, 24))
    grid[0, 8] = grid[6, 20] = 10.0  # Monday 08h and Sunday 20h
    separable = separable_weekly_counts(grid.reshape(-1)).reshape(7, 24)
    assert separable[0, 20] == pytest.approx(5.0) and separable[6, 8] == pytest.approx(5.0)
    assert smoothed_profile(counts, 2, 0.5).sum() == pytest.approx(1.0)


def test_profile_and_shrinkage_are_chosen_on_the_validation_year():
    from pipeline.gold.baselines import choose_profile, choose_shrink_weight

    # accidents always Monday 08h: the unsmoothed, interaction-keeping profile wins
    fit = pd.to_datetime(["2021-03-01 08:00"] * 20 + ["2021-03-07 20:00"] * 20)
    valid = pd.to_datetime(["2022-03-07 08:00"] * 10)
    choice, _ = choose_profile(fit, valid)
    assert choice == {"smoothing_passes": 0, "separable_weight": 0.0}
    # validation accidents at a point with no past count but a high KDE share: shrink towards the KDE
    count_shares = np.array([1.0, 0.0, 0.0])
    kde_shares = np.array([0.5, 0.45, 0.05])
    (weight, floor), _ = choose_shrink_weight(count_shares, kde_shares, np.array([0, 1, 1]))
    assert 0 < weight <= 1 and floor == 0.0
    (weight_counts, floor_counts), _ = choose_shrink_weight(count_shares, kde_shares, np.array([0, 0, 0]))
    assert weight_counts == 0.0 and floor_counts == 0.0
    # a validation accident where neither counts nor KDE put any weight: the uniform floor is taken
    (_, floor_far), _ = choose_shrink_weight(np.array([1.0, 0.0, 0.0]), np.array([1.0, 0.0, 0.0]),
                                             np.array([0, 0, 2]))
    assert floor_far > 0


def test_shrunk_baseline_spreads_counts_to_neighbours_and_totals_the_yearly_mean():
    from pipeline.gold.baselines import fit_shrunk_baseline

    points = _points_on_a_line()
    rng = np.random.default_rng(0)
    rows = []
    for year in (2020, 2021, 2022, 2023):
        # a few accidents a year along points 110-129 (a ~10 km stretch): each year hits other points
        for _ in range(6):
            pid = int(rng.integers(110, 130))
            rows.append((year, pid, pd.Timestamp(f"{year}-02-01") + pd.Timedelta(hours=int(rng.integers(0, 8000)))))
    acc = pd.DataFrame(rows, columns=["year", "point_id", "event_time"]).merge(points, on="point_id")
    baseline = fit_shrunk_baseline(points, acc, fit_years=[2020, 2021, 2022, 2023], valid_year=2023)
    assert baseline.name == "baseline_shrunk"
    assert baseline.point_yearly.sum() == pytest.approx(6.0)  # 24 accidents over 4 years
    assert baseline.params["kde_weight"] > 0
    # a point of the stretch with no accident of its own keeps some risk; a far point keeps almost none
    unseen = sorted(set(range(110, 130)) - set(acc["point_id"]))
    assert unseen and baseline.point_yearly[unseen[0] - 100] > 1e-2 > baseline.point_yearly[140 - 100]
    assert set(baseline.params) >= {"kde_weight", "bandwidth_m", "smoothing_passes", "separable_weight"}
    with pytest.raises(AccidentsError, match="before validation year"):
        fit_shrunk_baseline(points, acc, fit_years=[2020], valid_year=2020)


def test_kde_shares_equal_an_exact_gaussian_kde_and_far_points_keep_a_share():
    from sklearn.neighbors import KernelDensity

    from pipeline.gold.baselines import KDE_BLOCK_PAIRS, kde_log_densities, kde_point_shares

    rng = np.random.default_rng(3)
    accidents = rng.normal(0, 3000, size=(700, 2))
    points = np.vstack([rng.uniform(-9000, 9000, size=(300, 2)), [[400_000.0, 0.0]]])  # the last one far away
    for bandwidth in (250.0, 2000.0):
        log_density = KernelDensity(kernel="gaussian", bandwidth=bandwidth).fit(accidents).score_samples(points[:-1])
        expected = np.exp(log_density - log_density.max())
        shares = kde_point_shares(accidents, points, bandwidth)
        np.testing.assert_allclose(shares[:-1] / shares[:-1].sum(), expected / expected.sum(), rtol=1e-9, atol=1e-15)
    assert KDE_BLOCK_PAIRS > len(accidents)  # blocks of points: every block sees every accident
    far = kde_log_densities(accidents, points[-1:], [250.0])[0, 0]
    assert np.isfinite(far)  # the far point's density is tiny, not -inf


def test_a_baselines_yearly_rate_over_one_week_gives_a_weeks_share_not_the_year():
    # spreading a yearly rate over the scored hours alone put a whole year into any shorter span
    from pipeline.gold.baselines import HotspotBaseline

    baseline = HotspotBaseline("history", np.array([1]), np.array([365.0]), np.linspace(1.0, 2.0, 168), {})
    year = pd.date_range("2023-01-01", "2024-01-01", freq="h", inclusive="left")
    week = pd.date_range("2023-03-06", periods=7 * 24, freq="h")
    assert baseline.expected_counts(year).sum() == pytest.approx(365.0, rel=1e-5)
    assert baseline.expected_counts(week).sum() == pytest.approx(7.0, rel=0.02)
