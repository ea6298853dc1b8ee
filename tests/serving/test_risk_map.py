import datetime as dt
import re

import numpy as np
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.core.departments import NEW_CALEDONIA
from pipeline.serving.risk_map import RISK_COLOURS, build_risk_map, select_markers
from tests.support.predictions import synthetic_predictions

DAY = dt.date(2026, 3, 2)


@pytest.fixture(scope="module")
def preds():
    return synthetic_predictions(n_points=60, day=DAY)


@pytest.fixture(scope="module")
def top3_html(preds, tmp_path_factory):
    out = tmp_path_factory.mktemp("map") / "m.html"
    assert build_risk_map(preds, date=DAY, atm=1, top_n=3, out_path=out, department=NEW_CALEDONIA) == out
    return out.read_text(encoding="utf-8")


def test_24_hourly_layers_in_a_layer_control(top3_html):
    names = re.findall(r'"(\d\d:00)" : feature_group_', top3_html)
    assert names == [f"{h:02d}:00" for h in range(24)]
    assert "L.control.layers(" in top3_html
    # only the most dangerous hour (17:00 in the synthetic data) is displayed at first
    assert top3_html.count("L.featureGroup(") == 24
    shown = re.findall(r"(feature_group_\w+)\.addTo\(map_", top3_html)
    assert len(shown) == 1 and f'"17:00" : {shown[0]}' in top3_html


def test_top_n_draws_n_markers_per_hour_with_probability_popups(preds, top3_html):
    assert top3_html.count("L.circleMarker(") == 24 * 3
    popups = re.findall(r"Probabilité : <b class='probability'>([0-9.]+)</b>", top3_html)
    assert len(popups) == 72
    best = preds.loc[preds.groupby("hour")["probability"].idxmax(), "probability"]
    assert {f"{p:.6f}" for p in best} <= set(popups)
    assert "Indice de risque" in top3_html and "Vitesse limite : 110 km/h" in top3_html
    assert "Route : primary" in top3_html


def test_colours_follow_probability_terciles(preds):
    shown = select_markers(preds, mode="top_n", top_n=3)
    order = {"low": 0, "medium": 1, "high": 2}
    ranked = shown.sort_values("probability")
    assert ranked["risk_class"].map(order).is_monotonic_increasing
    assert shown["risk_class"].value_counts().between(20, 28).all()


def test_marker_colours_are_the_class_colours(top3_html):
    fills = re.findall(r'"fillColor": "(#[0-9a-f]{6})"', top3_html)
    assert len(fills) == 72 and set(fills) == set(RISK_COLOURS.values())


def test_statistics_summary_and_legend_panels(preds, top3_html):
    assert 'id="risk-stats"' in top3_html and 'id="risk-summary"' in top3_html
    assert re.search(r'id="stat-count">72<', top3_html)
    shown = select_markers(preds, mode="top_n", top_n=3)["probability"]
    assert f"{shown.min():.5f} / {shown.max():.5f}</span>" in top3_html
    assert 'id="summary-worst-hour">17:00<' in top3_html
    assert top3_html.count("<tr><td>") == 24  # per-hour table
    assert all(label in top3_html for label in ("élevé", "moyen", "faible"))


def test_no_cdn_scripts_or_stylesheets_and_leaflet_inlined(top3_html):
    assert not re.search(r"<script[^>]+src=[\"']?(https?:)?//", top3_html)
    assert not re.search(r"<link[^>]+href=[\"']?(https?:)?//", top3_html)
    assert "jquery" not in top3_html.lower() and "bootstrap" not in top3_html.lower()
    assert "Leaflet 1.9.4" in top3_html and ".leaflet-control-layers" in top3_html
    assert "url(images/" not in top3_html


def test_threshold_mode_keeps_point_hours_above_the_percentile(preds, tmp_path):
    shown = select_markers(preds, mode="threshold", threshold_percentile=95)
    cut = np.percentile(preds["probability"], 95)
    assert (shown["probability"] >= cut).all()
    assert len(shown) == (preds["probability"] >= cut).sum()
    html = build_risk_map(preds, date=DAY, atm=2, mode="threshold", threshold_percentile=95,
                          out_path=tmp_path / "t.html", department=NEW_CALEDONIA).read_text()
    assert html.count("L.circleMarker(") == len(shown)
    assert "Pluie légère" in html


@pytest.mark.parametrize("kw", [{"top_n": 0}, {"top_n": 11}, {"mode": "all"},
                                {"mode": "threshold", "threshold_percentile": 100}])
def test_bad_map_parameters(preds, tmp_path, kw):
    with pytest.raises(AccidentsError):
        build_risk_map(preds, date=DAY, atm=1, out_path=tmp_path / "x.html", department=NEW_CALEDONIA, **kw)


def test_empty_predictions_are_a_user_error(preds, tmp_path):
    with pytest.raises(AccidentsError, match="no predictions"):
        build_risk_map(preds.iloc[:0], date=DAY, atm=1, out_path=tmp_path / "x.html", department=NEW_CALEDONIA)


def test_the_only_jquery_use_is_popup_parsing_which_the_shim_covers(top3_html):
    uses = re.findall(r"\$\(([`\w])", top3_html)
    assert uses and set(uses) == {"`"}  # $(`<div ...>`)[0] only, never $(document) or $(selector)
    assert "window.$ = window.$ || function (markup)" in top3_html


def test_a_fine_grid_threshold_map_keeps_the_riskiest_markers_and_a_light_page(tmp_path):
    """At 0.005 deg a day has ~470,000 point-hours: its top decile would be ~47,000 markers."""
    from pipeline.serving import risk_map

    day = synthetic_predictions(n_points=4_000)  # 96,000 point-hours: 9,600 above the 90th centile
    shown = select_markers(day, mode="threshold", threshold_percentile=90)
    assert len(shown) == risk_map.MAX_MARKERS < (day["probability"] >= np.percentile(day["probability"], 90)).sum()
    assert shown["probability"].min() >= day["probability"].nlargest(risk_map.MAX_MARKERS).min()
    page = build_risk_map(day, date=DAY, atm=1, mode="threshold", threshold_percentile=90,
                          out_path=tmp_path / "fine.html", department=NEW_CALEDONIA)
    html = page.read_text()
    assert html.count("L.circleMarker(") == risk_map.MAX_MARKERS
    assert "plus élevés sur" in html
    assert page.stat().st_size < 8_000_000
