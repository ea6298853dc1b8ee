"""Skill tools: Poisson likelihood over cell-hours, day-level paired bootstrap, demo references."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import poisson

from pipeline.evaluation.metrics import Ranking, hit_rate_and_pai
from pipeline.evaluation.skill import (
    daily_skill,
    loglik_by_hour,
    loglik_per_accident,
    paired_bootstrap,
    poisson_rate,
    separable_oracle,
    weather_blind_oracle,
)

HOURS = pd.date_range("2024-01-01", "2024-03-01", freq="h", inclusive="left")


def _world(seed=0, n_points=30):
    rng = np.random.default_rng(seed)
    where = rng.gamma(0.5, 1.0, n_points)
    when = 1 + 3 * np.isin(HOURS.hour, [7, 8, 17])
    truth = np.outer(where, when) * 40 / np.outer(where, when).sum()
    counts = rng.poisson(truth).astype(np.float32)
    return truth.astype(np.float32), counts


def test_loglik_matches_scipy_and_probabilities_use_the_poisson_rate():
    truth, counts = _world()
    expected = poisson.logpmf(counts, truth).sum(axis=0)
    np.testing.assert_allclose(loglik_by_hour(truth, counts), expected, rtol=1e-5)
    prob = -np.expm1(-truth)
    np.testing.assert_allclose(poisson_rate(prob, True), truth, rtol=1e-4)


def test_daily_hits_sum_to_the_fractional_hit_rate_and_truth_beats_a_flat_forecast():
    truth, counts = _world(1)
    daily = daily_skill(truth, counts, HOURS, Ranking(truth), (0.05,))
    assert daily.accidents.size == 60 and daily.accidents.sum() == counts.sum()
    assert daily.hits["5pct"].sum() / counts.sum() == pytest.approx(
        hit_rate_and_pai(truth, counts, (0.05,))["hit_rate_5pct"])
    flat = np.full_like(truth, truth.mean())  # every cell tied: 5 % of each accident counts
    flat_daily = daily_skill(flat, counts, HOURS, Ranking(flat), (0.05,))
    assert flat_daily.hits["5pct"].sum() == pytest.approx(0.05 * counts.sum(), rel=1e-3)
    assert loglik_per_accident(daily) > loglik_per_accident(flat_daily)


def test_paired_bootstrap_centres_on_the_difference_and_is_zero_for_a_copy():
    truth, counts = _world(2)
    flat = np.full_like(truth, truth.mean())
    daily = {name: daily_skill(m, counts, HOURS, Ranking(m), (0.05,))
             for name, m in (("model", truth), ("copy", truth), ("flat", flat))}
    out, best = paired_bootstrap(daily, "model", ["flat"], (0.05,), n_boot=300)
    assert best == {"loglik_per_accident": "flat", "cell_pai_5pct": "flat"}
    assert out["loglik_per_accident_minus_best_baseline_lo"] > 0  # the truth clearly beats a flat map
    assert out["cell_pai_5pct_minus_best_baseline_lo"] <= out["cell_pai_5pct_minus_best_baseline"] \
        <= out["cell_pai_5pct_minus_best_baseline_hi"]
    same, _ = paired_bootstrap(daily, "model", ["copy", "flat"], (0.05,), n_boot=100)
    assert same["loglik_per_accident_minus_best_baseline"] == 0
    assert same["loglik_per_accident_minus_best_baseline_lo"] == same["loglik_per_accident_minus_best_baseline_hi"] == 0


def test_separable_oracle_keeps_space_and_hour_of_week_but_drops_their_interaction():
    where = np.array([1.0, 3.0])
    oracle = np.outer(where, np.ones(len(HOURS)))
    oracle[0, HOURS.hour == 8] *= 10  # point 0 alone peaks at 08h
    sep = separable_oracle(oracle, HOURS)
    assert sep.sum() == pytest.approx(oracle.sum(), rel=1e-5)
    np.testing.assert_allclose(sep.sum(axis=1), oracle.sum(axis=1), rtol=1e-5)
    at_8 = HOURS.hour == 8
    ratio_sep = sep[1, at_8].mean() / sep[1, ~at_8].mean()
    assert ratio_sep > 1.5  # point 1 inherits a peak it does not have


class WeatherTruth:
    """lambda = 1 per cell-hour in normal weather, x3 in rain (code 2); January rains half the time."""

    weather = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-02-01", "2024-02-02"]),
                            "hour": [0, 0, 0, 0], "atm": [1, 2, 1, 1]})

    def expected_counts(self, lat, lon, hours, atm=None):
        factor = np.where(np.broadcast_to(atm, (len(hours),)) == 2, 3.0, 1.0)
        return np.outer(np.ones(len(lat)), factor)


def test_weather_blind_oracle_averages_the_months_weather():
    blind = weather_blind_oracle(WeatherTruth(), [0.0, 1.0], [0.0, 1.0], HOURS)
    january = HOURS.month == 1
    np.testing.assert_allclose(blind[:, january], 2.0)  # (1 + 3) / 2
    np.testing.assert_allclose(blind[:, ~january], 1.0)
