"""The Poisson GLM: what it recovers, what it refuses, how it is stored."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.gold.intensity.glm import PoissonGLM
from pipeline.gold.intensity.grid import ScoringGrid
from tests.gold.intensity.conftest import feature_world


def fit(world, years=None, **penalties):
    data = world.inputs.counts(years or sorted(world.inputs.accidents["year"].unique()))
    return PoissonGLM.fit(data, world.inputs.points, space=penalties.get("space", 0.3),
                          time=penalties.get("time", 0.3), year_counts=world.inputs.year_counts(data.years))


def scenario(world, model, code):
    return model.expected_counts(ScoringGrid(world.inputs.points, world.hours[:24 * 28], code, "988"))


def test_it_recovers_the_rain_effect_and_the_level(world):
    model = fit(world)
    grid = ScoringGrid(world.inputs.points, world.hours, world.weather, "988")
    expected = model.expected_counts(grid)
    assert expected.sum() == pytest.approx(world.inputs.accidents.shape[0], rel=1e-6)  # Poisson GLM: totals match
    assert expected.sum() / world.truth.sum() == pytest.approx(1.0, abs=0.08)
    light = scenario(world, model, 2).sum() / scenario(world, model, 1).sum()
    heavy = scenario(world, model, 3).sum() / scenario(world, model, 1).sum()
    assert light == pytest.approx(1.4, rel=0.25) and heavy == pytest.approx(2.0, rel=0.3)
    # the ranking of places follows the truth's
    corr = np.corrcoef(np.log(expected.sum(axis=1)), np.log(world.truth.sum(axis=1)))[0, 1]
    assert corr > 0.9


def test_rain_that_seems_to_lower_risk_is_held_at_no_effect():
    world = feature_world(seed=4, rain_effect=(0.6, 0.5))  # data where rain looks protective
    model = fit(world)
    normal, light, heavy = (scenario(world, model, code) for code in (1, 2, 3))
    assert (light >= normal).all() and (heavy >= light).all()
    assert np.allclose(light, normal)  # clamped at its bound: no effect rather than a negative one


def test_a_weather_never_seen_in_training_is_not_a_known_code(world):
    model = fit(world)
    assert set(model.weather_codes) == {1, 2, 3}
    grid = ScoringGrid(world.inputs.points, world.hours[:48], 5, "988")
    series, remapped = grid.weather_for(model.weather_codes)
    assert remapped == 48 * len(world.inputs.points)  # fog is read as normal weather, and counted
    assert np.allclose(model.expected_counts(grid), model.expected_counts(
        ScoringGrid(world.inputs.points, world.hours[:48], 1, "988")))


def test_json_round_trip_gives_the_same_counts(world, tmp_path):
    model = fit(world)
    again = PoissonGLM.from_json(json.loads(json.dumps(model.to_json())))
    grid = ScoringGrid(world.inputs.points, world.hours[:72], world.weather, "988")
    assert np.array_equal(model.expected_counts(grid), again.expected_counts(grid))
