from __future__ import annotations

import pytest

import pipeline.sources.select as select
from pipeline.core.errors import AccidentsError
from pipeline.core.settings import Settings
from pipeline.sources.select import DEMO_YEARS, DemoSource, demo_files_dir, open_source


def test_demo_is_generated_once_over_its_whole_span_and_reused(tmp_path, monkeypatch):
    settings = Settings(data_dir=tmp_path)
    calls = []
    real = select.generate_demo
    monkeypatch.setattr(select, "generate_demo", lambda *a, **k: calls.append(k["years"]) or real(*a, **k))
    source = open_source("demo", settings, seed=3, scale=1.0)
    files = source.files_for_years([2023])
    assert source.label == "demo" and source.synthetic and list(files) == [2023]
    assert calls == [DEMO_YEARS]  # one year is read from the full span's generation
    folder = demo_files_dir(settings, 3, 1.0)
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    all_files = open_source("demo", settings, seed=3, scale=1.0).files_for_years(list(DEMO_YEARS))
    assert len(calls) == 1 and sorted(all_files) == list(DEMO_YEARS)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert all_files[2023] == files[2023]


def test_demo_outside_its_span_is_a_clear_error(tmp_path):
    with pytest.raises(AccidentsError, match="year 2018: the demo covers 2019-2024"):
        DemoSource(Settings(data_dir=tmp_path), seed=3).files_for_years([2018, 2019])


def test_unknown_source_names_the_parameter(tmp_path):
    with pytest.raises(AccidentsError, match=r"source='nowhere': unknown; expected 'demo', 'datagouv' or an existing folder"):
        open_source("nowhere", Settings(data_dir=tmp_path))


def test_each_source_knows_its_roads_and_truth(tmp_path):
    settings = Settings(data_dir=tmp_path)
    folder = tmp_path / "baac"
    folder.mkdir()
    assert open_source(str(folder), settings).roads_file() is None
    (folder / "roads.osm").write_text("<osm/>")
    assert open_source(str(folder), settings).roads_file() == folder / "roads.osm"
    assert open_source(str(folder), settings).truth() is None
    assert open_source("datagouv", settings).roads_file() is None
    demo = open_source("demo", settings, seed=3)
    assert demo.roads_file() == demo_files_dir(settings, 3, 1.0) / "roads.osm" and demo.truth() is not None


def test_the_generator_fingerprint_follows_the_demo_package_code(tmp_path):
    # it hashed a glob that matched nothing once the generator moved to sources/demo/ (always the
    # empty-input hash): a changed generator never regenerated the cached demo folders
    empty = select._generator_fingerprint(tmp_path)
    assert select._generator_fingerprint() != empty
    (tmp_path / "generator.py").write_text("SEED = 1\n")
    first = select._generator_fingerprint(tmp_path)
    (tmp_path / "generator.py").write_text("SEED = 2\n")
    assert empty != first != select._generator_fingerprint(tmp_path)
