"""The demo's road network (osmnx-loadable) and its true intensity (load_truth / expected_counts)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import AccidentsError
from pipeline.sources.demo import generate_demo
from pipeline.sources.demo_model import load_truth


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return generate_demo(tmp_path_factory.mktemp("demo"), years=[2022, 2023], seed=11, scale=1.0)


@pytest.fixture(scope="module")
def truth(demo):
    return load_truth(demo.out_dir)


def road_points(sites: pd.DataFrame, cell: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the 0.02 degree cells that contain road sites (like silver.road_points)."""
    cells = np.unique(np.floor(sites[["lat", "lon"]].to_numpy() / cell).astype(int), axis=0)
    centres = (cells + 0.5) * cell
    return centres[:, 0], centres[:, 1]


def test_osm_loads_with_osmnx_and_has_the_expected_tags(demo):
    import osmnx as ox

    path = demo.out_dir / "roads.osm"
    assert path.stat().st_size < 2_000_000
    graph = ox.graph_from_xml(path, simplify=False, retain_all=True)
    assert graph.number_of_nodes() == demo.osm_nodes
    edges = [d for _, _, d in graph.edges(data=True)]
    highways = {d["highway"] for d in edges}
    assert {"trunk", "primary", "residential"} <= highways
    with_speed = sum("maxspeed" in d for d in edges)
    assert 0 < with_speed < len(edges)  # some ways tagged, not all
    assert any("lanes" in d for d in edges) and any(d.get("oneway") for d in edges)
    ys = np.array([d["y"] for _, d in graph.nodes(data=True)])
    xs = np.array([d["x"] for _, d in graph.nodes(data=True)])
    assert ys.min() > -23.0 and ys.max() < -19.5 and xs.min() > 163.5 and xs.max() < 168.0
    simplified = ox.graph_from_xml(path, simplify=True, retain_all=True)
    assert 0 < simplified.number_of_edges() < graph.number_of_edges()


def test_network_yields_about_a_thousand_road_cells(truth):
    lat, _ = road_points(truth.sites)
    assert 700 <= len(lat) <= 2_500


def test_truth_files_and_commune_mix(demo, truth):
    folder = demo.out_dir / "demo_truth"
    assert {p.name for p in folder.iterdir()} >= {"sites.parquet", "weather.parquet", "model.json"}
    assert {"site_id", "lat", "lon", "base_rate", "speed_limit", "urban", "com"} <= set(truth.sites.columns)
    assert {"date", "hour", "atm"} <= set(truth.weather.columns)
    model = json.loads((folder / "model.json").read_text())
    assert model["modifiers"]["night_rural_fast"] > 1 and len(model["hour_factor"]) == 24
    assert truth.sites["com"].nunique() == 33
    share = truth.sites.groupby("com")["base_rate"].sum()
    gn = share[["98818", "98817", "98821", "98805"]].sum() / share.sum()
    assert 0.5 < gn < 0.62  # Greater Nouméa ~56 % of the spatial mass


def test_expected_counts_over_a_year_match_the_generated_volume(demo, truth):
    lat, lon = road_points(truth.sites)
    hours = pd.date_range("2023-01-01", "2023-12-31 23:00", freq="h")
    expected = truth.expected_counts(lat, lon, hours)
    assert expected.shape == (len(lat), len(hours)) and (expected >= 0).all()
    total = expected.sum()
    assert total == pytest.approx(222, rel=1e-6)  # the 2023 target at scale 1
    generated = demo.accidents_per_year[2023]
    assert abs(generated - total) < 4 * np.sqrt(total)


def test_expected_counts_follow_the_given_weather(truth):
    lat, lon = road_points(truth.sites)
    hours = pd.date_range("2023-03-01", periods=48, freq="h")
    dry = truth.expected_counts(lat, lon, hours, atm=1)
    wet = truth.expected_counts(lat, lon, hours, atm=3)
    assert (wet.sum() / dry.sum()) > 1.5
    with pytest.raises(AccidentsError, match="weather"):
        truth.expected_counts(lat, lon, pd.date_range("2030-01-01", periods=3, freq="h"))
    future = truth.expected_counts(lat, lon, pd.date_range("2030-01-01", periods=3, freq="h"), atm=1)
    assert future.sum() > 0


def _per_site(truth, hours, atm):
    """Intensity per site (each site is its own point), summed over hours."""
    s = truth.sites
    return truth.expected_counts(s["lat"], s["lon"], pd.DatetimeIndex(hours), atm=atm).sum(axis=1)


def test_night_risk_is_amplified_on_fast_rural_roads(truth):
    s = truth.sites
    night = pd.date_range("2023-03-18 01:00", periods=3, freq="h")  # Saturday 1-3 am
    day = pd.date_range("2023-03-15 14:00", periods=3, freq="h")  # Wednesday 2-4 pm
    ratio = _per_site(truth, night, 1) / _per_site(truth, day, 1)
    rural_fast = (~s["urban"]) & (s["speed_limit"] >= 80)
    urban = s["urban"].to_numpy()
    assert np.median(ratio[rural_fast]) > 2.5 * np.median(ratio[urban])


def test_rain_raises_risk_more_on_fast_roads(truth):
    s = truth.sites
    hours = pd.date_range("2023-03-15 10:00", periods=4, freq="h")
    ratio = _per_site(truth, hours, 3) / _per_site(truth, hours, 1)
    fast = (s["speed_limit"] >= 80).to_numpy()
    assert ratio[fast].min() > ratio[~fast].max()
    assert ratio[~fast].min() > 1.0


def test_rush_hours_are_amplified_in_town(truth):
    s = truth.sites
    rush = pd.date_range("2023-03-15 07:00", periods=2, freq="h")  # Wednesday 7-9 am
    calm = pd.date_range("2023-03-15 13:00", periods=2, freq="h")
    ratio = _per_site(truth, rush, 1) / _per_site(truth, calm, 1)
    assert np.median(ratio[s["urban"].to_numpy()]) > 1.5 * np.median(ratio[~s["urban"].to_numpy()])


def test_load_truth_rejects_a_folder_without_truth(tmp_path):
    with pytest.raises(AccidentsError, match="demo truth"):
        load_truth(tmp_path)
