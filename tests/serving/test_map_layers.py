"""The offline map's vector layers: simplified roads within a vertex budget, land outline, heat image."""

from __future__ import annotations

import base64
import datetime as dt
import io

import numpy as np
import pandas as pd

from pipeline.core.departments import NEW_CALEDONIA
from pipeline.serving.risk_map import build_risk_map, heat_image, land_outline, road_network
from tests.support.predictions import synthetic_predictions

DAY = dt.date(2026, 3, 2)


def _wiggly(lat0: float, n: int) -> str:
    lon = np.linspace(165.0, 166.0, n)
    lat = lat0 + 0.00001 * np.sin(np.arange(n))  # ~1 m wiggles: simplification removes them
    return "LINESTRING (" + ", ".join(f"{x} {y}" for x, y in zip(lon, lat)) + ")"


def test_road_network_is_simplified_and_keeps_major_roads_first(lake):
    roads = pd.DataFrame({"edge_id": [1, 2, 3], "road_type": ["residential", "primary", "service"],
                          "geometry_wkt": [_wiggly(-21.0, 400), _wiggly(-21.5, 400), _wiggly(-22.0, 400)]})
    lake.register("_roads", roads)
    lake.execute("CREATE TABLE bronze.roads AS SELECT *, '988' AS dep FROM _roads")
    full = road_network(lake)
    assert [f["properties"]["road_type"] for f in full["features"]] == ["primary", "residential", "service"]
    assert all(len(f["geometry"]["coordinates"]) <= 4 for f in full["features"])  # 400 wiggles -> a line
    assert full["features"][0]["geometry"]["coordinates"][0] == [165.0, -21.5]
    budget = road_network(lake, tolerance_deg=0.0, max_vertices=500)
    assert [f["properties"]["road_type"] for f in budget["features"]] == ["primary"]


def test_no_roads_table_means_no_road_layer(lake):
    assert road_network(lake) is None


def test_land_outline_closes_every_ring():
    land = land_outline()
    assert land["features"][0]["properties"]["name"] == "Grande Terre"
    for feature in land["features"]:
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) >= 4
        assert all(163 < lon < 169 and -23 < lat < -19 for lon, lat in ring)


def test_heat_image_is_hottest_where_the_day_is_riskiest():
    from matplotlib.image import imread

    preds = synthetic_predictions(n_points=30, day=DAY)
    hot = preds["point_id"] == preds["point_id"].iloc[0]
    preds.loc[hot, "probability"] *= 50  # one point dominates the day
    uri, ((south, west), (north, east)) = heat_image(preds)
    image = imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), format="png")
    # YlOrRd darkens to red as risk grows: the hottest pixel has the least green
    green = np.where(image[..., 3] > 0, image[..., 1], np.inf)
    row, col = np.unravel_index(np.argmin(green), image.shape[:2])
    lat = north - (row + 0.5) / image.shape[0] * (north - south)
    lon = west + (col + 0.5) / image.shape[1] * (east - west)
    target = preds[hot].iloc[0]
    assert abs(lat - target.lat) < 0.03 and abs(lon - target.lon) < 0.03
    assert image[..., 3].min() == 0  # low risk is transparent: the land stays readable


def test_map_fits_the_drawn_markers_and_roads(tmp_path):
    preds = synthetic_predictions(n_points=20, day=DAY)
    roads = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"road_type": "primary"},
             "geometry": {"type": "LineString", "coordinates": [[163.9, -20.1], [164.0, -20.2]]}}]}
    html = build_risk_map(preds, date=DAY, atm=1, top_n=2, roads=roads, out_path=tmp_path / "m.html",
                          department=NEW_CALEDONIA).read_text()
    import re

    from pipeline.serving.risk_map import select_markers

    numbers = re.search(r"fitBounds\(\s*\[\[([-0-9.e]+), ([-0-9.e]+)\], \[([-0-9.e]+), ([-0-9.e]+)\]\]", html)
    south, west, north, east = map(float, numbers.groups())
    shown = select_markers(preds, top_n=2)
    # the road stretches the view west and north; markers set south and east (0.02 degree margin)
    assert np.allclose((west, north), (163.88, -20.08))
    assert np.isclose(south, shown["lat"].min() - 0.02) and np.isclose(east, shown["lon"].max() + 0.02)
    assert "road-line" in html and "land-outline" in html and "risk-heat" in html


def test_the_map_requests_nothing_offline_shows_one_mean_and_marks_demo_data(tmp_path):
    import re

    preds = synthetic_predictions(n_points=20, day=DAY)
    html = build_risk_map(preds, date=DAY, atm=1, top_n=2, out_path=tmp_path / "m.html",
                          department=NEW_CALEDONIA).read_text()
    # no tile layer: no tile URL template, no OpenStreetMap attribution without tiles
    assert "L.tileLayer(" not in html and "{z}" not in html and "openstreetmap" not in html.lower()
    assert not re.search(r"""<(?:script|link|img)[^>]+(?:src|href)=["']?https?://""", html)
    means = re.findall(r"[Mm]oyen(?:ne)? : ([0-9.]+)", html)
    assert means == [f"{preds['probability'].mean():.6f}"]  # one mean risk figure: the day's
    assert "synthetic-banner" not in html
    demo = build_risk_map(preds, date=DAY, atm=1, top_n=2, out_path=tmp_path / "d.html", department=NEW_CALEDONIA,
                          synthetic=True).read_text()
    assert "id='synthetic-banner'" in demo and "SYNTHETIC demo data" in demo
