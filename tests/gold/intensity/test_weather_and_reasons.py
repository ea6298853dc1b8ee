"""Weather that cannot lie (monotone rain, no fast road below a slow one) and reasons for hotspots."""

from __future__ import annotations


from pipeline.gold.intensity.boosted import BoostedGLM
from pipeline.gold.intensity.competition import compete
from pipeline.gold.intensity.grid import ScoringGrid
from pipeline.gold.intensity.reasons import model_reasons, time_reference
from pipeline.gold.intensity.terms import point_groups


def scenarios(model, world, hours):
    return {code: model.expected_counts(ScoringGrid(world.inputs.points, hours, code, "988")) for code in (1, 2, 3)}


def test_no_candidate_lets_rain_lower_risk_anywhere(world):
    result = compete(world.inputs, 2023, trials=3, refit="all")
    hours = world.hours[:24 * 14]
    fast = point_groups(world.inputs.points) == 2
    for name, model in result.models.items():
        scored = scenarios(model, world, hours)
        assert (scored[2] >= scored[1] * (1 - 1e-12)).all(), name
        assert (scored[3] >= scored[2] * (1 - 1e-12)).all(), name
        if isinstance(model, BoostedGLM) or name == "glm":
            ratio = {k: scored[k].sum(axis=1) / scored[1].sum(axis=1) for k in (2, 3)}
            # a fast road's rain ratio is never below a slow road's (the fast-road rain terms are >= 0)
            glm_ratio = {k: scenarios(getattr(model, "glm", model), world, hours)[k].sum(axis=1)
                         / scenarios(getattr(model, "glm", model), world, hours)[1].sum(axis=1) for k in (2, 3)}
            assert glm_ratio[3][fast].min() >= glm_ratio[3][~fast].max() - 1e-9
            assert ratio[3].min() >= 1.0


def test_a_hotspot_says_why_it_is_one(world):
    result = compete(world.inputs, 2023, candidates=("glm",))
    model = result.models["glm"]
    points = world.inputs.points
    hours = world.hours[:24]
    grid = ScoringGrid(points, hours, 3, "988")
    expected = model.expected_counts(grid)
    top = int(expected.sum(axis=1).argmax())
    peak = int(expected[top].argmax())
    cells, series = grid.cells_for(model.weather_codes)
    key = cells.keys.iloc[[cells.key_of[series.series_of_point[top], peak]]].reset_index(drop=True)
    reasons = model_reasons(model, points, top, grid.hours[peak], key, time_reference(model, 2024, "988"))
    factors = [r["factor"] for r in reasons]
    assert reasons and all(r["ratio"] >= 1.1 for r in reasons)
    assert reasons == sorted(reasons, key=lambda r: -r["ratio"])
    assert "road length" in factors  # the world's risk grows with the road length a point serves
    assert "rain" in factors and any("heavy rain" in r["detail"] for r in reasons)
