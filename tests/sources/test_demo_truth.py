"""The demo's road network (osmnx-loadable) and its true intensity (load_truth / expected_counts)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.sources.demo.generator import generate_demo
from pipeline.sources.demo.model import load_truth


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return generate_demo(tmp_path_factory.mktemp("demo"), years=[2022, 2023], seed=11, scale=1.0)


@pytest.fixture(scope="module")
def truth(demo):
    return load_truth(demo.out_dir)


def road_points(sites: pd.DataFrame, cell: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the 0.02 degree cells that contain road sites (a superset of silver.road_points)."""
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


@pytest.fixture(scope="module")
def silver_points(demo):
    """silver.road_points as the pipeline builds them from the demo's roads.osm (0.02 deg, 200 m)."""
    from pipeline.sources.osm import load_roads_from_file
    from pipeline.silver.road_points import build_road_points

    roads = load_roads_from_file(demo.out_dir / "roads.osm")
    return build_road_points(roads, department="988", grid_step=0.02, buffer_meters=200)


def demo_accidents(out_dir) -> pd.DataFrame:
    """Located New Caledonia accidents of the demo files (accident_id, lat, lon, com)."""
    frames = []
    for path in sorted(out_dir.glob("ca*cteristiques-*.csv")):
        encoding = "latin-1" if path.name.endswith("2019.csv") else "utf-8-sig"
        frames.append(pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding=encoding)
                      .rename(columns={"Accident_Id": "Num_Acc"}))
    cara = pd.concat(frames, ignore_index=True)
    cara = cara[(cara["dep"] == "988") & (cara["lat"] != "") & (cara["long"] != "")]
    lat = cara["lat"].str.replace(",", ".").astype(float)
    lon = cara["long"].str.replace(",", ".").astype(float)
    inside = lat.between(-23.0, -19.5) & lon.between(163.5, 168.0)  # defective rows are out of bounds
    return pd.DataFrame({"accident_id": cara["Num_Acc"], "lat": lat, "lon": lon, "com": cara["com"]})[inside]


def test_network_yields_a_realistic_road_grid(silver_points):
    # The real OpenStreetMap network of New Caledonia keeps ~1,500 cells of 0.02 degree.
    assert 1_000 <= len(silver_points) <= 1_600


def test_every_commune_has_road_points(silver_points):
    from pipeline.sources.demo.geography import COMMUNES, nearest_commune

    nearest = nearest_commune(silver_points["lat"].to_numpy(), silver_points["lon"].to_numpy())
    counts = np.bincount(nearest, minlength=len(COMMUNES))
    missing = [c.name for c, n in zip(COMMUNES, counts, strict=True) if n == 0]
    assert not missing  # islands (Maré, Lifou, Ouvéa, Île des Pins, Bélep) included
    # and every commune centre has a road point within one cell diagonal (~3 km)
    from pipeline.sources.demo.geography import distance_m

    centre = np.array([(c.lat, c.lon) for c in COMMUNES])
    d = distance_m(centre[:, None, 0], centre[:, None, 1], silver_points["lat"].to_numpy()[None, :],
                   silver_points["lon"].to_numpy()[None, :]).min(axis=1)
    assert d.max() < 3_000


def test_accidents_lie_close_to_road_points(demo, silver_points):
    from pipeline.silver.road_points import snap_accidents

    snapped = snap_accidents(demo_accidents(demo.out_dir), silver_points)
    assert len(snapped) > 400
    # A point evenly spread over a covered 0.02 degree cell (~2.2 x 2.1 km) lies a median 0.85 km
    # from its centre: that is the floor; accidents in cells without a point would push it above 1 km.
    assert snapped["dist_m"].median() < 950
    assert snapped["dist_m"].quantile(0.9) < 1_700
    assert (snapped["dist_m"] > 5_000).mean() < 0.01


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


def test_junctions_and_bends_raise_a_sites_weight():
    from pipeline.sources.demo.geography import RoadNetwork, Way
    from pipeline.sources.demo.model import BEND_FACTOR, JUNCTION_FACTOR, geometry_factor

    d = 0.009  # ~1 km of latitude
    lat = np.array([-22.0, -22.0, -22.0, -22.0 + d, -22.0 - d, -21.0, -21.0 + d, -21.0 + d])
    lon = np.array([166.0, 166.0 - d, 166.0 + d, 166.0, 166.0, 165.0, 165.0, 165.0 + d])

    def way(i, ids):
        return Way(i, ids, "primary", 90, f"w{i}", None, True, None, False)

    # node 1 is a junction (three ways end there, a fourth passes through); node 7 is a right-angle bend
    network = RoadNetwork(lat, lon, (way(1, (2, 1, 3)), way(2, (1, 4)), way(3, (1, 5)), way(4, (6, 7, 8))))
    sites_lat = np.array([-22.0, -22.0 + d / 2, -21.0 + d, -21.0 + d / 2])
    sites_lon = np.array([166.0 + 0.0005, 166.0, 165.0 + 0.0005, 165.0])
    factor, near, bend = geometry_factor(network, sites_lat, sites_lon)
    assert near.tolist() == [True, False, False, False]
    assert bend[2] == pytest.approx(90.0) and bend[3] == 0.0
    assert factor.tolist() == pytest.approx([JUNCTION_FACTOR, 1.0, BEND_FACTOR, 1.0])
