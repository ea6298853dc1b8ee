"""A real headless Chromium opens a generated risk map with every non-local request blocked."""

import datetime as dt
import re

import pytest

from tests.browser.map_driver import missing_requirements, open_map
from tests.predictions.conftest import synthetic_predictions

pytestmark = pytest.mark.skipif(missing_requirements() is not None, reason=str(missing_requirements()))

DAY = dt.date(2026, 3, 2)


def synthetic_roads(preds) -> dict:
    """Two roads through the predicted points, as road_network() returns them."""
    points = preds.drop_duplicates("point_id").sort_values("lon")
    coords = points[["lon", "lat"]].to_numpy().round(5).tolist()
    half = len(coords) // 2
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"road_type": kind}, "geometry": {"type": "LineString", "coordinates": part}}
        for kind, part in (("primary", coords[:half]), ("residential", coords[half:]))]}


def test_map_layers_markers_and_popup_work_offline(tmp_path):
    from pipeline.core.departments import NEW_CALEDONIA
    from pipeline.serving.risk_map import PANES, RISK_COLOURS, build_risk_map
    from pipeline.sources.demo.land import ISLANDS

    preds = synthetic_predictions(n_points=80, day=DAY)
    html = build_risk_map(preds, date=DAY, atm=1, mode="top_n", top_n=4, out_path=tmp_path / "map.html",
                          department=NEW_CALEDONIA, roads=synthetic_roads(preds))
    shot = tmp_path / "map.png"
    seen = open_map(html, "05:00", shot)

    assert seen["consoleErrors"] == []
    assert seen["layers"] == [f"{h:02d}:00" for h in range(24)] + ["Terres", "Chaleur (risque du jour)", "Routes"]
    # land, heat and roads render offline, each in a pane under the markers'
    assert seen["landShapes"] == 1 + len(ISLANDS) and seen["roadLines"] == 2
    assert len(seen["heat"]) == 1 and seen["heat"][0]["loaded"] and seen["heat"][0]["width"] > 100
    assert seen["paneZ"] == {**PANES, "overlay": 400}
    assert seen["markersInView"]
    assert seen["initiallyVisible"] == ["hour-17"]  # the day's most dangerous hour opens first
    # after choosing 05:00 only that hour's 4 markers are on the map, in the class colours
    assert len(seen["visibleMarkers"]) == 4
    assert all("hour-05" in m["cls"] for m in seen["visibleMarkers"])
    assert {m["fill"] for m in seen["visibleMarkers"]} <= set(RISK_COLOURS.values())
    # the popup of the clicked marker shows one of 05:00's top-4 probabilities
    assert seen["popupText"].startswith("05:00")
    shown = re.search(r"Probabilité : ([0-9.]+)", seen["popupText"]).group(1)
    top4 = preds[preds["hour"] == 5].nlargest(4, "probability")["probability"]
    assert shown in {f"{p:.6f}" for p in top4}
    assert "Points affichés : 96" in seen["statsText"]
    # only background tiles went to the internet (and were blocked); Leaflet itself is inlined
    assert all("tile.openstreetmap.org" in url for url in seen["blockedRequests"])
    assert shot.stat().st_size > 20_000
