"""The local champion copy: used while the SQLite store is unchanged, never after a registry change."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from pipeline.core.settings import Settings
from pipeline.gold import champion_cache, registry
from pipeline.usecases import predictions as usecase
from tests.support.intensity import fitted_world


@pytest.fixture(scope="module")
def fitted():
    return fitted_world()


def store(tmp_path) -> str:
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"registry v1")
    return f"sqlite:///{db}"


def test_copy_is_used_while_the_store_is_unchanged(tmp_path, fitted):
    from pipeline.gold.intensity.grid import ScoringGrid
    from pipeline.gold.predictions import day_hours

    world, model, record = fitted
    uri, cache = store(tmp_path), tmp_path / "cache"
    stamp = champion_cache.store_stamp(uri)
    assert champion_cache.save_champion(cache, uri, "m", model, "4", record, stamp)
    assert sorted(p.name for p in cache.iterdir()) == ["champion.json", "v4"]
    loaded, version, loaded_record = champion_cache.load_cached_champion(cache, uri, "m")
    assert version == "4" and loaded_record == record and loaded.kind == model.kind
    grid = ScoringGrid(world.points, day_hours([dt.date(2026, 3, 2)]), world.history(), "988")
    np.testing.assert_array_equal(loaded.expected_counts(grid), model.expected_counts(grid))
    assert champion_cache.load_cached_champion(cache, uri, "other-model") is None


def test_a_registry_change_invalidates_the_copy(tmp_path, fitted):
    _, model, record = fitted
    uri, cache = store(tmp_path), tmp_path / "cache"
    assert champion_cache.save_champion(cache, uri, "m", model, "4", record, champion_cache.store_stamp(uri))
    (tmp_path / "mlflow.db").write_bytes(b"registry v2, alias moved")
    assert champion_cache.load_cached_champion(cache, uri, "m") is None


def test_nothing_is_kept_when_the_store_changed_during_the_load(tmp_path, fitted):
    _, model, record = fitted
    uri, cache = store(tmp_path), tmp_path / "cache"
    stamp = champion_cache.store_stamp(uri)
    (tmp_path / "mlflow.db").write_bytes(b"a new champion registered meanwhile")
    assert not champion_cache.save_champion(cache, uri, "m", model, "4", record, stamp)
    assert champion_cache.load_cached_champion(cache, uri, "m") is None


def test_a_damaged_copy_only_costs_the_registrys_time(tmp_path, fitted):
    _, model, record = fitted
    uri, cache = store(tmp_path), tmp_path / "cache"
    assert champion_cache.save_champion(cache, uri, "m", model, "4", record, champion_cache.store_stamp(uri))
    (cache / "v4" / "model.json").write_text("{not json")
    assert champion_cache.load_cached_champion(cache, uri, "m") is None


def test_a_tracking_server_is_always_asked(tmp_path, fitted):
    _, model, record = fitted
    uri = "http://127.0.0.1:5000"
    assert champion_cache.store_stamp(uri) is None
    assert not champion_cache.save_champion(tmp_path, uri, "m", model, "4", record, None)
    assert champion_cache.load_cached_champion(tmp_path, uri, "m") is None


def test_load_model_asks_mlflow_once_then_uses_the_copy(tmp_path, fitted, monkeypatch):
    _, model, record = fitted
    settings = Settings(data_dir=tmp_path / "data")
    uri = store(tmp_path)
    calls = []

    def fake_load_champion(tracking_uri, name):
        calls.append(name)
        return model, "7", record

    monkeypatch.setattr(registry, "load_champion", fake_load_champion)
    first = usecase.load_model(settings, tracking_uri=uri)
    second = usecase.load_model(settings, tracking_uri=uri)
    assert calls == [settings.registered_model]
    assert first[1:] == second[1:] == (settings.registered_model, "7")
    assert second[0].kind == model.kind and second[0] is not model  # the copy, read back from the cache
    (tmp_path / "mlflow.db").write_bytes(b"new version registered")
    usecase.load_model(settings, tracking_uri=uri)
    assert len(calls) == 2
