"""Intervals of published totals: the delta method's gradients, and coverage of the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.gold.intensity.cells import year_hours
from pipeline.gold.intensity.competition import Inputs
from pipeline.gold.intensity.glm import PoissonGLM
from pipeline.gold.intensity.grid import ScoringGrid
from pipeline.gold.intensity.uncertainty import (
    LEVEL_SD_PRIOR, Aggregates, aggregate_intervals, interval_from, yearly_level_sd,
)
from tests.gold.intensity.conftest import make_points, make_weather, simulate


def test_aggregate_gradients_match_finite_differences(world):
    data = world.inputs.counts([2021, 2022])
    model = PoissonGLM.fit(data, world.inputs.points, space=1.0, time=1.0)
    grid = ScoringGrid(world.inputs.points, year_hours([2023])[:72], world.weather, "988")
    days = np.repeat(np.arange(3), 24)
    weights = np.vstack([np.ones(len(world.inputs.points)), np.eye(len(world.inputs.points))[5]])
    rows, periods = np.array([0, 0, 1]), np.array([0, 2, 1])
    totals, gradients = model.aggregate_gradients(grid, weights, rows, periods, days)
    expected = model.expected_counts(grid)
    assert totals[0] == pytest.approx(expected[:, :24].sum()) and totals[2] == pytest.approx(expected[5, 24:48].sum())
    theta = np.concatenate([model.alpha, model.beta])
    for j in (0, 3, len(model.alpha) + 2, len(theta) - 1):
        bumped = np.array(theta)
        bumped[j] += 1e-6
        shifted = PoissonGLM(model.point_terms, model.time_terms, bumped[:len(model.alpha)], bumped[len(model.alpha):],
                             model.covariance, model.penalties, model.train_years)
        moved = shifted.expected_counts(grid)
        numeric = np.array([moved[:, :24].sum(), moved[:, 48:].sum(), moved[5, 24:48].sum()]) - totals
        assert np.allclose(numeric / 1e-6, gradients[:, j], rtol=1e-3, atol=1e-9)


def test_interval_bounds_are_ordered_and_widen_with_the_variance():
    narrow, wide = interval_from(10.0, 0.01), interval_from(10.0, 0.2)
    assert narrow.low < 10.0 < narrow.high and wide.low < narrow.low and wide.high > narrow.high
    assert narrow.count_low <= 10 <= narrow.count_high and wide.count_high >= narrow.count_high


def test_the_level_spread_pools_the_years_with_the_prior():
    assert yearly_level_sd({}) == pytest.approx(LEVEL_SD_PRIOR)  # nothing known: the prior
    agreeing = {2016 + i: 275.0 for i in range(10)}  # ten years within Poisson noise
    assert yearly_level_sd({2020: 275, 2021: 280}) < LEVEL_SD_PRIOR
    assert yearly_level_sd(agreeing) < yearly_level_sd({2020: 275, 2021: 280})  # more evidence, less spread
    assert yearly_level_sd({2019: 275, 2020: 180, 2021: 380, 2022: 260}) > LEVEL_SD_PRIOR  # years that disagree


def test_ninety_percent_intervals_cover_the_truth_about_nine_times_in_ten():
    """Worlds drawn from one known intensity whose yearly level moves as New Caledonia's does (log sd
    LEVEL_SD_PRIOR): each fit's interval for next January's expected total (every point, and one busy
    point) should hold the truth in about 90 % of worlds, neither much less nor all of them."""
    rng = np.random.default_rng(11)
    points = make_points(60, rng)
    fit_years, target_hours = (2021, 2022), year_hours([2023])[:24 * 31]
    log_point = (np.log(4e-4) + np.log(points["road_km"].to_numpy())
                 + 0.6 * np.log1p(points["intersections_100m"].to_numpy()))
    busy = int(np.argmax(log_point))
    hour_shape = 1 + 0.8 * np.exp(-0.5 * ((target_hours.hour.to_numpy() - 17) / 2.5) ** 2)
    hits_total, hits_point, hits_count = [], [], []
    for _ in range(60):
        levels = rng.normal(0.0, LEVEL_SD_PRIOR, len(fit_years) + 1)
        parts = []
        for year, level in zip(fit_years, levels, strict=False):
            hours = year_hours([year])
            parts.append(simulate(points, hours, make_weather(hours, rng), log_point + level, (1.4, 2.0), rng)[0])
        accidents = pd.concat(parts, ignore_index=True)
        accidents["accident_id"] = [f"A{i}" for i in range(len(accidents))]
        fit_hours = year_hours(list(fit_years))
        inputs = Inputs(points, accidents, make_weather(fit_hours, rng), "988", "EPSG:3163")
        model = PoissonGLM.fit(inputs.counts(list(fit_years)), points, space=0.3, time=1.0,
                               year_counts=inputs.year_counts(list(fit_years)))
        grid = ScoringGrid(points, target_hours, 1, "988")
        truth = np.exp(log_point + levels[-1])[:, None] * hour_shape
        weights = np.vstack([np.ones(len(points)), np.eye(len(points))[busy]])
        month = np.zeros(len(target_hours), dtype=int)
        total, one = aggregate_intervals(model, grid, model.expected_counts(grid),
                                         Aggregates(weights, np.array([0, 1]), np.array([0, 0]), month))
        hits_total.append(total.low <= truth.sum() <= total.high)
        hits_point.append(one.low <= truth[busy].sum() <= one.high)
        hits_count.append(total.count_low <= rng.poisson(truth.sum()) <= total.count_high)
    assert 0.78 <= np.mean(hits_total) <= 0.98, np.mean(hits_total)
    assert 0.78 <= np.mean(hits_point) <= 0.98, np.mean(hits_point)
    assert 0.78 <= np.mean(hits_count) <= 0.99, np.mean(hits_count)
