"""Hourly risk map of one day of predictions: a self-contained Folium HTML page that works offline.

- 24 hourly layers ("00:00" ... "23:00") in a layer control, one shown at a time (radio buttons);
  the most dangerous hour is shown first.
- Which point-hours are drawn: `mode="top_n"` keeps the `top_n` riskiest points of every hour;
  `mode="threshold"` keeps point-hours whose probability reaches the day's `threshold_percentile`.
- Risk classes (marker colour) are terciles of probability among the markers drawn on the map:
  red = top third, orange = middle third, yellow = bottom third. The classes are relative to what is
  shown; the popup gives the absolute probability and the risk index (probability / day's mean).
- Leaflet 1.9.4 (BSD-2, vendored in `map_assets/`) is inlined; Folium's CDN links (Leaflet, jQuery,
  Bootstrap, awesome-markers) are dropped because circle markers need only Leaflet. No tile layer:
  the page requests nothing from the network.
- The basemap is the lake's own data, drawn as vector layers under the markers: the land outline
  (the rough outline of `pipeline.sources.demo.land`, good to ~2 km), the road network of
  bronze.roads simplified (`road_network`, major roads first within a vertex budget) and a heat
  layer of the day's risk (each point's expected accidents over the day, smoothed over ~3 km, drawn
  as one image). The view fits what is drawn.
- One "mean risk" figure: the day's mean probability over every point-hour (the panel of the markers
  shown gives their range only, never a second mean).
- A map built from the synthetic demo data carries a banner saying so (`synthetic=True`).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely
from jinja2 import Template

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import DEP, table_exists
from pipeline.gold.scenarios import SCENARIO_LABELS
from pipeline.sources.demo.land import GRANDE_TERRE, ISLANDS
from pipeline.sources.provenance import SYNTHETIC_NOTICE

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.core.departments import Department

ASSETS_DIR = Path(__file__).parent / "map_assets"
RISK_COLOURS = {"high": "#d7191c", "medium": "#fd8d3c", "low": "#fed976"}
RISK_LABELS = {"high": "élevé (tiers supérieur)", "medium": "moyen (tiers central)", "low": "faible (tiers inférieur)"}
MODES = ("top_n", "threshold")
REQUIRED_COLUMNS = ("hour", "point_id", "lat", "lon", "probability", "risk_index")
# Folium's popup template parses its HTML with jQuery: `$(`<div>...</div>`)[0]`. That single use does
# not justify shipping jQuery, so `$` is defined as "parse this HTML, return [first element]".
JQUERY_PARSE_SHIM = (
    "window.$ = window.$ || function (markup) { var t = document.createElement('template');"
    " t.innerHTML = String(markup).trim(); return [t.content.firstChild]; };"
)


# Panes under Leaflet's overlay pane (z-index 400, where the markers are): land, then heat, then roads.
PANES = {"land": 250, "heat": 300, "roads": 350}
ROAD_ORDER = ("motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential")
MAX_ROAD_VERTICES = 60_000  # ~1 MB of coordinates: the page stays light
ROAD_TOLERANCE_DEG = 0.0005  # ~50 m: invisible at island scale, divides vertices several-fold
HEAT_CELL_DEG = 0.01  # ~1 km cells
HEAT_SIGMA_CELLS = 3.0
# A marker with its popup is ~1.5 kB of HTML and a DOM node: at 0.005 deg a day has ~470,000
# point-hours, whose top decile would make a page no browser opens. Threshold maps keep the riskiest.
MAX_MARKERS = 2_000


def hour_label(hour: int) -> str:
    return f"{int(hour):02d}:00"


def select_markers(
    predictions: pd.DataFrame, *, mode: str = "top_n", top_n: int = 3, threshold_percentile: float = 90.0
) -> pd.DataFrame:
    """The point-hours to draw (see module docstring), with a `risk_class` column added."""
    if mode not in MODES:
        raise AccidentsError(f"map mode {mode!r}: expected one of {', '.join(MODES)}")
    missing = [c for c in REQUIRED_COLUMNS if c not in predictions.columns]
    if missing:
        raise AccidentsError(f"predictions table lacks column(s) {', '.join(missing)}")
    if predictions.empty:
        raise AccidentsError("no predictions to map")
    if mode == "top_n":
        if not 1 <= int(top_n) <= 10:
            raise AccidentsError(f"top_n={top_n}: expected 1..10")
        rank = predictions.groupby("hour")["probability"].rank(method="first", ascending=False)
        shown = predictions[rank <= int(top_n)]
    else:
        if not 0.0 <= float(threshold_percentile) < 100.0:
            raise AccidentsError(f"threshold={threshold_percentile}: expected a percentile in [0, 100)")
        cut = float(np.percentile(predictions["probability"], float(threshold_percentile)))
        shown = predictions[predictions["probability"] >= cut]
        if len(shown) > MAX_MARKERS:
            above = len(shown)
            shown = shown.nlargest(MAX_MARKERS, "probability")
            shown.attrs["above_threshold"] = above
    shown = shown.sort_values(["hour", "probability"], ascending=[True, False]).copy()
    low, high = np.quantile(shown["probability"], [1 / 3, 2 / 3])
    p = shown["probability"].to_numpy()
    shown["risk_class"] = np.where(p >= high, "high", np.where(p >= low, "medium", "low"))
    return shown


def _inline_assets() -> tuple[str, str]:
    """(style tag, script tag) with Leaflet's CSS (layer icons as data URIs) and JS inlined."""
    css = (ASSETS_DIR / "leaflet.css").read_text(encoding="utf-8")
    for image in ("layers-2x.png", "layers.png"):
        data = base64.b64encode((ASSETS_DIR / image).read_bytes()).decode("ascii")
        css = css.replace(f"url(images/{image})", f"url(data:image/png;base64,{data})")
    # Only Leaflet's default pin uses this image (its path probe); circle markers never do.
    css = css.replace("url(images/marker-icon.png)", "none")
    js = (ASSETS_DIR / "leaflet.js").read_text(encoding="utf-8")
    js = "\n".join(line for line in js.splitlines() if not line.startswith("//# sourceMappingURL"))
    return f"<style>{css}</style>", f"<script>{js}</script><script>{JQUERY_PARSE_SHIM}</script>"


def _fmt(value, spec: str = "", missing: str = "n/d") -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return missing
    return html.escape(format(value, spec))


def _why_html(hotspot: dict | None) -> str:
    """A top point of the day: its expected accidents over the day with the 90 % interval, and why."""
    if not hotspot:
        return ""
    interval = hotspot["interval"]
    reasons = "".join(f"<li>{html.escape(r['detail'])} ×{r['ratio']:.1f}</li>" for r in hotspot["reasons"])
    return (f"<div class='risk-why'>Point parmi les plus dangereux du jour : {interval['expected']:.3f} accident(s) "
            f"attendu(s) [{interval['low']:.3f}–{interval['high']:.3f}, 90 %]"
            + (f"<br>Pourquoi :<ul class='reasons'>{reasons}</ul>" if reasons else "") + "</div>")


def _popup_html(row, hotspot: dict | None = None) -> str:
    return (
        f"<div class='risk-popup'><b>{hour_label(row.hour)}</b> — point {int(row.point_id)}<br>"
        f"Accidents attendus : {getattr(row, 'expected_accidents', row.probability):.6f}<br>"
        f"Probabilité : <b class='probability'>{row.probability:.6f}</b> ({row.probability:.4%})<br>"
        f"Indice de risque : {row.risk_index:.2f}<br>"
        f"Route : {_fmt(getattr(row, 'road_type', None))}<br>"
        f"Vitesse limite : {_fmt(getattr(row, 'speed_limit', None), '.0f')} km/h<br>"
        f"Commune : {_fmt(getattr(row, 'com', None))}{_why_html(hotspot)}</div>"
    )


def hotspots_of(totals: pd.DataFrame | None) -> tuple[dict | None, dict[int, dict]]:
    """(the day's total, {point_id: the top point's interval and reasons}) from gold.prediction_totals rows."""
    if totals is None or totals.empty:
        return None, {}
    day = totals[totals["scope"] == "day"]
    points = {int(r.key): {"interval": {"expected": r.expected, "low": r.low, "high": r.high},
                           "reasons": json.loads(r.reasons or "[]")}
              for r in totals[totals["scope"] == "hotspot"].itertuples(index=False)}
    total = None if day.empty else day.iloc[0][["expected", "low", "high", "count_low", "count_high"]].to_dict()
    return total, points


def _synthetic_banner() -> str:
    return ("<div id='synthetic-banner' class='risk-panel' style='top:10px; left:50%; transform:translateX(-50%);"
            " background:#b30000; color:#fff; font-weight:bold; max-width:none'>"
            f"{html.escape(SYNTHETIC_NOTICE)} — données de démonstration synthétiques, accidents fictifs</div>")


def _expected(predictions: pd.DataFrame) -> pd.Series:
    return predictions["expected_accidents"] if "expected_accidents" in predictions else predictions["probability"]


def _panels_html(predictions: pd.DataFrame, shown: pd.DataFrame, *, date: dt.date, atm: int, mode_text: str,
                 day_total: dict | None = None) -> str:
    """Statistics, global summary, colour legend and per-hour table, as fixed HTML panels."""
    per_hour = predictions.assign(_expected=_expected(predictions)).groupby("hour").agg(
        sum=("_expected", "sum"), max=("probability", "max"))
    drawn = shown.groupby("hour").size().reindex(range(24), fill_value=0)
    worst = int(per_hour["sum"].idxmax())
    p_shown = shown["probability"]
    rows = "".join(
        f"<tr><td>{hour_label(h)}</td><td>{int(drawn[h])}</td>"
        f"<td>{per_hour['sum'].get(h, 0.0):.3f}</td><td>{per_hour['max'].get(h, 0.0):.5f}</td></tr>"
        for h in range(24)
    )
    legend = "".join(
        f"<div><span class='swatch' style='background:{RISK_COLOURS[k]}'></span>{RISK_LABELS[k]}</div>"
        for k in ("high", "medium", "low")
    )
    weather = html.escape(SCENARIO_LABELS.get(int(atm), str(atm)))
    return f"""
<style>
.risk-panel {{position:fixed; z-index:1000; background:rgba(255,255,255,.93); padding:8px 10px;
  border-radius:6px; box-shadow:0 1px 5px rgba(0,0,0,.4); font:12px/1.4 sans-serif; max-width:260px}}
.risk-panel h4 {{margin:0 0 4px; font-size:13px}}
.risk-panel table {{border-collapse:collapse}} .risk-panel td, .risk-panel th {{padding:0 4px; text-align:right}}
.swatch {{display:inline-block; width:12px; height:12px; border-radius:6px; margin-right:6px; vertical-align:middle}}
</style>
<div id="risk-stats" class="risk-panel" style="top:10px; left:50px">
  <h4>Risque d'accident — {date.isoformat()}</h4>
  <div>Météo : {weather} (atm={int(atm)}) · {html.escape(mode_text)}</div>
  <div>Points affichés : <b id="stat-count">{len(shown)}</b></div>
  <div>Probabilité des points affichés, min / max : <span id="stat-proba">{p_shown.min():.5f} / {p_shown.max():.5f}</span></div>
</div>
<div id="risk-summary" class="risk-panel" style="bottom:48px; left:10px">
  <h4>Résumé de la journée</h4>
  <div>Heure la plus dangereuse : <b id="summary-worst-hour">{hour_label(worst)}</b></div>
  <div>Accidents attendus : <b id="summary-expected">{_expected(predictions).sum():.2f}</b>{
      f" [{day_total['low']:.2f}–{day_total['high']:.2f}, 90 %] · entre {int(day_total['count_low'])} et "
      f"{int(day_total['count_high'])} accident(s)" if day_total else ""}</div>
  <div>Risque moyen : {predictions['probability'].mean():.6f} · max : {predictions['probability'].max():.5f}</div>
  <div style="margin-top:4px">{legend}</div>
  <details><summary>Par heure</summary>
  <table id="hourly-table"><tr><th>heure</th><th>points</th><th>attendus</th><th>max</th></tr>{rows}</table>
  </details>
</div>"""


def road_network(con, *, tolerance_deg: float = ROAD_TOLERANCE_DEG,
                 max_vertices: int = MAX_ROAD_VERTICES) -> dict | None:
    """bronze.roads simplified, as a GeoJSON FeatureCollection of LineStrings; road types are taken in
    ROAD_ORDER (others last) while the vertex budget lasts. None when the lake has no roads."""
    if not table_exists(con, "bronze.roads"):
        return None
    frame = con.execute(f"SELECT road_type, geometry_wkt FROM bronze.roads WHERE dep = {DEP}").df()
    if frame.empty:
        return None
    geoms = shapely.simplify(shapely.from_wkt(frame["geometry_wkt"].to_numpy()), tolerance_deg)
    counts = shapely.get_num_coordinates(geoms)
    rank = {t: i for i, t in enumerate(ROAD_ORDER)}
    frame = frame.assign(_rank=frame["road_type"].map(rank).fillna(len(ROAD_ORDER)), _n=counts)
    features, used = [], 0
    for _, group in frame.groupby("_rank", sort=True):
        if used + int(group["_n"].sum()) > max_vertices and features:
            break
        used += int(group["_n"].sum())
        for i, road_type in zip(group.index, group["road_type"]):
            coords = np.round(shapely.get_coordinates(geoms[i]), 5).tolist()
            if len(coords) >= 2:
                features.append({"type": "Feature", "properties": {"road_type": road_type},
                                 "geometry": {"type": "LineString", "coordinates": coords}})
    return {"type": "FeatureCollection", "features": features}


def land_outline() -> dict:
    """Grande Terre and the islands as a GeoJSON FeatureCollection of Polygons (lon, lat)."""
    shapes = {"Grande Terre": GRANDE_TERRE, **ISLANDS}
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": name},
         "geometry": {"type": "Polygon", "coordinates": [[[lon, lat] for lat, lon in (*ring, ring[0])]]}}
        for name, ring in shapes.items()]}


def heat_image(predictions: pd.DataFrame) -> tuple[str, tuple[tuple[float, float], tuple[float, float]]]:
    """(PNG data URI, ((south, west), (north, east))): each point's expected accidents over the day,
    smoothed; transparent where the risk is low, yellow to red where it concentrates."""
    from matplotlib import colormaps
    from matplotlib.image import imsave
    from scipy.ndimage import gaussian_filter

    per_point = predictions.groupby(["lat", "lon"], as_index=False)["probability"].sum()
    pad = HEAT_SIGMA_CELLS * HEAT_CELL_DEG * 3
    south, north = per_point["lat"].min() - pad, per_point["lat"].max() + pad
    west, east = per_point["lon"].min() - pad, per_point["lon"].max() + pad
    rows = min(800, max(8, int(np.ceil((north - south) / HEAT_CELL_DEG))))
    cols = min(800, max(8, int(np.ceil((east - west) / HEAT_CELL_DEG))))
    grid, _, _ = np.histogram2d(per_point["lat"], per_point["lon"], bins=(rows, cols),
                                range=((south, north), (west, east)), weights=per_point["probability"])
    grid = gaussian_filter(grid, HEAT_SIGMA_CELLS)[::-1]  # image rows run north to south
    peak = grid.max()
    # square root: a town's peak does not hide the rest of the island's risk
    level = np.sqrt(grid / peak) if peak > 0 else grid
    rgba = colormaps["YlOrRd"](0.2 + 0.8 * level)
    rgba[..., 3] = np.where(level < 0.08, 0.0, np.clip(level * 1.3, 0.0, 0.8))  # low risk fades out
    buffer = io.BytesIO()
    imsave(buffer, rgba, format="png")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/png;base64,{data}", ((float(south), float(west)), (float(north), float(east)))


def _vector_layers_js(map_name: str, control_name: str, *, land: dict | None, roads: dict | None,
                      heat: tuple | None) -> str:
    """Panes, land, heat and roads added under the markers, each one an overlay in the layer control."""
    lines = [f"(function () {{ var map = {map_name}, control = {control_name};"]
    for pane, z in PANES.items():
        lines.append(f"map.createPane('{pane}').style.zIndex = {z}; map.getPane('{pane}').style.pointerEvents = 'none';")
    if land is not None:
        lines.append(
            f"control.addOverlay(L.geoJSON({json.dumps(land)}, {{pane: 'land', interactive: false, "
            "style: {color: '#8c9a7a', weight: 1, fillColor: '#e8eedc', fillOpacity: 1, className: 'land-outline'}"
            "}).addTo(map), 'Terres');")
    if heat is not None:
        uri, ((south, west), (north, east)) = heat
        lines.append(
            f"control.addOverlay(L.imageOverlay('{uri}', [[{south}, {west}], [{north}, {east}]], "
            "{pane: 'heat', opacity: 0.8, interactive: false, className: 'risk-heat'}).addTo(map), "
            "'Chaleur (risque du jour)');")
    if roads is not None:
        lines.append(
            f"control.addOverlay(L.geoJSON({json.dumps(roads, separators=(',', ':'))}, {{pane: 'roads', "
            "interactive: false, style: function (f) { var major = ['motorway','trunk','primary']"
            ".indexOf(f.properties.road_type) >= 0; return {color: major ? '#7a6a58' : '#a79c8f', "
            "weight: major ? 2 : 1, opacity: 0.9, className: 'road-line'}; }}).addTo(map), 'Routes');")
    lines.append("})();")
    return "\n".join(lines)


def _script_after(fmap, js: str) -> None:
    """Add `js` to the map's script after the children added so far (the layer control must exist)."""
    from branca.element import MacroElement

    element = MacroElement()
    element._name = "VectorLayers"
    element._template = Template("{% macro script(this, kwargs) %}{{ this.js }}{% endmacro %}")
    element.js = js
    fmap.add_child(element)


def _view_bounds(shown: pd.DataFrame, roads: dict | None) -> list[list[float]]:
    """South-west / north-east corners of the markers and roads drawn, with a small margin."""
    lat, lon = list(shown["lat"]), list(shown["lon"])
    if roads:
        coords = np.array([c for f in roads["features"] for c in f["geometry"]["coordinates"]])
        if len(coords):
            lon += [coords[:, 0].min(), coords[:, 0].max()]
            lat += [coords[:, 1].min(), coords[:, 1].max()]
    margin = 0.02
    return [[min(lat) - margin, min(lon) - margin], [max(lat) + margin, max(lon) + margin]]


def build_risk_map(
    predictions_df: pd.DataFrame,
    *,
    date: dt.date,
    atm: int,
    mode: str = "top_n",
    top_n: int = 3,
    threshold_percentile: float = 90.0,
    out_path: Path | str,
    department: Department,
    roads: dict | None = None,
    land: bool = True,
    heat: bool = True,
    synthetic: bool = False,
    totals: pd.DataFrame | None = None,
) -> Path:
    """Write the map of one day's predictions (one row per point-hour) to `out_path`; returns it.
    `roads`: a GeoJSON FeatureCollection (see `road_network`); `land` / `heat`: draw those layers (the
    land outline exists for New Caledonia, 988, only); `synthetic`: the banner of demo data; `totals`:
    the day's gold.prediction_totals rows (the day's interval, and the top points' intervals and reasons
    in their popups)."""
    import folium

    shown = select_markers(predictions_df, mode=mode, top_n=top_n, threshold_percentile=threshold_percentile)
    mode_text = f"top {int(top_n)} par heure" if mode == "top_n" else f"probabilité ≥ centile {threshold_percentile:g}"
    if "above_threshold" in shown.attrs:
        mode_text += f" (les {len(shown):,} plus élevés sur {shown.attrs['above_threshold']:,})".replace(",", "\u202f")
    per_hour = predictions_df.groupby("hour")["probability"].sum()
    first_hour = int(per_hour.idxmax())
    day_total, hotspots = hotspots_of(totals)

    (south, west), (north, east) = department.bounds
    fmap = folium.Map(location=((south + north) / 2, (west + east) / 2), zoom_start=8, tiles=None, control_scale=True)
    fmap.default_js, fmap.default_css = [], []  # instance-level: no CDN; Leaflet is inlined below
    style, script = _inline_assets()
    root = fmap.get_root()
    root.header.add_child(folium.Element(style), name="leaflet_css_inline")
    root.header.add_child(folium.Element(script), name="leaflet_js_inline")
    root.title = f"Risque d'accident {date.isoformat()}"
    groups = {
        h: folium.FeatureGroup(name=hour_label(h), overlay=False, show=(h == first_hour)).add_to(fmap)
        for h in range(24)
    }
    for row in shown.itertuples(index=False):
        colour = RISK_COLOURS[row.risk_class]
        folium.CircleMarker(
            location=(float(row.lat), float(row.lon)),
            radius=7,
            color="#333333",
            weight=1,
            fill=True,
            fill_color=colour,
            fill_opacity=0.9,
            popup=folium.Popup(_popup_html(row, hotspots.get(int(row.point_id))), max_width=280),
            tooltip=f"{hour_label(row.hour)} · p={row.probability:.5f}",
            className=f"risk-marker risk-{row.risk_class} hour-{int(row.hour):02d}",
        ).add_to(groups[int(row.hour)])
    control = folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    _script_after(fmap, _vector_layers_js(
        fmap.get_name(), control.get_name(), land=land_outline() if land and department.code == "988" else None, roads=roads,
        heat=heat_image(predictions_df) if heat else None))
    fmap.fit_bounds(_view_bounds(shown, roads))
    root.html.add_child(folium.Element(_panels_html(predictions_df, shown, date=date, atm=atm, mode_text=mode_text,
                                                    day_total=day_total)))
    if synthetic:
        root.html.add_child(folium.Element(_synthetic_banner()))

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fmap.save(str(out))
    return out
