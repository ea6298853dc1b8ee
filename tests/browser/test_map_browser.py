"""A real headless Chromium opens a generated risk map with every non-local request blocked."""

import datetime as dt
import re

import pytest

from tests.browser.map_driver import missing_requirements, open_map
from tests.predictions.conftest import synthetic_predictions

pytestmark = pytest.mark.skipif(missing_requirements() is not None, reason=str(missing_requirements()))

DAY = dt.date(2026, 3, 2)


def test_map_layers_markers_and_popup_work_offline(tmp_path):
    from pipeline.core.departments import NEW_CALEDONIA
    from pipeline.serving.risk_map import RISK_COLOURS, build_risk_map

    preds = synthetic_predictions(n_points=80, day=DAY)
    html = build_risk_map(preds, date=DAY, atm=1, mode="top_n", top_n=4, out_path=tmp_path / "map.html", department=NEW_CALEDONIA)
    shot = tmp_path / "map.png"
    seen = open_map(html, "05:00", shot)

    assert seen["consoleErrors"] == []
    assert seen["layers"] == [f"{h:02d}:00" for h in range(24)]
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
