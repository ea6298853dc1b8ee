"""The candidates compete on the validation year's likelihood; the winner is the one that explains it."""

from __future__ import annotations

import numpy as np

from pipeline.gold.intensity.cells import year_hours
from pipeline.gold.intensity.competition import Inputs, compete
from tests.gold.intensity.conftest import feature_world, make_points, make_weather, simulate


def hotspot_world(seed: int = 1) -> Inputs:
    """A few black spots carry most accidents, unrelated to any road feature: only the map sees them."""
    rng = np.random.default_rng(seed)
    points = make_points(120, rng)
    hours = year_hours((2020, 2021, 2022, 2023))
    weather = make_weather(hours, rng)
    log_point = np.full(len(points), np.log(2e-5))
    spots = rng.choice(len(points), 6, replace=False)
    log_point[spots] = np.log(1.2e-3)
    accidents, _ = simulate(points, hours, weather, log_point, (1.0, 1.0), rng)
    return Inputs(points, accidents, weather, "988", "EPSG:3163")


def test_the_map_wins_where_accidents_sit_on_black_spots():
    result = compete(hotspot_world(), 2023, candidates=("hotspot", "glm"))
    assert result.champion == "hotspot", {n: s.loglik_per_accident for n, s in result.scores.items()}
    assert result.fit_years == (2020, 2021, 2022)
    assert set(result.models) == {"hotspot"}  # only the champion is refitted by default
    assert result.models["hotspot"].train_years == (2020, 2021, 2022, 2023)


def test_the_glm_wins_where_road_features_explain_the_risk():
    world = feature_world(n_points=200, years=(2020, 2021, 2022), level=2e-5, seed=2)  # ~200 accidents a year
    result = compete(world.inputs, 2022, candidates=("hotspot", "glm"))
    assert result.champion == "glm", {n: s.loglik_per_accident for n, s in result.scores.items()}
    assert result.scores["glm"].loglik_per_accident > result.scores["hotspot"].loglik_per_accident + 0.1


def test_every_candidate_competes_and_is_refitted_on_request(world):
    result = compete(world.inputs, 2023, trials=2, refit="all")
    assert set(result.scores) == {"hotspot", "glm", "catboost", "lightgbm", "xgboost", "blend"}
    assert result.champion in result.scores and result.scores[result.champion].calibrated
    best = max((s for s in result.scores.values() if s.calibrated), key=lambda s: s.loglik_per_accident)
    assert best.name == result.champion
    assert result.scores["blend"].params["cross_fitted"] is True
    assert abs(sum(result.scores["blend"].params["weights"].values()) - 1.0) < 1e-3  # rounded to 4 places
    assert set(result.models) == set(result.scores)
    for model in result.models.values():
        assert tuple(model.train_years) == (2021, 2022, 2023)


def test_an_uncalibrated_candidate_cannot_become_champion(world):
    inputs = world.inputs
    # the validation year holds three times the accidents of the fit years: every candidate is off
    valid = inputs.accidents[inputs.accidents["year"] == 2023]
    tripled = Inputs(inputs.points, __import__("pandas").concat([inputs.accidents, valid, valid]),
                     inputs.weather, "988", "EPSG:3163")
    result = compete(tripled, 2023, candidates=("hotspot", "glm"))
    assert result.champion is None and result.models == {}
    assert "no model can be published" in result.notes[0]
