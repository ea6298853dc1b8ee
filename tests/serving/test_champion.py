"""The champion holder: registry loads, the warm-start cache, and a registry that is not there."""

from __future__ import annotations

import os

from pipeline.serving.champion import POINTER, ChampionHolder
from tests.serving.conftest import REGISTERED


def test_warm_start_reuses_the_last_champion_until_the_registry_confirms_it(demo_lake, tmp_path):
    uri = demo_lake.settings.resolved_mlflow_uri
    first = ChampionHolder(uri, REGISTERED, cache_dir=tmp_path)
    assert not first.warm_start()  # nothing cached yet
    assert first.refresh() and first.current().verified and first.current().version == "1"
    assert not first.refresh()  # alias unchanged: nothing reloaded

    restarted = ChampionHolder(uri, REGISTERED, cache_dir=tmp_path)
    assert restarted.warm_start()
    warm = restarted.current()
    assert warm.version == "1" and not warm.verified
    # the same intensity model, read back from its stored form
    assert warm.model.kind == first.current().model.kind == "Poisson GLM"
    assert warm.model.to_json() == first.current().model.to_json()
    assert not restarted.refresh() and restarted.current().verified


def test_cache_for_another_model_or_corrupt_is_ignored(tmp_path):
    (tmp_path / POINTER).write_text('{"name": "accidents-risk-973", "version": "4"}')
    assert not ChampionHolder("sqlite:///nowhere.db", REGISTERED, cache_dir=tmp_path).warm_start()
    (tmp_path / POINTER).write_text("{not json")
    assert not ChampionHolder("sqlite:///nowhere.db", REGISTERED, cache_dir=tmp_path).warm_start()


def test_a_registry_without_champion_is_an_error_not_a_crash(tmp_path):
    holder = ChampionHolder(f"sqlite:///{tmp_path / 'mlflow.db'}", REGISTERED)
    assert not holder.refresh() and not holder.loaded
    assert "no champion" in holder.last_error


def test_an_unchanged_sqlite_store_is_not_asked_again(demo_lake, tmp_path, monkeypatch):
    from pipeline.gold import registry

    holder = ChampionHolder(demo_lake.settings.resolved_mlflow_uri, REGISTERED, cache_dir=tmp_path)
    assert holder.refresh()
    asked = []
    monkeypatch.setattr(registry, "champion_version", lambda *a: asked.append(a) or "1")
    assert not holder.refresh() and asked == []  # store file untouched: no registry query
    db = demo_lake.settings.resolved_mlflow_uri.removeprefix("sqlite:///")
    os.utime(db, ns=(1, 1))  # any write to the store changes its stamp
    assert not holder.refresh() and len(asked) == 1
