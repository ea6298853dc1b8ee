"""The local champion copy: used while the SQLite store is unchanged, never after a registry change."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.settings import Settings
from pipeline.gold import champion_cache, registry
from pipeline.usecases import predictions as usecase
from tests.support.synthetic_model import synthetic_accidents, synthetic_points, train_synthetic_model


@pytest.fixture(scope="module")
def model():
    points = synthetic_points(50)
    return train_synthetic_model(points, synthetic_accidents(points), n_rows=2_000), points


def store(tmp_path) -> str:
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"registry v1")
    return f"sqlite:///{db}"


def test_copy_is_used_while_the_store_is_unchanged(tmp_path, model):
    risk_model, points = model
    uri, cache = store(tmp_path), tmp_path / "cache"
    stamp = champion_cache.store_stamp(uri)
    assert champion_cache.save_champion(cache, uri, "m", risk_model, "4", stamp)
    loaded, version = champion_cache.load_cached_champion(cache, uri, "m")
    assert version == "4"
    rows = points.head(3).assign(event_time=np.datetime64("2024-05-01T08"), atm=1)
    from pipeline.core.features import AccidentHistory, compute_features

    feats = compute_features(rows, AccidentHistory.point_in_time(synthetic_accidents(points), 3))
    np.testing.assert_array_equal(loaded.predict_probability(feats), risk_model.predict_probability(feats))
    assert champion_cache.load_cached_champion(cache, uri, "other-model") is None


def test_a_registry_change_invalidates_the_copy(tmp_path, model):
    uri, cache = store(tmp_path), tmp_path / "cache"
    assert champion_cache.save_champion(cache, uri, "m", model[0], "4", champion_cache.store_stamp(uri))
    (tmp_path / "mlflow.db").write_bytes(b"registry v2, alias moved")
    assert champion_cache.load_cached_champion(cache, uri, "m") is None


def test_nothing_is_kept_when_the_store_changed_during_the_load(tmp_path, model):
    uri, cache = store(tmp_path), tmp_path / "cache"
    stamp = champion_cache.store_stamp(uri)
    (tmp_path / "mlflow.db").write_bytes(b"a new champion registered meanwhile")
    assert not champion_cache.save_champion(cache, uri, "m", model[0], "4", stamp)
    assert champion_cache.load_cached_champion(cache, uri, "m") is None


def test_a_tracking_server_is_always_asked(tmp_path, model):
    uri = "http://127.0.0.1:5000"
    assert champion_cache.store_stamp(uri) is None
    assert not champion_cache.save_champion(tmp_path, uri, "m", model[0], "4", None)
    assert champion_cache.load_cached_champion(tmp_path, uri, "m") is None


def test_load_model_asks_mlflow_once_then_uses_the_copy(tmp_path, model, monkeypatch):
    settings = Settings(data_dir=tmp_path / "data")
    uri = store(tmp_path)
    calls = []

    def fake_load_champion(tracking_uri, name):
        calls.append(name)
        return model[0], "7"

    monkeypatch.setattr(registry, "load_champion", fake_load_champion)
    first = usecase.load_model(settings, tracking_uri=uri)
    second = usecase.load_model(settings, tracking_uri=uri)
    assert calls == [settings.registered_model]
    assert first[1:] == second[1:] == (settings.registered_model, "7")
    (tmp_path / "mlflow.db").write_bytes(b"new version registered")
    usecase.load_model(settings, tracking_uri=uri)
    assert len(calls) == 2
