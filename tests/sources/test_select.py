from __future__ import annotations

import pytest

import pipeline.sources.demo as demo
from pipeline.core.errors import AccidentsError
from pipeline.core.settings import Settings
from pipeline.sources.select import DEMO_YEARS, demo_files_dir, resolve_source


def test_demo_is_generated_once_over_its_whole_span_and_reused(tmp_path, monkeypatch):
    settings = Settings(data_dir=tmp_path)
    calls = []
    real = demo.generate_demo
    monkeypatch.setattr(demo, "generate_demo", lambda *a, **k: calls.append(k["years"]) or real(*a, **k))
    files, label = resolve_source("demo", [2023], settings, seed=3, scale=1.0)
    assert label == "demo" and list(files) == [2023]
    assert calls == [DEMO_YEARS]  # one year is read from the full span's generation
    folder = demo_files_dir(settings, 3, 1.0)
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    all_files, _ = resolve_source("demo", list(DEMO_YEARS), settings, seed=3, scale=1.0)
    assert len(calls) == 1 and sorted(all_files) == list(DEMO_YEARS)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert all_files[2023] == files[2023]


def test_demo_outside_its_span_is_a_clear_error(tmp_path):
    with pytest.raises(AccidentsError, match="year 2018: the demo covers 2019-2024"):
        resolve_source("demo", [2018, 2019], Settings(data_dir=tmp_path), seed=3)
