"""Stored models: every kind round-trips to the same counts, nothing is pickled, and the publication
gate refuses uncalibrated models and the predecessor's classifiers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.gold.intensity.bundle import ensure_publishable, load_model, publishable, read_document, save_model
from pipeline.gold.intensity.competition import compete
from pipeline.gold.intensity.grid import ScoringGrid


@pytest.fixture(scope="module")
def competed(world):
    return compete(world.inputs, 2023, trials=2, refit="all")


@pytest.mark.parametrize("name", ["hotspot", "glm", "catboost", "lightgbm", "xgboost", "blend"])
def test_every_kind_round_trips_natively(competed, world, tmp_path, name):
    model = competed.models[name]
    folder = save_model(model, tmp_path / name, {"validation_expected_observed": 1.0})
    files = {p.suffix for p in folder.rglob("*") if p.is_file()}
    assert files <= {".json", ".txt", ".ubj", ".cbm"}, files  # model.json and the libraries' own formats
    assert not any(b"pickle" in p.read_bytes()[:200] for p in folder.rglob("*.json"))
    again = load_model(folder)
    grid = ScoringGrid(world.inputs.points, world.hours[:48], world.weather, "988")
    assert np.allclose(model.expected_counts(grid), again.expected_counts(grid), rtol=1e-10)
    assert again.kind == model.kind and tuple(again.weather_codes) == tuple(model.weather_codes)
    assert read_document(folder)["record"] == {"validation_expected_observed": 1.0}


def test_the_gate_refuses_an_uncalibrated_model_and_says_why():
    assert publishable({"validation_expected_observed": 1.1}) == (True, "")
    allowed, why = publishable({"validation_expected_observed": 38.7})
    assert not allowed and "38.70" in why and "0.8-1.25" in why
    with pytest.raises(AccidentsError, match="version 7 cannot be published: its validation expected/observed is 0.50"):
        ensure_publishable({"validation_expected_observed": 0.5}, "version 7")
    assert not publishable({})[0]


def test_a_case_control_classifier_is_never_read_as_an_intensity_model(tmp_path):
    (tmp_path / "bundle.json").write_text(json.dumps({"format_version": 1, "algorithm": "lightgbm"}))
    with pytest.raises(AccidentsError, match="case-control classifier .* cannot be published"):
        read_document(tmp_path)
